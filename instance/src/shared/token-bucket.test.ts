import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import { TokenBuckets } from './token-bucket.ts';

describe('TokenBuckets', () => {
  test('a burst per key, then the seconds to wait; refilled with time; keys apart', () => {
    let now = 0;
    const buckets = new TokenBuckets({ burst: 3, perSecond: 1 }, () => now);
    assert.deepEqual(
      [1, 2, 3, 4].map(() => buckets.take('a')),
      [0, 0, 0, 1],
    );
    assert.equal(buckets.take('b'), 0, 'another key has its own burst');
    now += 500;
    assert.equal(buckets.take('a'), 1, 'half a token is not one');
    now += 500;
    assert.equal(buckets.take('a'), 0, 'one token back after a second');
    now += 60_000;
    assert.deepEqual(
      [1, 2, 3, 4].map(() => buckets.take('a')),
      [0, 0, 0, 1],
      'never more than the burst',
    );
  });

  test('bounded: past maxKeys the least recently seen key starts again; bad rates are refused', () => {
    const buckets = new TokenBuckets({ burst: 1, perSecond: 1 }, () => 0, 2);
    assert.equal(buckets.take('a'), 0);
    assert.equal(buckets.take('a'), 1);
    buckets.take('b');
    buckets.take('c');
    assert.equal(buckets.take('a'), 0, '"a" was dropped, and starts with a full burst');
    assert.throws(() => new TokenBuckets({ burst: 0, perSecond: 1 }, () => 0), RangeError);
    assert.throws(() => new TokenBuckets({ burst: 1, perSecond: 0 }, () => 0), RangeError);
  });
});
