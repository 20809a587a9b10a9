import assert from 'node:assert/strict';
import { test } from 'vitest';
import { openPgpKeyHash, wkdHash } from './key-names.ts';
import { LocalPartDirectory } from './local-part.directory.ts';

function fixture(names: string[]) {
  const state = { names, now: 0, lists: 0, fail: false };
  const directory = new LocalPartDirectory({
    // Pages of 1000, ordered, like the accounts repository.
    listUsernames: async (after, limit) => {
      state.lists++;
      if (state.fail) throw new Error('storage down');
      const sorted = [...state.names].sort();
      return sorted.filter((n) => after === undefined || n > after).slice(0, limit);
    },
    refreshMs: 60_000,
    missRefreshMs: 5_000,
    now: () => state.now,
    onError: () => {},
  });
  return { state, directory };
}

test('maps both hashes back to the username, over several pages', async () => {
  const names = Array.from({ length: 2500 }, (_, i) => `user${String(i).padStart(4, '0')}`);
  const { state, directory } = fixture(names);
  assert.equal(await directory.byOpenPgpKeyHash(openPgpKeyHash('user2499')), 'user2499');
  assert.equal(await directory.byWkdHash(wkdHash('user0000')), 'user0000');
  assert.equal(
    await directory.byOpenPgpKeyHash(openPgpKeyHash('user1000').toUpperCase()),
    'user1000',
    'hex is case-insensitive',
  );
  assert.equal(state.lists, 3, 'one rebuild, three pages');
  assert.equal(await directory.byOpenPgpKeyHash('not-a-hash'), null);
  assert.equal(await directory.byWkdHash('0'.repeat(32)), null, '0 is not in the z-base-32 alphabet');
  assert.equal(state.lists, 3, 'malformed hashes never reach storage');
});

test('a miss rebuilds at most once per missRefreshMs; the map refreshes after refreshMs', async () => {
  const { state, directory } = fixture(['alice']);
  assert.equal(await directory.byOpenPgpKeyHash(openPgpKeyHash('alice')), 'alice');
  assert.equal(state.lists, 1);
  state.names.push('bob');
  // Within 5 s of the last rebuild, a flood of misses costs nothing.
  for (let i = 0; i < 50; i++) assert.equal(await directory.byOpenPgpKeyHash(openPgpKeyHash(`nobody${i}`)), null);
  assert.equal(state.lists, 1);
  assert.equal(await directory.byOpenPgpKeyHash(openPgpKeyHash('bob')), null, 'not yet');
  state.now = 5_000;
  assert.equal(await directory.byOpenPgpKeyHash(openPgpKeyHash('bob')), 'bob', 'a miss after 5 s rebuilds');
  assert.equal(state.lists, 2);
  state.names.splice(state.names.indexOf('alice'), 1);
  state.now = 64_999;
  assert.equal(
    await directory.byOpenPgpKeyHash(openPgpKeyHash('alice')),
    'alice',
    'hits are served from the map until it is 60 s old',
  );
  state.now = 65_000;
  assert.equal(
    await directory.byOpenPgpKeyHash(openPgpKeyHash('alice')),
    null,
    'a deleted account disappears at the refresh',
  );
  directory.invalidate();
  state.names.push('carol');
  assert.equal(await directory.byWkdHash(wkdHash('carol')), 'carol', 'invalidate() makes the next lookup rebuild');
});

test('concurrent lookups share one rebuild; a failed rebuild keeps the previous map', async () => {
  const { state, directory } = fixture(['alice']);
  const results = await Promise.all(Array.from({ length: 20 }, () => directory.byWkdHash(wkdHash('alice'))));
  assert.ok(results.every((r) => r === 'alice'));
  assert.equal(state.lists, 1);
  state.fail = true;
  state.now = 120_000;
  assert.equal(await directory.byWkdHash(wkdHash('alice')), 'alice', 'stale but served');
  const before = state.lists;
  for (let i = 0; i < 20; i++) await directory.byWkdHash(wkdHash(`x${i}`));
  assert.equal(state.lists, before, 'no retry storm while storage is down');

  const empty = fixture(['alice']);
  empty.state.fail = true;
  await assert.rejects(
    empty.directory.byWkdHash(wkdHash('alice')),
    /storage down/,
    'with no map at all, the failure surfaces',
  );
});
