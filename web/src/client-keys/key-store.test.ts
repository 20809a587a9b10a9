import assert from 'node:assert/strict';
import { IDBFactory } from 'fake-indexeddb';
import { describe, test } from 'vitest';
import { ClientKeyError } from './client-key.errors.ts';
import { ClientKeyStore } from './key-store.ts';

const ARMORED = '-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nxxxx\n-----END PGP PRIVATE KEY BLOCK-----\n';

describe('the browser’s key store (IndexedDB)', () => {
  test('keeps, reads back, replaces and removes one record per account', async () => {
    const store = new ClientKeyStore(() => new IDBFactory());
    assert.equal(await store.get('alice'), null, 'nothing kept at first');
    await store.put('alice', [ARMORED], ['ABCDEF']);
    const kept = await store.get('alice');
    assert.deepEqual(kept?.keys, [ARMORED]);
    assert.deepEqual(kept?.fingerprints, ['abcdef'], 'fingerprints in lowercase');
    assert.equal(await store.get('bob'), null, 'another account sees nothing');

    await store.put('alice', [ARMORED, ARMORED], ['aa', 'bb']);
    assert.deepEqual((await store.get('alice'))?.fingerprints, ['aa', 'bb'], 'replaced, not added to');
    await store.remove('alice');
    assert.equal(await store.get('alice'), null);
  });

  test('survives a new store object on the same database (a reload)', async () => {
    const factory = new IDBFactory();
    await new ClientKeyStore(() => factory).put('alice', [ARMORED], ['aa']);
    assert.deepEqual((await new ClientKeyStore(() => factory).get('alice'))?.fingerprints, ['aa']);
  });

  test('refuses what is not an armoured private key (a public key, a clear text), and mismatched lists', async () => {
    const store = new ClientKeyStore(() => new IDBFactory());
    await assert.rejects(
      store.put('alice', ['-----BEGIN PGP PUBLIC KEY BLOCK-----\n...'], ['aa']),
      (e) => e instanceof ClientKeyError && e.problem === 'not_a_private_key',
    );
    await assert.rejects(store.put('alice', [ARMORED], []), /pair/);
    await assert.rejects(store.put('alice', [], []), /pair/);
    assert.equal(await store.get('alice'), null);
  });

  test('a browser without IndexedDB says so with a stable problem', async () => {
    const store = new ClientKeyStore(() => undefined);
    await assert.rejects(store.get('alice'), (e) => e instanceof ClientKeyError && e.problem === 'no_storage');
  });
});
