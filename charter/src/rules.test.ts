import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { CharterError, charterClauses, evaluateCompliance, parseDeclaration } from './index.ts';
import type { CheckResultLike, ClauseResult, Declaration } from './index.ts';
import { PASSING_CHECKS, aCheck, aDeclaration } from './testing/declarations.fixture.ts';

function clause(declaration: Declaration, id: string, checks: CheckResultLike[] = PASSING_CHECKS): ClauseResult {
  const found = evaluateCompliance(declaration, checks).clauses.find((c) => c.id === id);
  assert.ok(found, `no clause ${id}`);
  return found;
}

function withRetention(over: Partial<Declaration['retention']>): Declaration {
  const d = aDeclaration();
  return { ...d, retention: { ...d.retention, ...over } };
}

function withLogging(over: Partial<Declaration['logging']>): Declaration {
  const d = aDeclaration({ retention: { messagesDays: null, logsDays: 90, backupsDays: 30, deletedAccountDays: 7 } });
  return { ...d, logging: { ...d.logging, ...over } };
}

describe('evaluateCompliance: the whole charter', () => {
  it('a model declaration with passing checks meets every clause with full points', () => {
    const result = evaluateCompliance(aDeclaration(), PASSING_CHECKS);
    assert.equal(result.charterVersion, '1.0');
    assert.equal(result.mandatoryMet, true);
    assert.deepEqual(
      result.clauses.filter((c) => c.status !== 'met'),
      [],
    );
    assert.equal(result.points, 100);
    assert.equal(result.maxPoints, 100);
    assert.deepEqual(
      result.clauses.map((c) => c.id),
      charterClauses('1.0').map((c) => c.id),
    );
    for (const c of result.clauses) assert.ok(c.evidence.length > 20, `${c.id} explains itself`);
  });

  it('the registry fixture declaration (FR, 14-day logs, both key options) is labellable with fewer points', () => {
    const parsed = parseDeclaration({
      charterVersion: '1.0',
      domain: 'alpha.test',
      jurisdiction: 'FR',
      retention: { messagesDays: null, logsDays: 14, backupsDays: 30, deletedAccountDays: 30 },
      logging: { ipAddresses: false, messageMetadata: false, retentionDays: 14 },
      keyStorageOptions: ['client', 'server'],
      noResaleOfUserData: true,
      noProfilingOrAds: true,
      spamHandling: { contentScanning: 'local' },
      adminContact: { name: 'Admin', email: 'admin@alpha.test' },
      incidentDisclosureDays: 3,
      doesEmail: true,
    });
    assert.ok(parsed.ok);
    const result = evaluateCompliance(parsed.value, PASSING_CHECKS);
    assert.equal(result.mandatoryMet, true);
    assert.equal(result.points, 100 - 3 - 2); // logs 14 days: 5/8; deleted accounts within 30 days: 4/6
  });

  it('refuses charter versions that were never published', () => {
    for (const version of ['9.9', '1.0.0', '', '__proto__', 'constructor', 'toString']) {
      assert.throws(
        () => evaluateCompliance(aDeclaration({ charterVersion: version }), PASSING_CHECKS),
        (err: unknown) => err instanceof CharterError && err.code === 'charter_version_unknown',
        version,
      );
    }
    assert.throws(() => charterClauses('2.0'), CharterError);
  });

  it('without any check result, the verified clauses are unknown and no label can be granted', () => {
    const result = evaluateCompliance(aDeclaration(), []);
    assert.equal(clause(aDeclaration(), 'C6.transport-security', []).status, 'unknown');
    assert.equal(clause(aDeclaration(), 'C7.dns-configuration', []).status, 'unknown');
    assert.match(clause(aDeclaration(), 'C6.transport-security', []).evidence, /no tls\.\* check/);
    assert.equal(result.mandatoryMet, false);
    assert.equal(result.points, 100 - 15 - 10);
  });

  it('ignores check results that are not check-shaped, and never throws on them', () => {
    const junk = [
      null,
      1,
      'tls.x',
      { id: 5, status: 'pass' },
      { id: 'tls.x', status: 'PASS' },
      { id: 'tls.x' },
      aCheck('tls.ok', 'pass'),
    ] as unknown as CheckResultLike[];
    const c6 = clause(aDeclaration(), 'C6.transport-security', junk);
    assert.equal(c6.status, 'met');
    assert.match(c6.evidence, /1 of 1 tls\.\* checks passed/);
    assert.doesNotThrow(() => evaluateCompliance(aDeclaration(), null as unknown as CheckResultLike[]));
  });
});

describe('evaluateCompliance: clause by clause', () => {
  it('C1: a declaration that allows selling user data fails a mandatory clause', () => {
    const result = evaluateCompliance(aDeclaration({ noResaleOfUserData: false }), PASSING_CHECKS);
    const c1 = result.clauses.find((c) => c.id === 'C1.no-resale')!;
    assert.equal(c1.status, 'unmet');
    assert.equal(c1.mandatory, true);
    assert.match(c1.evidence, /noResaleOfUserData: false/);
    assert.equal(result.mandatoryMet, false);
  });

  it('C2: profiling or advertising fails a mandatory clause', () => {
    const result = evaluateCompliance(aDeclaration({ noProfilingOrAds: false }), PASSING_CHECKS);
    assert.equal(result.clauses.find((c) => c.id === 'C2.no-profiling')!.status, 'unmet');
    assert.equal(result.mandatoryMet, false);
  });

  it('C3: retention beyond the limits is unmet and earns nothing; shorter retention earns more', () => {
    for (const [over, needle] of [
      [{ logsDays: 366 }, /operational logs are kept 366 days \(limit 365\)/],
      [{ backupsDays: 181 }, /backups are kept 181 days \(limit 180\)/],
      [{ deletedAccountDays: 91 }, /deleted account's data is kept 91 days \(limit 90\)/],
    ] as const) {
      const c3 = clause(withRetention(over), 'C3.retention-limits');
      assert.equal(c3.status, 'unmet');
      assert.equal(c3.points, 0);
      assert.match(c3.evidence, needle);
    }
    assert.equal(
      clause(withRetention({ logsDays: 365, backupsDays: 180, deletedAccountDays: 90 }), 'C3.retention-limits').status,
      'met',
    );
    const points = (over: Partial<Declaration['retention']>) =>
      clause(withRetention(over), 'C3.retention-limits').points;
    assert.equal(points({}), 20);
    assert.equal(points({ logsDays: 30 }), 17);
    assert.equal(points({ logsDays: 90 }), 14);
    assert.equal(points({ logsDays: 91 }), 12);
    assert.equal(points({ backupsDays: 90 }), 17);
    assert.equal(points({ backupsDays: 91 }), 14);
    assert.equal(points({ deletedAccountDays: 30 }), 18);
    assert.equal(points({ deletedAccountDays: 90 }), 15);
    assert.equal(points({ logsDays: 365, backupsDays: 180, deletedAccountDays: 90 }), 1);
    assert.match(
      clause(withRetention({ messagesDays: 730 }), 'C3.retention-limits').evidence,
      /messages are deleted after 730 days/,
    );
  });

  it('C4: logging IP addresses or metadata costs points, and so does keeping them long', () => {
    const c4 = (over: Partial<Declaration['logging']>) => clause(withLogging(over), 'C4.logging-limits');
    assert.deepEqual([c4({}).status, c4({}).points], ['met', 15]);
    assert.deepEqual([c4({ retentionDays: 90 }).points], [15], 'nothing personal logged: retention does not matter');
    assert.deepEqual(
      [c4({ ipAddresses: true, retentionDays: 7 }).status, c4({ ipAddresses: true, retentionDays: 7 }).points],
      ['unmet', 9],
    );
    assert.equal(c4({ ipAddresses: true, retentionDays: 30 }).points, 7);
    assert.equal(c4({ ipAddresses: true, messageMetadata: true, retentionDays: 90 }).points, 0);
    assert.match(c4({ ipAddresses: true, retentionDays: 30 }).evidence, /IP addresses \(0\/6\).*kept 30 days \(1\/3\)/);
  });

  it('C5: without client-side key storage, fewer points, and the evidence says what it costs', () => {
    const both = evaluateCompliance(aDeclaration({ keyStorageOptions: ['client', 'server'] }), PASSING_CHECKS);
    const clientOnly = evaluateCompliance(aDeclaration({ keyStorageOptions: ['client'] }), PASSING_CHECKS);
    const serverOnly = evaluateCompliance(aDeclaration({ keyStorageOptions: ['server'] }), PASSING_CHECKS);
    const c5 = (r: typeof both) => r.clauses.find((c) => c.id === 'C5.key-storage')!;
    assert.equal(c5(both).points, 25);
    assert.equal(c5(clientOnly).points, 25);
    assert.equal(c5(serverOnly).points, 5);
    assert.equal(c5(serverOnly).status, 'unmet');
    assert.equal(serverOnly.mandatoryMet, true, 'key storage is scored, not mandatory');
    assert.ok(serverOnly.points < both.points);
    assert.match(c5(serverOnly).evidence, /can decrypt their mail/);
    assert.match(c5(clientOnly).evidence, /server-side search/);
  });

  it('C6: failing TLS checks make the TLS clause unmet, and no label can be granted', () => {
    const checks = [
      ...PASSING_CHECKS.filter((c) => c.id !== 'tls.certificate.san'),
      aCheck('tls.certificate.san', 'fail', {
        evidence: 'certificate SAN [other.test] does not cover mail.example.org',
      }),
    ];
    const result = evaluateCompliance(aDeclaration(), checks);
    const c6 = result.clauses.find((c) => c.id === 'C6.transport-security')!;
    assert.equal(c6.status, 'unmet');
    assert.equal(c6.points, 0);
    assert.match(
      c6.evidence,
      /tls\.certificate\.san: certificate SAN \[other\.test\] does not cover mail\.example\.org/,
    );
    assert.equal(result.mandatoryMet, false);
    // A failing non-mandatory TLS check fails the clause too: the charter asks that none fails.
    assert.equal(
      clause(aDeclaration(), 'C6.transport-security', [
        aCheck('tls.cert', 'pass'),
        aCheck('tls.version13', 'fail', { mandatory: false }),
      ]).status,
      'unmet',
    );
  });

  it('C6: notices earn half, info results do not count, and other families do not leak in', () => {
    const c6 = (checks: CheckResultLike[]) => clause(aDeclaration(), 'C6.transport-security', checks);
    assert.deepEqual(
      [
        c6([aCheck('tls.a', 'pass'), aCheck('tls.b', 'notice')]).status,
        c6([aCheck('tls.a', 'pass'), aCheck('tls.b', 'notice')]).points,
      ],
      ['met', 11],
    );
    assert.equal(c6([aCheck('tls.a', 'info')]).status, 'unknown');
    assert.equal(c6([aCheck('tls.a', 'pass'), aCheck('tls.b', 'info')]).points, 15);
    assert.equal(c6([aCheck('tls.a', 'pass'), aCheck('tlsx.a', 'fail'), aCheck('dns.tls', 'fail')]).status, 'met');
    assert.equal(c6([aCheck('tls', 'pass')]).status, 'met');
  });

  it('C7: DNS checks give partial credit, and the evidence names what failed', () => {
    const checks = [
      aCheck('dns.mx', 'pass'),
      aCheck('dns.spf', 'pass'),
      aCheck('dns.dmarc', 'fail', { evidence: 'no DMARC record at _dmarc.mail.example.org' }),
      aCheck('dns.mta-sts', 'notice'),
    ];
    const c7 = clause(aDeclaration(), 'C7.dns-configuration', checks);
    assert.equal(c7.status, 'unmet');
    assert.equal(c7.points, 6); // (2 + 0.5) / 4 of 10
    assert.match(c7.evidence, /dns\.dmarc: no DMARC record/);
    assert.match(c7.evidence, /handles email/);
    assert.match(clause(aDeclaration({ doesEmail: false }), 'C7.dns-configuration').evidence, /does not handle email/);
    const notice = clause(aDeclaration(), 'C7.dns-configuration', [
      aCheck('dns.mx', 'pass'),
      aCheck('dns.tlsa', 'notice'),
    ]);
    assert.deepEqual([notice.status, notice.points], ['unmet', 7], 'a scored clause is met only with full points');
  });

  it('C8: spam filtering by a data-exploiting provider fails a mandatory clause; another third party earns less', () => {
    const third = (thirdParty: string) =>
      aDeclaration({ spamHandling: { contentScanning: 'third-party', thirdParty } });
    for (const name of ['Google Workspace spam filtering', 'filter.mail.protection.outlook.com', 'GMX', 'gmail.com']) {
      const c8 = clause(third(name), 'C8.spam-handling');
      assert.equal(c8.status, 'unmet', name);
      assert.equal(c8.points, 0);
      assert.match(c8.evidence, /data-exploiting provider/);
      assert.equal(evaluateCompliance(third(name), PASSING_CHECKS).mandatoryMet, false);
    }
    const other = clause(third('SpamExperts'), 'C8.spam-handling');
    assert.deepEqual([other.status, other.points], ['met', 3]);
    assert.equal(clause(aDeclaration({ spamHandling: { contentScanning: 'none' } }), 'C8.spam-handling').points, 10);
    assert.equal(clause(aDeclaration({ spamHandling: { contentScanning: 'local' } }), 'C8.spam-handling').points, 10);
    // "Googleplex Filters Ltd" is not Google: brand words match whole words only.
    assert.equal(clause(third('Googleplex Filters Ltd'), 'C8.spam-handling').status, 'met');
  });

  it('C9: incident disclosure beyond 30 days is unmet; sooner earns more', () => {
    const c9 = (n: number) => clause(aDeclaration({ incidentDisclosureDays: n }), 'C9.incident-disclosure');
    assert.deepEqual([c9(31).status, c9(31).points], ['unmet', 0]);
    assert.deepEqual(
      [0, 3, 4, 7, 8, 14, 15, 30].map((n) => c9(n).points),
      [5, 5, 3, 3, 1, 1, 0, 0],
    );
    assert.equal(c9(30).status, 'met');
  });

  it('C10-C12: commitments are met by a valid declaration and say they are reviewed by auditors', () => {
    for (const id of ['C10.admin-accountability', 'C12.key-erasure']) {
      const c = clause(aDeclaration(), id);
      assert.equal(c.status, 'met');
      assert.match(c.evidence, /auditors/);
    }
    assert.equal(clause(withRetention({ deletedAccountDays: 120 }), 'C11.user-rights').status, 'unmet');
    assert.match(
      clause(aDeclaration({ keyStorageOptions: ['server'] }), 'C12.key-erasure').evidence,
      /erased with their account/,
    );
  });

  it('C13: the evidence gives the jurisdiction score, says when it is the default, and names the host', () => {
    assert.match(
      clause(aDeclaration({ jurisdiction: 'DE' }), 'C13.truthful-declaration').evidence,
      /Germany \(DE\), scored 66\/100/,
    );
    assert.match(
      clause(aDeclaration({ jurisdiction: 'MX' }), 'C13.truthful-declaration').evidence,
      /Mexico \(MX\), scored 20\/100 .*not yet assessed/,
    );
    assert.match(
      clause(aDeclaration({ hostingProvider: 'Google Cloud' }), 'C13.truthful-declaration').evidence,
      /Google .* data-exploiting/,
    );
    assert.match(clause(aDeclaration(), 'C13.truthful-declaration').evidence, /runs its own servers/);
    // A declaration that skipped parseDeclaration with an unknown country is not met, and does not throw.
    assert.equal(clause(aDeclaration({ jurisdiction: 'XX' }), 'C13.truthful-declaration').status, 'unmet');
  });

  it('keeps hostile check evidence on one line and short', () => {
    const hostile = aCheck('tls.evil', 'fail', { evidence: `line1\nline2\u0000\u2028${'x'.repeat(10_000)}` });
    const c6 = clause(aDeclaration(), 'C6.transport-security', [hostile]);
    assert.doesNotMatch(c6.evidence, /[\n\u0000\u2028]/);
    assert.ok(c6.evidence.length < 600, `${c6.evidence.length} characters`);
    const many = Array.from({ length: 500 }, (_, i) => aCheck(`tls.c${i}`, i % 2 ? 'fail' : 'pass'));
    assert.ok(clause(aDeclaration(), 'C6.transport-security', many).evidence.length < 1200);
  });

  it('an unmet mandatory clause never earns points, whatever it would grade', () => {
    const result = evaluateCompliance(withRetention({ logsDays: 400 }), [
      aCheck('tls.a', 'pass'),
      aCheck('tls.b', 'fail'),
    ]);
    for (const c of result.clauses) if (c.mandatory && c.status !== 'met') assert.equal(c.points, 0, c.id);
  });
});
