import assert from 'node:assert/strict';
import { test } from 'vitest';
import fc from 'fast-check';
import { planBatches, toSequenceSet } from './sequence-set.ts';

test('sequence sets compress runs', () => {
  assert.equal(toSequenceSet([]), '');
  assert.equal(toSequenceSet([5]), '5');
  assert.equal(toSequenceSet([1, 2, 3, 7, 9, 10]), '1:3,7,9:10');
  assert.equal(toSequenceSet([10, 9, 9, 1]), '1,9:10');
  assert.equal(toSequenceSet([4294967294, 4294967295]), '4294967294:4294967295');
});

test('property: a sequence set names exactly the given UIDs', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 200 }), (uids) => {
      const named = new Set<number>();
      for (const part of toSequenceSet(uids).split(',').filter(Boolean)) {
        const [a, b] = part.split(':').map(Number);
        for (let u = a!; u <= (b ?? a!); u++) named.add(u);
      }
      assert.deepEqual(
        [...named].sort((x, y) => x - y),
        [...new Set(uids)].sort((x, y) => x - y),
      );
    }),
  );
});

test('batches respect the count and byte limits; oversized messages are skipped', () => {
  const limits = { maxCount: 3, maxBytes: 100, maxMessageBytes: 150 };
  const batches = planBatches(
    [
      { uid: 1, size: 10 },
      { uid: 2, size: 10 },
      { uid: 3, size: 10 },
      { uid: 4, size: 10 },
      { uid: 5, size: 95 },
      { uid: 6, size: 120 },
      { uid: 7, size: 1000 },
      { uid: 8, size: 1 },
    ],
    limits,
  );
  assert.deepEqual(
    batches.map((b) => [b.fetch, b.skipped, b.lastUid]),
    [
      [[1, 2, 3], [], 3],
      [[4], [], 4],
      [[5], [], 5],
      [[6], [7], 7],
      [[8], [], 8],
    ],
  );
  assert.deepEqual(planBatches([], limits), []);
  assert.deepEqual(planBatches([{ uid: 9, size: 999 }], limits), [{ fetch: [], skipped: [9], lastUid: 9 }]);
});

test('property: every message lands in exactly one batch, in UID order, within the limits', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.record({ uid: fc.integer({ min: 1, max: 10_000 }), size: fc.integer({ min: 0, max: 500 }) }), {
        selector: (m) => m.uid,
        maxLength: 100,
      }),
      fc.integer({ min: 1, max: 10 }),
      fc.integer({ min: 1, max: 1000 }),
      (messages, maxCount, maxBytes) => {
        const limits = { maxCount, maxBytes, maxMessageBytes: 300 };
        const batches = planBatches(messages, limits);
        const all = batches.flatMap((b) => [...b.fetch, ...b.skipped]).sort((a, b) => a - b);
        assert.deepEqual(
          all,
          messages.map((m) => m.uid).sort((a, b) => a - b),
        );
        const size = new Map(messages.map((m) => [m.uid, m.size]));
        let previous = 0;
        for (const b of batches) {
          assert.ok(b.fetch.length <= maxCount);
          const bytes = b.fetch.reduce((n, u) => n + size.get(u)!, 0);
          assert.ok(b.fetch.length <= 1 || bytes <= maxBytes);
          for (const u of [...b.fetch, ...b.skipped]) assert.ok(u > previous && u <= b.lastUid);
          previous = b.lastUid;
        }
      },
    ),
  );
});
