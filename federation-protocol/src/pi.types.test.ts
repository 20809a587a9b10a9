import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PI_LEVELS, levelForScore, parsePiSummary, parsePrivacyIndex } from './pi.types.ts';
import type { PrivacyIndex } from './pi.types.ts';

const valid: PrivacyIndex = {
  score: 42,
  level: 'guarded',
  factors: [{ id: 'transport.tls', contribution: 20, evidence: 'TLS 1.3 negotiated with mx.example.org' }],
  suggestions: [{ action: 'contact.add_public_key', element: 'contact:bob@example.org', gain: 25 }],
  modelVersion: 'message-pi/3',
};

describe('Privacy Index wire types', () => {
  it('names the levels at their boundaries', () => {
    const expected: [number, string][] = [
      [0, 'exposed'],
      [10, 'exposed'],
      [11, 'basic'],
      [30, 'basic'],
      [31, 'guarded'],
      [50, 'guarded'],
      [51, 'protected'],
      [70, 'protected'],
      [71, 'private'],
      [85, 'private'],
      [86, 'sealed'],
      [100, 'sealed'],
    ];
    for (const [score, level] of expected) assert.equal(levelForScore(score), level, `score ${score}`);
    assert.deepEqual(
      PI_LEVELS.map((level) => level.name),
      ['exposed', 'basic', 'guarded', 'protected', 'private', 'sealed'],
    );
  });

  it('refuses scores outside 0..100 or not integers', () => {
    for (const score of [-1, 101, 50.5, NaN]) assert.throws(() => levelForScore(score), RangeError);
  });

  it('never gives a higher score a lower level', () => {
    const rank = (score: number) => PI_LEVELS.findIndex((level) => level.name === levelForScore(score));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 }), (a, b) => {
        const [low, high] = a <= b ? [a, b] : [b, a];
        assert.ok(rank(low) <= rank(high));
      }),
    );
  });

  it('accepts a valid PI and returns only the known members', () => {
    const parsed = parsePrivacyIndex({ ...valid, extra: 'dropped', factors: [{ ...valid.factors[0], more: 1 }] });
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value, valid);
  });

  it('refuses malformed PIs with pi_malformed and a reason', () => {
    const cases: [unknown, RegExp][] = [
      [null, /not an object/],
      [{ ...valid, score: 101 }, /score/],
      [{ ...valid, score: 42.5 }, /score/],
      [{ ...valid, level: 'sealed' }, /level is not "guarded"/],
      [{ ...valid, modelVersion: '' }, /modelVersion/],
      [{ ...valid, factors: 'none' }, /factors is not an array/],
      [{ ...valid, factors: [{ id: 'Transport TLS', contribution: 1, evidence: '' }] }, /factors \[0\] has an id/],
      [{ ...valid, factors: [{ id: 'a.b', contribution: 1000, evidence: '' }] }, /contribution/],
      [{ ...valid, suggestions: [{ action: 'a.b', element: 'account', gain: 0 }] }, /gain/],
      [{ ...valid, suggestions: [{ action: 'a.b', element: '', gain: 5 }] }, /element/],
      [{ ...valid, factors: Array.from({ length: 65 }, () => valid.factors[0]) }, /more than 64/],
      // Lone surrogates (JSON.parse reads "\ud800"): canonical JSON cannot write them, so they are refused here
      // (a fuzzing finding: a feed accepted with one had no canonical form).
      [
        { ...valid, factors: [{ id: 'a.b', contribution: 1, evidence: 'x\ud800' }] },
        /evidence text \(or not valid Unicode\)/,
      ],
      [{ ...valid, suggestions: [{ action: 'a.b', element: '\udc00', gain: 5 }] }, /element \(or not valid Unicode\)/],
    ];
    for (const [input, reason] of cases) {
      const parsed = parsePrivacyIndex(input);
      assert.ok(!parsed.ok, JSON.stringify(input));
      assert.equal(parsed.error.code, 'pi_malformed');
      assert.match(parsed.error.message, reason);
    }
  });

  it('reads the summary a label carries', () => {
    const parsed = parsePiSummary({ score: 90, level: 'sealed', modelVersion: 'instance-pi/1' });
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value, { score: 90, level: 'sealed', modelVersion: 'instance-pi/1' });
  });
});
