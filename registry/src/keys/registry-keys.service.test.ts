import assert from 'node:assert/strict';
import { test } from 'vitest';
import { followKeySetChain, signCheckpoint, unwrap, verifyCheckpoint } from '@caliopen/federation-protocol';
import { unitRegistry } from '../testing/unit-registry.ts';

const T0 = new Date('2026-03-01T00:00:00.000Z');
const DAY = 86_400;
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

test('the first key is sealed at rest, published, and signs what peers verify', async () => {
  const r = await unitRegistry(T0);
  try {
    const [record] = await r.keys.records();
    assert.ok(record);
    assert.match(record.privateSealed, /^v1\./);
    assert.ok(
      !record.privateSealed.includes((await r.keys.signingKey(T0)).privateJwk.d),
      'the private key is not stored in clear',
    );
    assert.equal(await r.keys.ensureInitialKey(T0, 365), null, 'init twice keeps the key');
    const jws = await signCheckpoint(
      { origin: 'o', treeSize: 0, rootHash: Buffer.alloc(32).toString('base64'), timestamp: 1 },
      await r.keys.signingKey(T0),
    );
    assert.ok(
      (await verifyCheckpoint(jws, { keySet: await r.keys.keySet(), now: Math.floor(T0.getTime() / 1000) })).ok,
    );
  } finally {
    await r.close();
  }
});

test('rotation with overlap: the new key signs from its start, the old one verifies until the overlap ends', async () => {
  const r = await unitRegistry(T0);
  try {
    const old = await r.keys.signingKey(T0);
    const { kid, document } = await r.keys.rotate(T0, {
      activateInSeconds: DAY,
      overlapSeconds: 14 * DAY,
      lifetimeDays: 365,
    });
    assert.notEqual(kid, old.kid);
    assert.equal(document.keys.length, 2);
    // Before activation the old key still signs; the new one is already published.
    assert.equal((await r.keys.signingKey(at(DAY - 1))).kid, old.kid);
    assert.ok((await r.keys.document()).keys.some((k) => k.kid === kid));
    assert.equal((await r.keys.signingKey(at(DAY))).kid, kid);
    const keySet = await r.keys.keySet();
    const signedByOld = await signCheckpoint(
      { origin: 'o', treeSize: 0, rootHash: Buffer.alloc(32).toString('base64'), timestamp: 1 },
      old,
    );
    const nowS = Math.floor(T0.getTime() / 1000);
    assert.ok(
      (await verifyCheckpoint(signedByOld, { keySet, now: nowS + 15 * DAY - 1 })).ok,
      'old key valid during the overlap',
    );
    const late = await verifyCheckpoint(signedByOld, { keySet, now: nowS + 15 * DAY });
    assert.equal(late.ok ? 'ok' : late.error.code, 'checkpoint_key_outside_validity');
    // The window change is stored, not only returned.
    const stored = (await r.keys.records()).find((k) => k.kid === old.kid)!;
    assert.equal(stored.notAfter, nowS + 15 * DAY);
  } finally {
    await r.close();
  }
});

test('with every key expired the registry refuses to sign, saying what to do', async () => {
  const r = await unitRegistry(T0);
  try {
    await assert.rejects(
      r.keys.signingKey(at(400 * DAY)),
      (e: Error & { code?: string }) =>
        e.code === 'registry_key_unavailable' && /rotate/.test(e.message + (e as { detail?: string }).detail),
    );
  } finally {
    await r.close();
  }
});

test('every rotation is a statement chained from the set before it: a peer pinned to the first set follows them to the set published now', async () => {
  const r = await unitRegistry(T0);
  try {
    const pinned = await r.keys.keySet();
    assert.deepEqual(await r.keys.statements(), [], 'no rotation yet');
    await r.keys.rotate(T0, { activateInSeconds: DAY, overlapSeconds: 14 * DAY, lifetimeDays: 365 });
    await r.keys.rotate(at(20 * DAY), { activateInSeconds: DAY, overlapSeconds: 14 * DAY, lifetimeDays: 365 });
    const statements = await r.keys.statements();
    assert.equal(statements.length, 2);
    const now = Math.floor(T0.getTime() / 1000) + 30 * DAY;
    const followed = unwrap(await followKeySetChain(pinned, statements, { now, registry: 'registry.unit.test' }));
    assert.equal(followed.sequence, 2);
    const published = (await r.keys.document()).keys;
    assert.deepEqual(
      followed.keySet.document.keys.map((k) => [k.kid, k.notBefore, k.notAfter]).sort(),
      published.map((k) => [k.kid, k.notBefore, k.notAfter]).sort(),
      'the chain leads to exactly the published set',
    );
    // The second statement alone does not chain from the pinned set: its signer is not pinned.
    const alone = await followKeySetChain(pinned, statements.slice(1), { now });
    assert.equal(alone.ok ? 'ok' : alone.error.code, 'key_set_statement_unknown_key');
  } finally {
    await r.close();
  }
});
