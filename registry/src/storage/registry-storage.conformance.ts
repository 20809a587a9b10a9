/**
 * The registry storage conformance suite: every RegistryStorage adapter must pass it unchanged.
 * Run by registry-storage.sqlite.test.ts (always) and tests/conformance/registry-storage.cassandra.test.ts
 * (on a real Cassandra node in every npm test).
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, test } from 'vitest';
import type { Declaration } from '@caliopen/charter';
import { leafHash, levelForScore, utf8Encode } from '@caliopen/federation-protocol';
import type { Application, CheckRun } from '../labels/application.entity.ts';
import type { AuditEvent, Vote } from '../labels/audit.entity.ts';
import type { LabelRecord, Member } from '../labels/label.entity.ts';
import type { RegistryStorage } from '../database/registry-storage.port.ts';

export interface RegistryStorageUnderTest {
  storage: RegistryStorage;
  /** Closes the storage and opens it again on the same data. */
  reopen: () => Promise<RegistryStorage>;
  cleanup: () => Promise<void>;
}

const at = (iso: string) => new Date(iso);
const b64url = (n: number) => randomBytes(n).toString('base64url');

export function aDeclaration(domain: string): Declaration {
  return {
    charterVersion: '1.0',
    domain,
    jurisdiction: 'FR',
    retention: { messagesDays: null, logsDays: 14, backupsDays: 30, deletedAccountDays: 30 },
    logging: { ipAddresses: false, messageMetadata: false, retentionDays: 14 },
    keyStorageOptions: ['client', 'server'],
    noResaleOfUserData: true,
    noProfilingOrAds: true,
    spamHandling: { contentScanning: 'local' },
    adminContact: { name: 'Admin', email: `admin@${domain}` },
    incidentDisclosureDays: 3,
    doesEmail: true,
  };
}

export function anApplication(over: Partial<Application> = {}): Application {
  const domain = over.domain ?? `i-${randomUUID().slice(0, 8)}.test`;
  const now = at('2026-01-01T10:00:00.000Z');
  return {
    id: randomUUID(),
    domain,
    status: 'pending',
    endpoints: { https: `https://${domain}`, federation: `https://${domain}`, smtp: null },
    keys: {
      signing: { kty: 'OKP', crv: 'Ed25519', x: b64url(32) },
      encryption: { kty: 'OKP', crv: 'X25519', x: b64url(32) },
    },
    keyThumbprints: { signing: b64url(32), encryption: b64url(32) },
    certificatePem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    certFingerprint: randomBytes(32).toString('hex'),
    declarationJws: 'a.b.c',
    declaration: aDeclaration(domain),
    charterVersion: '1.0',
    nonce: b64url(18),
    listed: true,
    challenge: { token: b64url(24), value: b64url(32) },
    applicantTokenHash: randomBytes(32).toString('hex'),
    createdAt: now,
    updatedAt: now,
    closedReason: null,
    ...over,
  };
}

function aMember(domain: string, applicationId: string, over: Partial<Member> = {}): Member {
  const pi = {
    score: 72,
    level: levelForScore(72),
    factors: [{ id: 'jurisdiction', contribution: 40, evidence: 'FR' }],
    suggestions: [],
    modelVersion: 'instance-pi/1',
  };
  return {
    domain,
    applicationId,
    status: 'labelled',
    listed: true,
    currentLabelId: randomUUID(),
    labelIssuedAt: at('2026-01-01T10:00:00.000Z'),
    labelExpiresAt: at('2026-01-08T10:00:00.000Z'),
    entry: {
      domain,
      endpoints: { federation: `https://${domain}` },
      keys: {
        signing: { kty: 'OKP', crv: 'Ed25519', x: b64url(32) },
        encryption: { kty: 'OKP', crv: 'X25519', x: b64url(32) },
      },
      certFingerprint: randomBytes(32).toString('hex'),
      labelId: 'label-1',
      labelExpiresAt: 1_767_866_400,
      label: 'a.b.c',
      pi,
      status: 'labelled',
      logIndex: 0,
      listed: true,
    },
    pi,
    renewalBlocked: null,
    lastCheckAt: at('2026-01-01T09:00:00.000Z'),
    lastPassingCheckAt: null,
    decidedAt: at('2026-01-01T10:00:00.000Z'),
    updatedAt: at('2026-01-01T10:00:00.000Z'),
    revokedAt: null,
    revocationReason: null,
    ...over,
  };
}

export function registryStorageConformance(name: string, open: () => Promise<RegistryStorageUnderTest>): void {
  describe(`RegistryStorage conformance: ${name}`, () => {
    let sut: RegistryStorageUnderTest;
    let s: RegistryStorage;

    beforeAll(async () => {
      sut = await open();
      s = sut.storage;
    });
    afterAll(async () => {
      await sut.cleanup();
    });

    test('migrations are idempotent and the engine answers', async () => {
      const v = await s.migrate();
      assert.equal(await s.migrate(), v);
      assert.equal(await s.ping(), true);
    });

    test('applications: create, read back by id and token, one pending per domain, replayed nonces refused', async () => {
      const a = anApplication();
      assert.equal(await s.applications.create(a), 'created');
      assert.deepEqual(await s.applications.get(a.id), a);
      assert.deepEqual(await s.applications.getByTokenHash(a.applicantTokenHash), a);
      assert.equal(await s.applications.get(randomUUID()), null);
      assert.equal(await s.applications.getByTokenHash('0'.repeat(64)), null);

      assert.equal(await s.applications.create(anApplication({ nonce: a.nonce })), 'nonce_taken');
      assert.equal(await s.applications.create(anApplication({ domain: a.domain })), 'domain_pending');

      await s.applications.setStatus(a.id, 'approved', at('2026-01-02T00:00:00.000Z'));
      const approved = await s.applications.get(a.id);
      assert.equal(approved?.status, 'approved');
      assert.deepEqual(approved?.updatedAt, at('2026-01-02T00:00:00.000Z'));
      // Once not pending, the domain may apply again; the old nonce stays spent.
      const second = anApplication({ domain: a.domain, createdAt: at('2026-01-03T00:00:00.000Z') });
      assert.equal(await s.applications.create(second), 'created');
      assert.equal(await s.applications.create(anApplication({ nonce: a.nonce })), 'nonce_taken');
      assert.deepEqual(
        (await s.applications.listByDomain(a.domain)).map((x) => x.id),
        [a.id, second.id],
      );
      const pending = await s.applications.listByStatus('pending', { limit: 1000 });
      assert.ok(pending.some((x) => x.id === second.id) && !pending.some((x) => x.id === a.id));
      await s.applications.setStatus(second.id, 'closed', at('2026-01-04T00:00:00.000Z'), 'superseded');
      assert.equal((await s.applications.get(second.id))?.closedReason, 'superseded');

      // A renewed certificate replaces the declared one; nothing else changes; an unknown id is a no-op.
      await s.applications.replaceCertificate(a.id, 'NEW PEM', 'f'.repeat(64), at('2026-01-05T00:00:00.000Z'));
      assert.deepEqual(await s.applications.get(a.id), {
        ...approved,
        certificatePem: 'NEW PEM',
        certFingerprint: 'f'.repeat(64),
        updatedAt: at('2026-01-05T00:00:00.000Z'),
      });
      assert.deepEqual((await s.applications.getByTokenHash(a.applicantTokenHash))?.certFingerprint, 'f'.repeat(64));
      await s.applications.replaceCertificate(randomUUID(), 'X', 'e'.repeat(64), at('2026-01-05T00:00:00.000Z'));
    });

    test('check runs: newest first, results kept whole', async () => {
      const a = anApplication();
      await s.applications.create(a);
      const run = (iso: string, ok: boolean): CheckRun => ({
        id: randomUUID(),
        applicationId: a.id,
        domain: a.domain,
        trigger: 'schedule',
        startedAt: at(iso),
        finishedAt: at(iso),
        mandatoryPassed: ok,
        results: [
          {
            id: 'tls.certificate.san',
            status: ok ? 'pass' : 'fail',
            points: ok ? 10 : 0,
            maxPoints: 10,
            mandatory: true,
            evidence: 'SAN ok',
            checkedAt: iso,
          },
        ],
      });
      const r1 = run('2026-01-01T00:00:00.000Z', true);
      const r2 = run('2026-01-02T00:00:00.000Z', false);
      await s.checkRuns.add(r1);
      await s.checkRuns.add(r2);
      assert.deepEqual(await s.checkRuns.listByApplication(a.id, 10), [r2, r1]);
      assert.deepEqual(await s.checkRuns.listByApplication(a.id, 1), [r2]);
    });

    test('auditors and sessions: unique names, sessions by token hash, revocation', async () => {
      const name = `aud-${randomUUID().slice(0, 6)}`;
      const auditor = {
        id: randomUUID(),
        name,
        passwordHash: '$argon2id$x',
        disabled: false,
        createdAt: at('2026-01-01T00:00:00.000Z'),
      };
      assert.equal(await s.auditors.create(auditor), 'created');
      assert.equal(await s.auditors.create({ ...auditor, id: randomUUID() }), 'name_taken');
      assert.deepEqual(await s.auditors.get(auditor.id), auditor);
      assert.deepEqual(await s.auditors.getByName(name), auditor);
      assert.ok((await s.auditors.list()).some((x) => x.id === auditor.id));
      const session = {
        id: randomUUID(),
        auditorId: auditor.id,
        tokenHash: randomBytes(32).toString('hex'),
        createdAt: at('2026-01-01T00:00:00.000Z'),
        expiresAt: at('2026-01-02T00:00:00.000Z'),
        revokedAt: null,
      };
      await s.auditors.createSession(session);
      assert.deepEqual(await s.auditors.getSessionByTokenHash(session.tokenHash), session);
      await s.auditors.revokeSession(session.id, at('2026-01-01T01:00:00.000Z'));
      assert.deepEqual(
        (await s.auditors.getSessionByTokenHash(session.tokenHash))?.revokedAt,
        at('2026-01-01T01:00:00.000Z'),
      );
    });

    test('votes: one per auditor and application, replaced and withdrawn', async () => {
      const a = anApplication();
      await s.applications.create(a);
      const auditors = [randomUUID(), randomUUID()];
      for (const [i, id] of auditors.entries()) {
        await s.auditors.create({
          id,
          name: `voter-${i}-${id.slice(0, 6)}`,
          passwordHash: 'x',
          disabled: false,
          createdAt: at('2026-01-01T00:00:00.000Z'),
        });
      }
      const v1: Vote = {
        applicationId: a.id,
        auditorId: auditors[0]!,
        auditorName: 'one',
        vote: 'object',
        reason: 'logs kept too long',
        castAt: at('2026-01-01T00:00:00.000Z'),
      };
      assert.equal(await s.votes.put(v1), null);
      const v1b: Vote = { ...v1, vote: 'approve', reason: null, castAt: at('2026-01-01T02:00:00.000Z') };
      assert.deepEqual(await s.votes.put(v1b), v1);
      const v2: Vote = {
        applicationId: a.id,
        auditorId: auditors[1]!,
        auditorName: 'two',
        vote: 'abstain',
        reason: null,
        castAt: at('2026-01-01T03:00:00.000Z'),
      };
      await s.votes.put(v2);
      assert.deepEqual(await s.votes.listByApplication(a.id), [v1b, v2]);
      assert.deepEqual(await s.votes.delete(a.id, auditors[1]!), v2);
      assert.equal(await s.votes.delete(a.id, auditors[1]!), null);
      assert.deepEqual(await s.votes.listByApplication(a.id), [v1b]);
    });

    test('audit events: newest first with paging, per domain oldest first', async () => {
      const domain = `ev-${randomUUID().slice(0, 6)}.test`;
      const events: AuditEvent[] = [1, 2, 3].map((i) => ({
        id: randomUUID(),
        at: at(`2030-01-0${i}T00:00:00.000Z`),
        auditorId: null,
        auditorName: i === 2 ? 'carol' : null,
        action: i === 3 ? 'instance.revoked' : 'vote.cast',
        domain,
        applicationId: null,
        detail: { vote: 'approve', n: i, ok: true, none: null },
      }));
      for (const e of events) await s.auditEvents.append(e);
      assert.deepEqual(await s.auditEvents.listByDomain(domain), events);
      const newest = await s.auditEvents.list({ limit: 2 });
      assert.deepEqual(newest, [events[2], events[1]]);
      assert.deepEqual(await s.auditEvents.list({ limit: 2, before: events[1]!.at }), [events[0]]);
    });

    test('labels: history newest first, revocation recorded once', async () => {
      const domain = `lb-${randomUUID().slice(0, 6)}.test`;
      const label = (id: string, iso: string, kind: LabelRecord['kind']): LabelRecord => ({
        id,
        domain,
        applicationId: randomUUID(),
        kind,
        jws: `${id}.jws.sig`,
        issuedAt: at(iso),
        expiresAt: at('2031-01-01T00:00:00.000Z'),
        piScore: 70,
        revokedAt: null,
        revocationReason: null,
      });
      const l1 = label(randomUUID(), '2030-01-01T00:00:00.000Z', 'issued');
      const l2 = label(randomUUID(), '2030-01-04T00:00:00.000Z', 'renewed');
      await s.labels.add(l1);
      await s.labels.add(l2);
      assert.deepEqual(await s.labels.listByDomain(domain), [l2, l1]);
      await s.labels.markRevoked(l2.id, at('2030-01-05T00:00:00.000Z'), 'key compromise');
      await s.labels.markRevoked(l2.id, at('2030-01-06T00:00:00.000Z'), 'again');
      const revoked = await s.labels.get(l2.id);
      assert.deepEqual(revoked?.revokedAt, at('2030-01-05T00:00:00.000Z'));
      assert.equal(revoked?.revocationReason, 'key compromise');
    });

    test('members: put replaces, list is sorted by domain, getMany skips unknown', async () => {
      const suffix = randomUUID().slice(0, 6);
      const m1 = aMember(`b-${suffix}.test`, randomUUID());
      const m2 = aMember(`a-${suffix}.test`, randomUUID(), { listed: false });
      await s.members.put(m1);
      await s.members.put(m2);
      assert.deepEqual(await s.members.get(m1.domain), m1);
      const changed = {
        ...m1,
        status: 'suspended' as const,
        renewalBlocked: 'tls.certificate.san failed',
        updatedAt: at('2026-02-01T00:00:00.000Z'),
      };
      await s.members.put(changed);
      assert.deepEqual(await s.members.get(m1.domain), changed);
      const all = await s.members.list();
      const ours = all.filter((m) => m.domain.endsWith(`-${suffix}.test`));
      assert.deepEqual(
        ours.map((m) => m.domain),
        [m2.domain, m1.domain],
      );
      assert.deepEqual([...all.map((m) => m.domain)], [...all.map((m) => m.domain)].sort());
      assert.deepEqual(
        (await s.members.getMany([m1.domain, 'nowhere.test', m2.domain])).map((m) => m.domain),
        [m2.domain, m1.domain],
      );
    });

    test('transparency log: append only at the expected size, ranges, leaf hashes, checkpoints', async () => {
      const start = await s.log.size();
      const entry = (i: number) => {
        const text = JSON.stringify({ type: 'label.issued', domain: `log${i}.test`, at: i });
        return { index: start + i, leafHash: leafHash(utf8Encode(text)), entry: text };
      };
      assert.equal(await s.log.append([entry(0), entry(1)], start), true);
      assert.equal(
        await s.log.append([{ ...entry(2), index: start + 1 }], start + 1),
        false,
        'a stale writer appends nothing',
      );
      assert.equal(await s.log.size(), start + 2);
      assert.equal(await s.log.append([entry(2)], start + 2), true);
      assert.deepEqual(await s.log.range(start, start + 3), [entry(0), entry(1), entry(2)]);
      assert.deepEqual(await s.log.range(start + 1, start + 2), [entry(1)]);
      assert.deepEqual(await s.log.leafHashesFrom(start + 1), [entry(1).leafHash, entry(2).leafHash]);
      await s.log.putCheckpoint({ treeSize: start + 2, jws: 'cp.two.sig', timestamp: 10 });
      await s.log.putCheckpoint({ treeSize: start + 3, jws: 'cp.three.sig', timestamp: 11 });
      assert.deepEqual(await s.log.latestCheckpoint(), { treeSize: start + 3, jws: 'cp.three.sig', timestamp: 11 });
    });

    test('feed: serials follow each other, the latest envelope is kept, changes accumulate', async () => {
      const first = (await s.feed.latest())?.serial ?? 0;
      const pub = (serial: number, domains: string[]) => ({
        serial,
        issuedAt: 1000 + serial,
        envelope: new Uint8Array(randomBytes(64)),
        digest: randomBytes(32).toString('base64'),
        checkpointJws: `cp${serial}.x.y`,
        changedDomains: domains,
      });
      const p1 = pub(first + 1, ['b.test', 'a.test']);
      const p2 = pub(first + 2, ['b.test', 'c.test']);
      assert.equal(await s.feed.publish(p1), true);
      assert.equal(await s.feed.publish(pub(first + 1, ['x.test'])), false, 'the same serial twice');
      assert.equal(await s.feed.publish(pub(first + 3, ['x.test'])), false, 'a gap');
      assert.equal(await s.feed.publish(p2), true);
      assert.deepEqual(await s.feed.latest(), { ...p2, changedDomains: ['b.test', 'c.test'] });
      assert.deepEqual(await s.feed.changedSince(first + 1), ['b.test', 'c.test']);
      assert.deepEqual(
        (await s.feed.changedSince(first)).filter((d) => ['a.test', 'b.test', 'c.test'].includes(d)),
        ['a.test', 'b.test', 'c.test'],
      );
      assert.deepEqual(await s.feed.changedSince(first + 2), []);
    });

    test('registry keys: stored sealed, windows changed on rotation', async () => {
      const kid = b64url(32);
      const key = {
        kid,
        publicJwk: { kty: 'OKP' as const, crv: 'Ed25519' as const, x: b64url(32) },
        privateSealed: 'v1.x.y',
        notBefore: 100,
        notAfter: 1000,
        createdAt: at('2026-01-01T00:00:00.000Z'),
      };
      await s.keys.add(key);
      assert.deepEqual(
        (await s.keys.list()).find((k) => k.kid === kid),
        key,
      );
      await s.keys.setNotAfter(kid, 500);
      assert.equal((await s.keys.list()).find((k) => k.kid === kid)?.notAfter, 500);
    });

    test('key rotation statements: one per sequence (a racing rotation loses), listed in order', async () => {
      const statement = (sequence: number, jws: string) => ({
        sequence,
        jws,
        createdAt: at('2026-01-02T00:00:00.000Z'),
      });
      assert.deepEqual(await s.keys.statements(), []);
      assert.equal(await s.keys.addStatement(statement(2, 'b.b.b')), true);
      assert.equal(await s.keys.addStatement(statement(1, 'a.a.a')), true);
      assert.equal(await s.keys.addStatement(statement(1, 'x.x.x')), false, 'sequence 1 is taken');
      const [one, two] = await Promise.all([
        s.keys.addStatement(statement(3, 'c1.c.c')),
        s.keys.addStatement(statement(3, 'c2.c.c')),
      ]);
      assert.equal([one, two].filter(Boolean).length, 1, 'one of two racing writers wins sequence 3');
      const listed = await s.keys.statements();
      assert.deepEqual(
        listed.map((x) => x.sequence),
        [1, 2, 3],
      );
      assert.equal(listed[0]?.jws, 'a.a.a');
      assert.deepEqual(listed[0]?.createdAt, at('2026-01-02T00:00:00.000Z'));
    });

    test('everything survives a reopen', async () => {
      const a = anApplication();
      await s.applications.create(a);
      s = await sut.reopen();
      assert.deepEqual(await s.applications.get(a.id), a);
      assert.ok((await s.log.size()) >= 3);
    });
  });
}
