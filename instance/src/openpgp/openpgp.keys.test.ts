import assert from 'node:assert/strict';
import { beforeAll, describe, test } from 'vitest';
import fc from 'fast-check';
import * as openpgp from 'openpgp';
import { generateTestKey, revokedPublicKey, type TestKey } from './openpgp.fixture.ts';
import { isKeyError, type KeyError, type KeyErrorCode, loadPublicKey, parsePublicKey } from './openpgp.keys.ts';

/**
 * The instant keys are checked at: ahead of the wall clock, so that every key, signature and revocation the
 * tests make (after this module loads, seconds later on a busy machine) is in its past. Checking at the
 * module's load time failed on CI: a key made a second later has a self-signature "in the future".
 */
const now = new Date(Date.now() + 10 * 60_000);

async function refused(
  input: string | Uint8Array,
  code: KeyErrorCode,
  options: { address?: string; maxBytes?: number; now?: Date } = {},
): Promise<KeyError> {
  try {
    const parsed = await parsePublicKey(input, {
      now: options.now ?? now,
      ...(options.address ? { address: options.address } : {}),
      ...(options.maxBytes ? { maxBytes: options.maxBytes } : {}),
    });
    assert.fail(`expected ${code}, but the key was accepted (${parsed.fingerprint})`);
  } catch (e) {
    assert.ok(isKeyError(e), `expected a KeyError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
}

/** The binary key with one more OpenPGP packet appended. */
function withPacket(key: openpgp.PublicKey, p: openpgp.UserIDPacket): Uint8Array {
  const list = key.toPacketList();
  list.push(p);
  return list.write();
}

describe('parsePublicKey', () => {
  let bob: TestKey;
  let six: TestKey;
  beforeAll(async () => {
    bob = await generateTestKey('Bob@Example.ORG', { name: 'Bob', alsoEmails: ['bob@work.example'] });
    six = await generateTestKey('six@example.org', { v6: true });
  });

  test('reads an armoured v4 key: fingerprint, ids, algorithm, normalised addresses, public bytes only', async () => {
    const k = await parsePublicKey(bob.armoredPublic, { now });
    assert.equal(k.fingerprint, bob.fingerprint);
    assert.match(k.fingerprint, /^[0-9a-f]{40}$/);
    assert.equal(k.keyId, k.fingerprint.slice(-16), 'a v4 key ID is the low 64 bits of the fingerprint');
    assert.equal(k.version, 4);
    assert.equal(k.algorithm, 'ed25519');
    assert.deepEqual(k.addresses, ['bob@example.org', 'bob@work.example']);
    assert.deepEqual(k.userIds, ['Bob <Bob@Example.ORG>', '<bob@work.example>']);
    assert.equal(k.canEncrypt, true);
    assert.equal(k.expires, null);
    assert.ok(Math.abs(k.created.getTime() - Date.now()) < 60_000);
    assert.match(k.armored, /^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
    const again = await openpgp.readKey({ binaryKey: k.publicKey });
    assert.equal(again.isPrivate(), false);
    assert.equal(again.getFingerprint(), k.fingerprint);
    // No secret key packet (tags 5 and 7) in what would be stored.
    assert.ok(
      again
        .toPacketList()
        .every((p) => !(p instanceof openpgp.SecretKeyPacket) && !(p instanceof openpgp.SecretSubkeyPacket)),
    );
    assert.notEqual(await loadPublicKey(k.publicKey), null);
  });

  test('reads binary input, and armour given as bytes', async () => {
    const fromBinary = await parsePublicKey(bob.publicKey.write(), { now });
    assert.equal(fromBinary.fingerprint, bob.fingerprint);
    const fromArmorBytes = await parsePublicKey(
      new TextEncoder().encode(`Here is my key:\n\n${bob.armoredPublic}\nCheers`),
      { now },
    );
    assert.equal(fromArmorBytes.fingerprint, bob.fingerprint);
  });

  test('reads an RFC 9580 v6 key', async () => {
    const k = await parsePublicKey(six.armoredPublic, { now, address: 'six@example.org' });
    assert.equal(k.version, 6);
    assert.match(k.fingerprint, /^[0-9a-f]{64}$/);
    assert.equal(k.keyId, k.fingerprint.slice(0, 16), 'a v6 key ID is the high 64 bits of the fingerprint');
    assert.equal(k.canEncrypt, true);
  });

  test('the address must be carried by a user ID (compared normalised)', async () => {
    assert.equal(
      (await parsePublicKey(bob.armoredPublic, { now, address: 'BOB@example.org' })).fingerprint,
      bob.fingerprint,
    );
    assert.equal(
      (await parsePublicKey(bob.armoredPublic, { now, address: '<bob@WORK.example>' })).fingerprint,
      bob.fingerprint,
    );
    const e = await refused(bob.armoredPublic, 'key_address_mismatch', { address: 'alice@example.org' });
    assert.match(e.message, /bob@example\.org/);
    await refused(bob.armoredPublic, 'key_address_mismatch', { address: 'not an address' });
  });

  test('a user ID without a valid self-signature does not count (anyone can append one)', async () => {
    const forged = withPacket(
      bob.publicKey,
      openpgp.UserIDPacket.fromObject({ name: 'Victim', email: 'victim@bank.example' }),
    );
    const k = await parsePublicKey(forged, { now });
    assert.ok(!k.addresses.includes('victim@bank.example'));
    assert.ok(!k.userIds.some((u) => u.includes('victim')));
    await refused(forged, 'key_address_mismatch', { address: 'victim@bank.example' });
  });

  test('private keys are refused, armoured or binary, and nothing private comes back', async () => {
    const e = await refused(bob.armoredPrivate, 'key_private');
    assert.doesNotMatch(e.message, /PRIVATE KEY BLOCK-----\s*\n\S/, 'the message does not echo the key');
    await refused(bob.privateKey.write(), 'key_private');
    // A private key dressed up as a public key block.
    const disguised = bob.armoredPrivate.replaceAll('PRIVATE KEY BLOCK', 'PUBLIC KEY BLOCK');
    await refused(disguised, 'key_private');
    // A public key followed by a private one.
    await refused(`${bob.armoredPublic}\n${six.armoredPrivate}`, 'key_private');
  });

  test('malformed input: garbage, bad armour, truncated packets, not a key, several keys', async () => {
    await refused('', 'key_malformed');
    await refused('hello, this is not a key', 'key_malformed');
    await refused(new Uint8Array([1, 2, 3, 4, 5]), 'key_malformed');
    await refused(bob.armoredPublic.slice(0, Math.floor(bob.armoredPublic.length / 2)), 'key_malformed');
    const lines = bob.armoredPublic.split('\n');
    await refused(lines.filter((_, i) => i !== 4).join('\n'), 'key_malformed'); // a base64 line missing
    const binary = bob.publicKey.write();
    await refused(binary.subarray(0, binary.length - 20), 'key_malformed');
    await refused(binary.subarray(0, 3), 'key_malformed');
    const signature = await openpgp.sign({
      message: await openpgp.createMessage({ text: 'x' }),
      signingKeys: bob.privateKey,
      detached: true,
    });
    await refused(signature, 'key_malformed');
    await refused(`${bob.armoredPublic}\n${six.armoredPublic}`, 'key_malformed');
    await refused(new Uint8Array([...bob.publicKey.write(), ...six.publicKey.write()]), 'key_malformed');
  });

  test('a primary key packet alone (no user ID, no self-signature) is never accepted', async () => {
    const list = new openpgp.PacketList();
    list.push(bob.publicKey.keyPacket);
    try {
      await parsePublicKey(list.write(), { now });
      assert.fail('accepted a bare key packet');
    } catch (e) {
      assert.ok(isKeyError(e) && ['key_malformed', 'key_unusable'].includes(e.code), String(e));
    }
  });

  test('oversize keys are refused before parsing', async () => {
    const big = bob.armoredPublic.replace('-----END', `${'A'.repeat(70 * 1024)}\n-----END`);
    const e = await refused(big, 'key_too_large');
    assert.match(e.message, /65536/);
    await refused(bob.armoredPublic, 'key_too_large', { maxBytes: 100 });
    await refused(new Uint8Array(64 * 1024 + 1), 'key_too_large');
  });

  test('expired keys are refused at `now`, accepted before their expiry', async () => {
    const created = new Date(now.getTime() - 10 * 24 * 3600 * 1000);
    const old = await generateTestKey('old@example.org', { date: created, expiresInSeconds: 24 * 3600 });
    const e = await refused(old.armoredPublic, 'key_expired');
    assert.match(e.message, /expired/);
    const k = await parsePublicKey(old.armoredPublic, { now: new Date(created.getTime() + 3600 * 1000) });
    assert.equal(k.expires?.getTime(), created.getTime() - (created.getTime() % 1000) + 24 * 3600 * 1000);
  });

  test('revoked keys are refused', async () => {
    await refused(await revokedPublicKey(bob), 'key_revoked');
  });

  test('hostile bytes and strings only ever give a KeyError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 2048 }), fc.string({ maxLength: 2048 })), async (input) => {
        try {
          await parsePublicKey(input, { now });
          return false; // random input is never a valid key
        } catch (e) {
          return isKeyError(e);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('a key with flipped bits is refused with a KeyError or read as some valid key, never crashes', async () => {
    const binary = bob.publicKey.write();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(binary.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        async (flips) => {
          const mutated = Uint8Array.from(binary);
          for (const [at, x] of flips) mutated[at]! ^= x;
          try {
            const k = await parsePublicKey(mutated, { now });
            return k.publicKey.length > 0;
          } catch (e) {
            return isKeyError(e);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
