import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MemoryReplayStore, checkReplay, replayKey } from './replay.ts';
import type { ReplayStore } from './replay.ts';
import { T0 } from './testing/fixtures.ts';

const envelope = { from: { instance: 'alpha.caliopen.test' }, id: 'cYFfyk8IktXuJJJ8hbga2g', expires: T0 + 3600 };

describe('replay', () => {
  it('accepts an envelope once, per sending instance', async () => {
    const store = new MemoryReplayStore();
    assert.ok((await checkReplay(store, envelope, { now: T0 })).ok);
    const again = await checkReplay(store, envelope, { now: T0 + 100 });
    assert.ok(!again.ok);
    assert.equal(again.error.code, 'envelope_replayed');
    assert.ok(
      (await checkReplay(store, { ...envelope, from: { instance: 'gamma.caliopen.test' } }, { now: T0 })).ok,
      'ids are per instance',
    );
    assert.ok((await checkReplay(store, { ...envelope, id: 'AAAAAAAAAAAAAAAAAAAAAA' }, { now: T0 })).ok);
    assert.equal(replayKey(envelope), 'alpha.caliopen.test cYFfyk8IktXuJJJ8hbga2g');
  });

  it('refuses an expired envelope by time, without asking the store', async () => {
    let asked = 0;
    const spy: ReplayStore = {
      rememberOnce: () => {
        asked++;
        return 'fresh';
      },
      forget: () => {},
    };
    const late = await checkReplay(spy, envelope, { now: envelope.expires + 60 });
    assert.ok(!late.ok);
    assert.equal(late.error.code, 'envelope_expired');
    assert.equal(asked, 0);
    assert.ok((await checkReplay(spy, envelope, { now: envelope.expires + 59 })).ok);
    assert.equal(asked, 1);
  });

  it('remembers an id until the envelope expires (plus tolerance), then forgets it', async () => {
    const store = new MemoryReplayStore();
    await checkReplay(store, envelope, { now: T0 });
    assert.equal(
      store.rememberOnce(replayKey(envelope), 0, envelope.expires + 59),
      'seen',
      'still remembered while the envelope is accepted',
    );
    store.sweep(envelope.expires + 60);
    assert.equal(store.size, 0);
  });

  it('forgets an id on request, so a delivery that failed to store can be retried', async () => {
    const store = new MemoryReplayStore();
    const first = await checkReplay(store, envelope, { now: T0 });
    assert.ok(first.ok);
    await store.forget(first.value.key);
    assert.ok((await checkReplay(store, envelope, { now: T0 + 1 })).ok);
  });

  it('is bounded: full when every remembered id is live, room again once they expire', async () => {
    const store = new MemoryReplayStore({ maxEntries: 3 });
    for (const id of ['a', 'b', 'c']) assert.ok((await checkReplay(store, { ...envelope, id }, { now: T0 })).ok);
    const full = await checkReplay(store, { ...envelope, id: 'd' }, { now: T0 });
    assert.ok(!full.ok);
    assert.equal(full.error.code, 'replay_store_full');
    assert.ok(
      !(await checkReplay(store, { ...envelope, id: 'a' }, { now: T0 })).ok,
      'a full store still refuses replays',
    );
    assert.ok(
      (await checkReplay(store, { ...envelope, id: 'd', expires: T0 + 7200 }, { now: envelope.expires + 60 })).ok,
    );
    assert.equal(store.size, 1);
    assert.throws(() => new MemoryReplayStore({ maxEntries: 0 }), RangeError);
  });

  it('behaves like a set of live ids (model check)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            key: fc.constantFrom('a', 'b', 'c', 'd'),
            ttl: fc.integer({ min: 1, max: 50 }),
            advance: fc.integer({ min: 0, max: 20 }),
          }),
          { maxLength: 200 },
        ),
        (operations) => {
          const store = new MemoryReplayStore({ maxEntries: 1_000 });
          const model = new Map<string, number>();
          let now = 0;
          for (const { key, ttl, advance } of operations) {
            now += advance;
            const expected = (model.get(key) ?? -1) > now ? 'seen' : 'fresh';
            if (expected === 'fresh') model.set(key, now + ttl);
            assert.equal(store.rememberOnce(key, now + ttl, now), expected);
          }
        },
      ),
    );
  });
});
