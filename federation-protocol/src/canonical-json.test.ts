import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import canonicalizeModule from 'canonicalize';
import { canonicalJson, canonicalJsonBytes, canonicalSha256, MAX_JSON_DEPTH } from './canonical-json.ts';
import { encodeHex } from './encoding.ts';
import { ProtocolError } from './errors.ts';

/**
 * The reference implementation of RFC 8785's authors. It is CommonJS with `module.exports = fn` but declares
 * `export default`, so TypeScript's NodeNext view of the default import is the module, not the function.
 */
const canonicalize = canonicalizeModule as unknown as (value: unknown) => string | undefined;

/** Rebuilds a JSON value with every object's members inserted in a shuffled order. */
function shuffleKeys(value: unknown, random: () => number): unknown {
  if (Array.isArray(value)) return value.map((item) => shuffleKeys(item, random));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value).sort(() => random() - 0.5);
  return Object.fromEntries(entries.map(([key, item]) => [key, shuffleKeys(item, random)]));
}

function rejects(value: unknown, pattern: RegExp): void {
  assert.throws(
    () => canonicalJson(value),
    (error: unknown) =>
      error instanceof ProtocolError && error.code === 'json_unsupported_value' && pattern.test(error.message),
  );
}

describe('canonicalJson (RFC 8785)', () => {
  it('writes the RFC 8785 §3.2.2 sample as §3.2.3 shows', () => {
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],' +
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}',
    );
    assert.equal(
      canonicalJson(input),
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('sorts members by UTF-16 code units (RFC 8785 §3.2.3 example)', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    assert.equal(
      canonicalJson(input),
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  it('writes numbers as ECMAScript does, -0 as 0', () => {
    assert.equal(
      // biome-ignore lint/correctness/noPrecisionLoss: the literal beyond 2^53 is the point: it must serialise as the double it became
      canonicalJson([-0, 1e21, 1e-7, 0.1 + 0.2, 9007199254740993]),
      '[0,1e+21,1e-7,0.30000000000000004,9007199254740992]',
    );
  });

  it('refuses what JSON cannot hold, naming where it is', () => {
    rejects({ a: { b: undefined } }, /\$\.a\.b is undefined/);
    rejects([1, NaN], /\$\[1\] is NaN/);
    rejects({ x: Infinity }, /Infinity/);
    rejects({ n: 10n }, /BigInt/);
    rejects({ f: () => 1 }, /function/);
    rejects({ s: Symbol('s') }, /symbol/);
    rejects({ d: new Date(0) }, /Date object/);
    rejects({ m: new Map() }, /Map object/);
    rejects(['\ud800'], /lone surrogate/);
    rejects({ ['\udc00']: 1 }, /lone surrogate/);
    // biome-ignore lint/suspicious/noSparseArray: a hole in an array is the hostile input under test
    rejects([1, , 3], /\$\[1\] is undefined/);
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    rejects(cyclic, /cyclic/);
  });

  it('refuses nesting deeper than MAX_JSON_DEPTH with its own error, not a stack overflow (a fuzzing finding)', () => {
    const nested = (depth: number): unknown => JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`);
    assert.equal(canonicalJson(nested(MAX_JSON_DEPTH)).length, 2 * MAX_JSON_DEPTH);
    rejects(nested(MAX_JSON_DEPTH + 1), /nested deeper than 512 levels/);
    // JSON.parse reads 100,000 levels; before the limit, writing them overflowed the stack (RangeError).
    rejects(nested(100_000), /nested deeper than 512 levels/);
    rejects({ a: nested(20_000) }, /^Cannot write canonical JSON: \$\.a(\[0\]){511} is nested deeper/);
  });

  it('accepts a value shared twice (not a cycle) and objects without prototype', () => {
    const shared = { a: 1 };
    const bare = Object.assign(Object.create(null) as object, { z: 1, y: 2 });
    assert.equal(canonicalJson([shared, shared, bare]), '[{"a":1},{"a":1},{"y":2,"z":1}]');
  });

  it('hashes the UTF-8 bytes of the canonical text', () => {
    assert.deepEqual([...canonicalJsonBytes({ é: 1 })], [...Buffer.from('{"é":1}', 'utf8')]);
    assert.equal(encodeHex(canonicalSha256({ b: 1, a: 2 })), encodeHex(canonicalSha256({ a: 2, b: 1 })));
  });

  describe('properties', () => {
    it('does not depend on member order', () => {
      fc.assert(
        fc.property(fc.jsonValue(), fc.integer(), (value, seed) => {
          const random = mulberry32(seed);
          assert.equal(canonicalJson(shuffleKeys(value, random)), canonicalJson(value));
        }),
      );
    });

    it('round-trips: parse(canonical(x)) deep-equals x (with -0 read as 0, as RFC 8785 writes it)', () => {
      fc.assert(
        fc.property(fc.jsonValue(), (value) => {
          assert.deepStrictEqual(JSON.parse(canonicalJson(value)), withoutNegativeZero(value));
        }),
      );
    });

    it('is idempotent: canonical(parse(canonical(x))) = canonical(x)', () => {
      fc.assert(
        fc.property(fc.jsonValue(), (value) => {
          const once = canonicalJson(value);
          assert.equal(canonicalJson(JSON.parse(once)), once);
        }),
      );
    });

    it('agrees with the canonicalize package on every JSON value', () => {
      fc.assert(
        fc.property(fc.jsonValue(), (value) => {
          assert.equal(canonicalJson(value), canonicalize(value));
        }),
      );
    });
  });
});

/** JSON has one zero: -0 and 0 are the same JSON number, and strict deep equality would tell them apart. */
function withoutNegativeZero(value: unknown): unknown {
  if (Object.is(value, -0)) return 0;
  if (Array.isArray(value)) return value.map(withoutNegativeZero);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, withoutNegativeZero(item)]));
}

/** A small seeded PRNG so shuffles replay from fast-check's seed. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
