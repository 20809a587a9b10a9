import assert from 'node:assert/strict';
import { test } from 'vitest';
import { parsePrivacyIndex } from '@caliopen/federation-protocol';
import fc from 'fast-check';
import { computeInstancePi, PI_WEIGHTS, type InstancePiCheck, type InstancePiInput } from './instance-pi.ts';

const NOW = new Date('2026-03-01T00:00:00.000Z');

const checkArb: fc.Arbitrary<InstancePiCheck> = fc
  .record({
    id: fc.constantFrom(
      'domain.control',
      'tls.certificate.san',
      'tls.certificate.validity',
      'dns.mx',
      'dns.spf',
      'dns.dmarc',
      'dns.mta_sts',
      'dns.tlsa',
      'federation.descriptor.keys',
    ),
    status: fc.constantFrom('pass', 'fail', 'notice', 'info'),
    maxPoints: fc.integer({ min: 0, max: 10 }),
    share: fc.double({ min: 0, max: 1, noNaN: true }),
    mandatory: fc.boolean(),
  })
  .map(({ id, status, maxPoints, share, mandatory }) => ({
    id,
    status: status as InstancePiCheck['status'],
    maxPoints,
    points: status === 'pass' ? maxPoints : status === 'notice' ? Math.floor(maxPoints * share) : 0,
    mandatory,
    evidence: `${id} ${status}`,
  }));

const inputArb: fc.Arbitrary<InstancePiInput> = fc.record({
  jurisdiction: fc.option(
    fc.record({
      code: fc.constantFrom('FR', 'CH', 'US', 'DE'),
      name: fc.constant('Somewhere'),
      score: fc.integer({ min: 0, max: 100 }),
    }),
    { nil: null },
  ),
  checks: fc.array(checkArb, { maxLength: 12 }),
  compliance: fc.option(
    fc
      .integer({ min: 1, max: 40 })
      .chain((max) =>
        fc.record({ points: fc.integer({ min: 0, max }), maxPoints: fc.constant(max), mandatoryMet: fc.boolean() }),
      ),
    { nil: null },
  ),
  lastVerifiedAt: fc.option(
    fc.integer({ min: 0, max: 90 }).map((days) => new Date(NOW.getTime() - days * 86_400_000)),
    { nil: null },
  ),
  now: fc.constant(NOW),
});

test('the PI is well-formed on the wire for any input', () => {
  fc.assert(
    fc.property(inputArb, (input) => {
      const pi = computeInstancePi(input);
      const parsed = parsePrivacyIndex(pi);
      assert.ok(parsed.ok, parsed.ok ? '' : parsed.error.message);
      assert.ok(Number.isInteger(pi.score) && pi.score >= 0 && pi.score <= 100);
      assert.ok(pi.suggestions.every((s) => s.element === 'instance' && s.gain >= 1));
    }),
    { numRuns: 300 },
  );
});

test('monotone: a check that passes, or a new passing check, never lowers the PI', () => {
  fc.assert(
    fc.property(inputArb, fc.nat(), checkArb, (input, pick, extra) => {
      const before = computeInstancePi(input).score;
      if (input.checks.length > 0) {
        const i = pick % input.checks.length;
        const passing = input.checks.map((c, k) =>
          k === i ? { ...c, status: 'pass' as const, points: c.maxPoints } : c,
        );
        assert.ok(computeInstancePi({ ...input, checks: passing }).score >= before, 'turning a check to pass');
      }
      const added = [...input.checks, { ...extra, status: 'pass' as const, points: extra.maxPoints }];
      assert.ok(computeInstancePi({ ...input, checks: added }).score >= before, 'adding a passing check');
    }),
    { numRuns: 500 },
  );
});

test('monotone: a more protective jurisdiction, more commitments met, a fresher verification never lower the PI', () => {
  fc.assert(
    fc.property(
      inputArb,
      fc.integer({ min: 0, max: 100 }),
      fc.integer({ min: 0, max: 40 }),
      fc.integer({ min: 0, max: 90 }),
      (input, jUp, cUp, daysNewer) => {
        const before = computeInstancePi(input).score;
        if (input.jurisdiction) {
          const better = { ...input.jurisdiction, score: Math.min(100, input.jurisdiction.score + jUp) };
          assert.ok(computeInstancePi({ ...input, jurisdiction: better }).score >= before, 'jurisdiction');
        }
        if (input.compliance) {
          const c = input.compliance;
          assert.ok(
            computeInstancePi({ ...input, compliance: { ...c, points: Math.min(c.maxPoints, c.points + cUp) } })
              .score >= before,
            'commitments',
          );
          assert.ok(
            computeInstancePi({ ...input, compliance: { ...c, mandatoryMet: true } }).score >= before,
            'mandatory clause met',
          );
        }
        const newer =
          input.lastVerifiedAt === null
            ? NOW
            : new Date(Math.min(NOW.getTime(), input.lastVerifiedAt.getTime() + daysNewer * 86_400_000));
        assert.ok(computeInstancePi({ ...input, lastVerifiedAt: newer }).score >= before, 'freshness');
      },
    ),
    { numRuns: 500 },
  );
});

test('the jurisdiction weighs most: the same instance in a protective and in an unprotective country', () => {
  const checks: InstancePiCheck[] = [
    {
      id: 'tls.certificate.san',
      status: 'pass',
      points: 10,
      maxPoints: 10,
      mandatory: true,
      evidence: 'SAN covers alpha.test',
    },
    { id: 'dns.mta_sts', status: 'fail', points: 0, maxPoints: 5, mandatory: false, evidence: 'no MTA-STS policy' },
  ];
  const base = { checks, compliance: { points: 30, maxPoints: 40, mandatoryMet: true }, lastVerifiedAt: NOW, now: NOW };
  const protective = computeInstancePi({ ...base, jurisdiction: { code: 'CH', name: 'Switzerland', score: 90 } });
  const weak = computeInstancePi({ ...base, jurisdiction: { code: 'XX', name: 'Elsewhere', score: 10 } });
  // 50*0.9 + 25*10/15 + 15*30/40 + 10 = 45 + 16.67 + 11.25 + 10 = 82.9
  assert.equal(protective.score, 83);
  assert.equal(weak.score, 43);
  assert.equal(protective.level, 'private');
  assert.ok(PI_WEIGHTS.jurisdiction > PI_WEIGHTS.checks + PI_WEIGHTS.freshness);
  const jFactor = protective.factors.find((f) => f.id === 'jurisdiction');
  assert.equal(jFactor?.contribution, 45);
  assert.match(jFactor?.evidence ?? '', /Switzerland \(CH\): 90\/100/);
  const suggestion = protective.suggestions.find((s) => s.action === 'instance.pass_check.dns_mta_sts');
  assert.equal(suggestion?.gain, 8);
  assert.ok(!protective.suggestions.some((s) => s.action === 'instance.reverify'), 'fresh today: nothing to gain');
});

test('an unknown jurisdiction, no checks, no declaration and no verification give the floor with suggestions', () => {
  const pi = computeInstancePi({ jurisdiction: null, checks: [], compliance: null, lastVerifiedAt: null, now: NOW });
  assert.equal(pi.score, 0);
  assert.equal(pi.level, 'exposed');
  assert.deepEqual(pi.suggestions.map((s) => s.action).sort(), [
    'instance.protective_jurisdiction',
    'instance.reverify',
  ]);
});

test('freshness decays linearly over 30 days', () => {
  const at = (days: number) =>
    computeInstancePi({
      jurisdiction: null,
      checks: [],
      compliance: null,
      lastVerifiedAt: new Date(NOW.getTime() - days * 86_400_000),
      now: NOW,
    });
  assert.equal(at(0).score, 10);
  assert.equal(at(15).score, 5);
  assert.equal(at(30).score, 0);
  assert.equal(at(45).score, 0);
});
