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
import { PrekeyStore } from './prekey.store.ts';

const dirs: string[] = [];
function tmp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'caliopen-prekeys-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
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
    const store = new PrekeyStore({ dataDir: dir, box, identity, clock });

    const doc = await store.published();
    const verified = await verifyPrekeyList(doc, {
      signingKeys: [signing.publicJwk],
      expectedDomain: 'beta.test',
      now,
    });
    assert.ok(verified.ok, 'signed by the instance signing key, for its domain');
    const first = verified.value[0]!;
    assert.equal(store.privateHalf(first.kid)?.kid, first.kid);
    const file = readFileSync(join(dir, 'federation', 'prekeys.json'), 'utf8');
    assert.ok(!file.includes(store.privateHalf(first.kid)!.privateJwk.d), 'the private half is sealed in the file');

    // Reloaded from disk (another process, same master key): the same prekey, still usable.
    const reloaded = new PrekeyStore({ dataDir: dir, box, identity, clock });
    assert.equal(reloaded.privateHalf(first.kid)?.privateJwk.d, store.privateHalf(first.kid)?.privateJwk.d);

    // Near the end of the window a successor is published alongside.
    now += DEFAULT_PREKEY_WINDOW_SECONDS - 3600;
    const both = await store.published();
    assert.equal(both.prekeys.length, 2);

    // Past the window + grace: the first one's private half is gone, from memory and from the file.
    now = first.notAfter + DEFAULT_PREKEY_GRACE_SECONDS;
    await store.rotate();
    assert.equal(store.privateHalf(first.kid), undefined);
    assert.equal(
      new PrekeyStore({ dataDir: dir, box, identity, clock }).privateHalf(first.kid),
      undefined,
      'not in the file either',
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
    const store = new PrekeyStore({ dataDir: dir, box: new SecretBox(randomBytes(32)), identity, clock });
    await store.rotate();
    const kid = store.list()[0]!.prekey.kid;
    assert.throws(() =>
      new PrekeyStore({ dataDir: dir, box: new SecretBox(randomBytes(32)), identity, clock }).privateHalf(kid),
    );
  });
});
