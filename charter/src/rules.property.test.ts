import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { evaluateCompliance, parseDeclaration } from './index.ts';
import type { CheckResultLike, ComplianceResult, Declaration } from './index.ts';
import { checksArbitrary, declarationArbitrary } from './testing/declarations.fixture.ts';

const RUNS = { numRuns: 400 };

function assertWellFormed(result: ComplianceResult): void {
  let sum = 0;
  let max = 0;
  for (const c of result.clauses) {
    assert.ok(Number.isInteger(c.points) && c.points >= 0, `${c.id}: ${c.points}`);
    assert.ok(c.points <= c.maxPoints, `${c.id}: ${c.points} > ${c.maxPoints}`);
    assert.ok(['met', 'unmet', 'unknown'].includes(c.status));
    if (c.mandatory && c.status !== 'met') assert.equal(c.points, 0, c.id);
    assert.ok(c.evidence.length > 0 && !/[\n\r\u0000]/.test(c.evidence), c.id);
    sum += c.points;
    max += c.maxPoints;
  }
  assert.equal(result.points, sum);
  assert.equal(result.maxPoints, max);
  assert.ok(result.points <= result.maxPoints);
  assert.equal(
    result.mandatoryMet,
    result.clauses.every((c) => !c.mandatory || c.status === 'met'),
  );
}

describe('evaluateCompliance, on any valid declaration and any check results', () => {
  it('the generator only produces declarations parseDeclaration accepts, unchanged', () => {
    fc.assert(
      fc.property(declarationArbitrary, (d) => {
        const parsed = parseDeclaration(d);
        assert.ok(parsed.ok, JSON.stringify(parsed));
        assert.deepEqual(parsed.value, d);
      }),
      RUNS,
    );
  });

  it('never throws, and points never exceed maxPoints', () => {
    fc.assert(
      fc.property(declarationArbitrary, checksArbitrary, (d, checks) => {
        assertWellFormed(evaluateCompliance(d, checks));
      }),
      RUNS,
    );
  });

  it('is deterministic and does not modify its inputs', () => {
    fc.assert(
      fc.property(declarationArbitrary, checksArbitrary, (d, checks) => {
        const before = JSON.stringify([d, checks]);
        const first = evaluateCompliance(d, checks);
        assert.equal(JSON.stringify([d, checks]), before);
        assert.deepEqual(evaluateCompliance(d, checks), first);
      }),
      RUNS,
    );
  });

  it('a safer practice never lowers the points: offering client-side keys, logging less, disclosing sooner', () => {
    const safer: [string, (d: Declaration) => Declaration][] = [
      [
        'client-side keys',
        (d) => ({
          ...d,
          keyStorageOptions: d.keyStorageOptions.includes('client')
            ? d.keyStorageOptions
            : [...d.keyStorageOptions, 'client'],
        }),
      ],
      ['no IP addresses in logs', (d) => ({ ...d, logging: { ...d.logging, ipAddresses: false } })],
      ['no metadata in logs', (d) => ({ ...d, logging: { ...d.logging, messageMetadata: false } })],
      [
        'shorter logs',
        (d) => ({
          ...d,
          retention: { ...d.retention, logsDays: Math.floor(d.retention.logsDays / 2) },
          logging: { ...d.logging, retentionDays: Math.floor(d.logging.retentionDays / 2) },
        }),
      ],
      [
        'shorter backups',
        (d) => ({ ...d, retention: { ...d.retention, backupsDays: Math.floor(d.retention.backupsDays / 2) } }),
      ],
      [
        'sooner erasure',
        (d) => ({
          ...d,
          retention: { ...d.retention, deletedAccountDays: Math.floor(d.retention.deletedAccountDays / 2) },
        }),
      ],
      ['sooner disclosure', (d) => ({ ...d, incidentDisclosureDays: Math.floor(d.incidentDisclosureDays / 2) })],
      ['local spam filtering', (d) => ({ ...d, spamHandling: { contentScanning: 'local' } })],
    ];
    fc.assert(
      fc.property(declarationArbitrary, checksArbitrary, fc.constantFrom(...safer), (d, checks, [name, improve]) => {
        const better = improve(d);
        assert.ok(parseDeclaration(better).ok, name);
        const a = evaluateCompliance(d, checks);
        const b = evaluateCompliance(better, checks);
        assert.ok(b.points >= a.points, `${name}: ${a.points} -> ${b.points}`);
        if (a.mandatoryMet) assert.ok(b.mandatoryMet, `${name} made a compliant declaration non-compliant`);
      }),
      RUNS,
    );
  });

  it('a check that passes instead of failing never lowers the points', () => {
    fc.assert(
      fc.property(declarationArbitrary, checksArbitrary, fc.nat(), (d, checks, pick) => {
        const failing = checks.map((c, i) => [c, i] as const).filter(([c]) => c.status === 'fail');
        fc.pre(failing.length > 0);
        const [, index] = failing[pick % failing.length]!;
        const fixed: CheckResultLike[] = checks.map((c, i) => (i === index ? { ...c, status: 'pass' } : c));
        assert.ok(evaluateCompliance(d, fixed).points >= evaluateCompliance(d, checks).points);
      }),
      RUNS,
    );
  });
});
