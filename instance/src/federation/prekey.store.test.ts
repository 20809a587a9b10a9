import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, test } from 'vitest';
import {
  DEFAULT_PREKEY_GRACE_SECONDS,
  DEFAULT_PREKEY_WINDOW_SECONDS,
  generateEd25519KeyPair,
  verifyPrekeyList,
} from '@caliopen/federation-protocol';
import { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import { SqliteStorage } from '../storage/storage.sqlite.ts';
import { PrekeyStore } from './prekey.store.ts';

const dirs: string[] = [];
function tmp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'caliopen-prekeys-'));
  dirs.push(dir);
  return dir;
}
const opened: SqliteStorage[] = [];
/** One instance's storage on disk; `open(dir)` again is another process of the same instance. */
function open(dir: string): SqliteStorage {
  const storage = SqliteStorage.inDataDir(dir);
  opened.push(storage);
  return storage;
}
afterAll(async () => {
  for (const s of opened) await s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const signing = generateEd25519KeyPair();
const identity = {
  domain: 'beta.test',
  signing: { publicJwk: signing.publicJwk as never, privateJwk: signing.privateJwk as never, thumbprint: signing.kid },
};

describe('PrekeyStore', () => {
  test('publishes a signed prekey, seals its private half at rest, rotates by the plan and deletes private halves past window + grace', async () => {
    const dir = tmp();
    const box = new SecretBox(randomBytes(32));
    let now = 1_800_000_000;
    const clock = () => new Date(now * 1000);
    const store = new PrekeyStore({ repository: open(dir).prekeys, box, identity, clock });

    const doc = await store.published();
    const verified = await verifyPrekeyList(doc, {
      signingKeys: [signing.publicJwk],
      expectedDomain: 'beta.test',
      now,
    });
    assert.ok(verified.ok, 'signed by the instance signing key, for its domain');
    const first = verified.value[0]!;
    const half = await store.privateHalf(first.kid);
    assert.equal(half?.kid, first.kid);
    const file = readFileSync(join(dir, 'instance.db')).toString('latin1');
    assert.ok(!file.includes(half!.privateJwk.d), 'the private half is sealed in the storage');
    assert.equal(await store.privateHalf(first.kid), half, 'unsealed once, then the same half for every envelope');

    // Another process of the instance (same storage, same master key): the same prekey, still usable.
    const other = new PrekeyStore({ repository: open(dir).prekeys, box, identity, clock });
    assert.equal((await other.privateHalf(first.kid))?.privateJwk.d, half?.privateJwk.d);

    // Near the end of the window a successor is published alongside.
    now += DEFAULT_PREKEY_WINDOW_SECONDS - 3600;
    const both = await store.published();
    assert.equal(both.prekeys.length, 2);

    // Past the window + grace: the first one's private half is gone, from memory and from the file.
    now = first.notAfter + DEFAULT_PREKEY_GRACE_SECONDS;
    await store.rotate();
    assert.equal(await store.privateHalf(first.kid), undefined);
    assert.equal(
      await new PrekeyStore({ repository: open(dir).prekeys, box, identity, clock }).privateHalf(first.kid),
      undefined,
      'not in the storage either',
    );
    assert.ok(
      (await open(dir).prekeys.list()).every((p) => p.prekey.kid !== first.kid || p.privateSealed === null),
      'deleted from the storage',
    );
    const after = await verifyPrekeyList(await store.published(), {
      signingKeys: [signing.publicJwk],
      expectedDomain: 'beta.test',
      now,
    });
    assert.ok(after.ok && after.value.every((p) => p.kid !== first.kid));
  });

  test('a private half sealed under another master key does not open', async () => {
    const dir = tmp();
    const clock = () => new Date(1_800_000_000_000);
    const store = new PrekeyStore({
      repository: open(dir).prekeys,
      box: new SecretBox(randomBytes(32)),
      identity,
      clock,
    });
    await store.rotate();
    const kid = store.list()[0]!.prekey.kid;
    await assert.rejects(
      new PrekeyStore({
        repository: open(dir).prekeys,
        box: new SecretBox(randomBytes(32)),
        identity,
        clock,
      }).privateHalf(kid),
    );
  });

  test("two processes of one instance rotating at once publish one prekey per window, and each opens the other's", async () => {
    const dir = tmp();
    const box = new SecretBox(randomBytes(32));
    let now = 1_800_000_000;
    const clock = () => new Date(now * 1000);
    const stores = Array.from(
      { length: 4 },
      () => new PrekeyStore({ repository: open(dir).prekeys, box, identity, clock }),
    );
    const docs = await Promise.all(stores.map((s) => s.published()));
    assert.equal(new Set(docs.flatMap((d) => d.prekeys)).size, 1, 'one prekey, whoever rotated first');
    assert.deepEqual(docs[1], docs[0]);
    // Near the end of the window: again one successor between them.
    now += DEFAULT_PREKEY_WINDOW_SECONDS - 3600;
    const next = await Promise.all(stores.map((s) => s.published()));
    assert.equal(new Set(next.flatMap((d) => d.prekeys)).size, 2);
    for (const s of stores) assert.deepEqual((await s.published()).prekeys.sort(), next[0]!.prekeys.sort());
    // A prekey generated by one process opens in every other.
    for (const { prekey } of stores[3]!.list())
      for (const s of stores) assert.equal((await s.privateHalf(prekey.kid))?.kid, prekey.kid);
  });
});
