import assert from 'node:assert/strict';
import { beforeAll, describe, test } from 'vitest';
import fc from 'fast-check';
import type { CorrespondentKey, KeySource, KeyStatus } from '../keys/public-key.entity.ts';
import { hostileCorpus } from '../mail/hostile-mail.fixture.ts';
import { detectOpenPgp } from '../openpgp/openpgp.detect.ts';
import { gatherOpenPgpFacts, type OpenPgpFacts } from './openpgp.facts.ts';
import {
  compressionBomb,
  generateTestKey,
  inlineEncrypted,
  inlineMail,
  inlineSigned,
  inlineSignedMessage,
  pgpMimeEncrypted,
  pgpMimeSigned,
  type TestKey,
} from '../openpgp/openpgp.fixture.ts';
import { encryptionRecipients, verifySignature } from '../openpgp/openpgp.verify.ts';

/** Ahead of the wall clock, so every key and signature the tests make is in its past (see openpgp.keys.test.ts). */
const now = new Date(Date.now() + 10 * 60_000);
const mail = { from: 'Bob <bob@example.org>', to: 'alice@alpha.test' };

function stored(
  k: TestKey,
  over: { status?: KeyStatus; source?: KeySource; verifiedAt?: Date | null; address?: string } = {},
): CorrespondentKey {
  return {
    accountId: 'acc',
    address: over.address ?? 'bob@example.org',
    fingerprint: k.fingerprint,
    version: k.publicKey.keyPacket.version,
    algorithm: 'ed25519',
    publicKey: k.publicKey.write(),
    source: over.source ?? 'autocrypt',
    status: over.status ?? 'active',
    keyCreatedAt: k.publicKey.getCreationTime(),
    keyExpiresAt: null,
    verifiedAt: over.verifiedAt ?? null,
    firstSeenAt: now,
    lastSeenAt: now,
  };
}

const signingKeyId = async (k: TestKey) => (await k.publicKey.getSigningKey()).getKeyID().toHex();
const encryptionKeyId = async (k: TestKey) => (await k.publicKey.getEncryptionKey()).getKeyID().toHex();

function assertNeverValid(f: OpenPgpFacts, what: string): void {
  assert.notEqual(f.signature, 'valid', `${what}: ${JSON.stringify(f)}`);
  assert.equal(f.signerKeyTrust, null, what);
}

describe('OpenPGP facts of incoming mail', () => {
  let bob: TestKey;
  let six: TestKey;
  let eve: TestKey;
  let alice: TestKey;
  beforeAll(async () => {
    [bob, six, eve, alice] = await Promise.all([
      generateTestKey('bob@example.org'),
      generateTestKey('bob@example.org', { v6: true }),
      generateTestKey('eve@example.org'),
      generateTestKey('alice@alpha.test'),
    ]);
  });

  describe('PGP/MIME signed (RFC 3156 §5)', () => {
    test('valid against the sender’s key; the trust is the key’s source, or verified', async () => {
      const raw = await pgpMimeSigned({ ...mail, signer: bob });
      const part = detectOpenPgp(raw);
      assert.equal(part.kind, 'pgp-mime-signed');
      assert.match(part.signedContent!.toString('latin1'), /^Content-Type: text\/plain; charset=utf-8\r\n/);
      assert.match(String(part.signature), /^-----BEGIN PGP SIGNATURE-----/);
      const f = await gatherOpenPgpFacts(raw, [stored(bob, { source: 'dnssec' })], now);
      assert.deepEqual(f, {
        kind: 'pgp-mime-signed',
        encrypted: false,
        encryptedTo: [],
        signature: 'valid',
        signerKeyId: await signingKeyId(bob),
        signerFingerprint: bob.fingerprint,
        signerKeyTrust: 'dnssec',
        problem: null,
      });
      const verified = await gatherOpenPgpFacts(raw, [stored(bob, { verifiedAt: now })], now);
      assert.equal(verified.signerKeyTrust, 'verified');
    });

    test('valid when the mail was stored with bare LF line ends (canonicalised back to CRLF)', async () => {
      const raw = await pgpMimeSigned({ ...mail, signer: bob, lf: true });
      assert.ok(!raw.includes('\r\n'));
      assert.equal((await gatherOpenPgpFacts(raw, [stored(bob)], now)).signature, 'valid');
    });

    test('valid with a base64-encoded signature part, and one level down in multipart/mixed (list footer)', async () => {
      assert.equal(
        (
          await gatherOpenPgpFacts(
            await pgpMimeSigned({ ...mail, signer: bob, base64Signature: true }),
            [stored(bob)],
            now,
          )
        ).signature,
        'valid',
      );
      const listed = await pgpMimeSigned({ ...mail, signer: bob, listFooter: true });
      const f = await gatherOpenPgpFacts(listed, [stored(bob)], now);
      assert.equal(f.kind, 'pgp-mime-signed');
      assert.equal(f.signature, 'valid');
    });

    test('a v6 (RFC 9580) key signs and verifies', async () => {
      const f = await gatherOpenPgpFacts(
        await pgpMimeSigned({ ...mail, signer: six }),
        [stored(bob), stored(six)],
        now,
      );
      assert.equal(f.signature, 'valid');
      assert.equal(f.signerFingerprint, six.fingerprint);
    });

    test('a sender clock a few minutes ahead is tolerated; a signature hours in the future is not valid', async () => {
      const t = new Date();
      const ahead = await pgpMimeSigned({ ...mail, signer: bob, signedAt: new Date(t.getTime() + 5 * 60_000) });
      assert.equal((await gatherOpenPgpFacts(ahead, [stored(bob)], t)).signature, 'valid');
      const future = await pgpMimeSigned({ ...mail, signer: bob, signedAt: new Date(t.getTime() + 3 * 3600_000) });
      const f = await gatherOpenPgpFacts(future, [stored(bob)], t);
      assert.equal(f.signature, 'invalid');
      assert.match(f.problem ?? '', /future/);
    });

    test('one byte changed in the signed part: invalid, reported as tampering', async () => {
      const f = await gatherOpenPgpFacts(
        await pgpMimeSigned({ ...mail, signer: bob, tamper: true }),
        [stored(bob)],
        now,
      );
      assert.equal(f.signature, 'invalid');
      assert.equal(f.signerFingerprint, bob.fingerprint);
      assert.match(f.problem ?? '', /does not match the content \(tampered\?\)/);
      assertNeverValid(f, 'tampered');
    });

    test('signed by a key we do not hold: unknown_key, naming the key; a conflict when another key is pinned', async () => {
      const raw = await pgpMimeSigned({ ...mail, signer: eve });
      const f = await gatherOpenPgpFacts(raw, [stored(bob)], now);
      assert.equal(f.signature, 'unknown_key');
      assert.equal(f.signerKeyId, await signingKeyId(eve));
      assert.equal(f.signerFingerprint, null);
      // Bob's key is pinned: a signature by any other key is trust on first use's conflict (point 11).
      assert.equal(f.keyConflict, true);
      assert.equal(
        f.problem,
        `Signed by an unknown key ${eve.fingerprint}, not the key pinned for the sender (conflict).`,
      );
      // No key pinned: merely a key we do not have yet.
      const nothingPinned = await gatherOpenPgpFacts(raw, [], now);
      assert.equal(nothingPinned.signature, 'unknown_key');
      assert.equal(nothingPinned.keyConflict, undefined);
      assert.equal(nothingPinned.problem, null);
      assert.equal(
        (await gatherOpenPgpFacts(raw, [stored(bob, { status: 'superseded' })], now)).keyConflict,
        undefined,
      );
    });

    test('a key known only by its fingerprint (source signature) is matched by the issuer fingerprint', async () => {
      const raw = await pgpMimeSigned({ ...mail, signer: eve });
      const keyless = { ...stored(eve, { status: 'conflict', source: 'signature' }), publicKey: new Uint8Array(0) };
      const f = await gatherOpenPgpFacts(raw, [stored(bob), keyless], now);
      assert.equal(f.signature, 'unknown_key');
      assert.equal(f.keyConflict, true);
      assert.match(
        f.problem ?? '',
        /not accepted \(conflict\): [0-9a-f]{40}, an unknown key known only by its fingerprint/,
      );
      const rejected = await gatherOpenPgpFacts(raw, [stored(bob), { ...keyless, status: 'rejected' }], now);
      assert.equal(rejected.keyConflict, undefined, 'the user refused it already');
      assert.match(rejected.problem ?? '', /not accepted \(rejected\)/);
    });

    test('only active or superseded keys make a signature valid (not conflict, not rejected)', async () => {
      const raw = await pgpMimeSigned({ ...mail, signer: bob });
      assert.equal((await gatherOpenPgpFacts(raw, [stored(bob, { status: 'superseded' })], now)).signature, 'valid');
      for (const status of ['conflict', 'rejected'] as const) {
        const f = await gatherOpenPgpFacts(raw, [stored(bob, { status })], now);
        assert.equal(f.signature, 'unknown_key', status);
        assert.match(f.problem ?? '', new RegExp(`not accepted \\(${status}\\)`));
        assertNeverValid(f, status);
      }
    });

    test('broken structures: malformed signature, missing parts, wrong part type', async () => {
      const raw = (await pgpMimeSigned({ ...mail, signer: bob })).toString('latin1');
      const garbled = raw.replace(/(-----BEGIN PGP SIGNATURE-----\r\n\r\n)(\S{10})/, '$1!!!!!!!!!!');
      const f1 = await gatherOpenPgpFacts(Buffer.from(garbled, 'latin1'), [stored(bob)], now);
      assert.equal(f1.signature, 'invalid');
      assert.match(f1.problem ?? '', /malformed/);

      const boundary = /boundary="([^"]+)"/.exec(raw)![1]!;
      const onePart =
        raw.slice(0, raw.indexOf(`--${boundary}\r\nContent-Type: application/pgp-signature`)) + `--${boundary}--\r\n`;
      const f2 = await gatherOpenPgpFacts(Buffer.from(onePart, 'latin1'), [stored(bob)], now);
      assert.equal(f2.kind, 'pgp-mime-signed');
      assert.equal(f2.signature, 'invalid');
      assert.match(f2.problem ?? '', /1 part\(s\); two expected/);

      const wrongType = raw.replace('Content-Type: application/pgp-signature', 'Content-Type: text/plain');
      const f3 = await gatherOpenPgpFacts(Buffer.from(wrongType, 'latin1'), [stored(bob)], now);
      assert.equal(f3.signature, 'invalid');
      assert.match(f3.problem ?? '', /not application\/pgp-signature/);

      const noBoundary = raw.replace(/; boundary="[^"]+"/, '');
      assertNeverValid(await gatherOpenPgpFacts(Buffer.from(noBoundary, 'latin1'), [stored(bob)], now), 'no boundary');
    });

    test('any byte flipped inside the signed part: never valid, never a crash', async () => {
      const raw = await pgpMimeSigned({ ...mail, signer: bob });
      const boundary = /boundary="([^"]+)"/.exec(raw.toString('latin1'))![1]!;
      const start = raw.indexOf(`--${boundary}\r\n`) + boundary.length + 4;
      const end = raw.indexOf(`\r\n--${boundary}`, start);
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: start, max: end - 1 }), fc.integer({ min: 1, max: 255 }), async (at, x) => {
          const mutated = Buffer.from(raw);
          mutated[at]! ^= x;
          const f = await gatherOpenPgpFacts(mutated, [stored(bob)], now);
          return f.signature !== 'valid';
        }),
        { numRuns: 60 },
      );
    });
  });

  describe('PGP/MIME encrypted (RFC 3156 §4)', () => {
    test('well-formed, with its recipients; a signature inside is unverifiable', async () => {
      const raw = await pgpMimeEncrypted({ ...mail, recipients: [alice, bob], signer: bob });
      const part = detectOpenPgp(raw);
      assert.equal(part.kind, 'pgp-mime-encrypted');
      const f = await gatherOpenPgpFacts(raw, [stored(bob)], now);
      assert.equal(f.kind, 'pgp-mime-encrypted');
      assert.equal(f.encrypted, true);
      assert.deepEqual(f.encryptedTo.sort(), [await encryptionKeyId(alice), await encryptionKeyId(bob)].sort());
      assert.equal(f.signature, 'unverifiable');
      assert.equal(f.problem, null);
      assert.deepEqual((await encryptionRecipients(part)).sort(), f.encryptedTo);
    });

    test('to a v6 key', async () => {
      const f = await gatherOpenPgpFacts(await pgpMimeEncrypted({ ...mail, recipients: [six] }), [], now);
      assert.equal(f.encrypted, true);
      assert.deepEqual(f.encryptedTo, [await encryptionKeyId(six)]);
    });

    test('truncated or garbage encrypted data is not "encrypted"', async () => {
      const raw = (await pgpMimeEncrypted({ ...mail, recipients: [alice] })).toString('latin1');
      const truncated = raw.replace(
        /(-----BEGIN PGP MESSAGE-----\r\n\r\n)([\s\S]*?)(-----END PGP MESSAGE-----)/,
        (_m, a: string, body: string, c: string) => `${a}${body.slice(0, 40)}\r\n${c}`,
      );
      const f1 = await gatherOpenPgpFacts(Buffer.from(truncated, 'latin1'), [], now);
      assert.equal(f1.kind, 'pgp-mime-encrypted');
      assert.equal(f1.encrypted, false);
      assert.match(f1.problem ?? '', /malformed/);
      assert.deepEqual(await encryptionRecipients(detectOpenPgp(Buffer.from(truncated, 'latin1'))), []);
      const garbage = raw.replace(/-----BEGIN PGP MESSAGE-----[\s\S]*-----END PGP MESSAGE-----/, 'hello');
      const f2 = await gatherOpenPgpFacts(Buffer.from(garbage, 'latin1'), [], now);
      assert.equal(f2.encrypted, false);
      assert.ok(f2.problem);
    });
  });

  describe('inline OpenPGP in the text body', () => {
    test('cleartext signed: valid; quoted-printable body: valid; tampered: invalid', async () => {
      const raw = await inlineSigned({ ...mail, signer: bob });
      assert.equal(detectOpenPgp(raw).kind, 'inline-signed');
      const f = await gatherOpenPgpFacts(raw, [stored(bob)], now);
      assert.equal(f.signature, 'valid');
      assert.equal(f.signerFingerprint, bob.fingerprint);
      assert.equal(
        (
          await gatherOpenPgpFacts(
            await inlineSigned({ ...mail, signer: bob, quotedPrintable: true }),
            [stored(bob)],
            now,
          )
        ).signature,
        'valid',
      );
      const t = await gatherOpenPgpFacts(
        await inlineSigned({ ...mail, signer: bob, tamper: true }),
        [stored(bob)],
        now,
      );
      assert.equal(t.signature, 'invalid');
      assert.match(t.problem ?? '', /tampered/);
      assert.equal((await gatherOpenPgpFacts(raw, [stored(eve)], now)).signature, 'unknown_key');
    });

    test('a signed (not encrypted) PGP MESSAGE block is inline-signed and verifies', async () => {
      const raw = await inlineSignedMessage({ ...mail, signer: bob });
      assert.equal(detectOpenPgp(raw).kind, 'inline-signed');
      const f = await gatherOpenPgpFacts(raw, [stored(bob)], now);
      assert.equal(f.signature, 'valid');
      assert.equal(f.encrypted, false);
    });

    test('encrypted inline: well-formed with recipients, signature unverifiable', async () => {
      const raw = await inlineEncrypted({ ...mail, recipients: [alice], signer: bob });
      const f = await gatherOpenPgpFacts(raw, [stored(bob)], now);
      assert.equal(f.kind, 'inline-encrypted');
      assert.equal(f.encrypted, true);
      assert.deepEqual(f.encryptedTo, [await encryptionKeyId(alice)]);
      assert.equal(f.signature, 'unverifiable');
    });

    test('a compression bomb is refused quickly, with a problem, never valid', async () => {
      const raw = inlineMail(mail, compressionBomb(64 * 1024 * 1024));
      assert.ok(raw.length < 200_000, 'the bomb is small on the wire');
      const before = process.memoryUsage().rss;
      const f = await gatherOpenPgpFacts(raw, [stored(bob)], now);
      assertNeverValid(f, 'bomb');
      assert.equal(f.signature, 'invalid');
      assert.match(f.problem ?? '', /Maximum decompressed message size exceeded/);
      assert.ok(process.memoryUsage().rss - before < 48 * 1024 * 1024, 'the 64 MiB were never expanded');
    });

    test('armour without its end, or broken inside', async () => {
      const f1 = await gatherOpenPgpFacts(
        inlineMail(mail, '-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nhello\n'),
        [stored(bob)],
        now,
      );
      assert.equal(f1.kind, 'inline-signed');
      assert.equal(f1.signature, 'invalid');
      assert.ok(f1.problem);
      const f2 = await gatherOpenPgpFacts(inlineMail(mail, '-----BEGIN PGP MESSAGE-----\n\nhQEMA\n'), [], now);
      assert.equal(f2.kind, 'inline-encrypted');
      assert.equal(f2.encrypted, false);
      const f3 = await gatherOpenPgpFacts(
        inlineMail(mail, '-----BEGIN PGP MESSAGE-----\n\n!!!!\n-----END PGP MESSAGE-----\n'),
        [],
        now,
      );
      assert.equal(f3.encrypted, false);
      assertNeverValid(f3, 'garbage block');
    });
  });

  test('plain mail has no OpenPGP facts and no problem', async () => {
    const raw = Buffer.from(
      'From: a@b.example\r\nTo: c@d.example\r\nSubject: hi\r\n\r\nJust text, mentioning -----BEGIN PGP MESSAGE----- in passing.\r\n',
    );
    assert.deepEqual(await gatherOpenPgpFacts(raw, [stored(bob)], now), {
      kind: 'none',
      encrypted: false,
      encryptedTo: [],
      signature: 'none',
      signerKeyId: null,
      signerFingerprint: null,
      signerKeyTrust: null,
      problem: null,
    });
  });

  test('verifySignature on parts that carry nothing to check', async () => {
    assert.equal((await verifySignature({ kind: 'none' }, [], now)).status, 'none');
    assert.equal((await verifySignature({ kind: 'pgp-mime-signed' }, [], now)).status, 'invalid');
    assert.equal(
      (await verifySignature({ kind: 'inline-signed', signature: new Uint8Array([0x88, 1, 2]) }, [], now)).status,
      'invalid',
    );
    // Stored keys that are garbage are skipped, not fatal.
    const raw = await pgpMimeSigned({ ...mail, signer: bob });
    const check = await verifySignature(
      detectOpenPgp(raw),
      [
        { fingerprint: 'x', publicKey: new Uint8Array([1, 2, 3]) },
        { fingerprint: bob.fingerprint, publicKey: bob.publicKey.write() },
      ],
      now,
    );
    assert.equal(check.status, 'valid');
  });

  test('the hostile mail corpus: never a crash, never a valid signature', async () => {
    for (const m of hostileCorpus()) {
      const f = await gatherOpenPgpFacts(m.raw, [stored(bob)], now);
      assertNeverValid(f, m.name);
      assert.equal(f.encrypted, false, m.name);
    }
  });

  test('random bytes: never a crash, never a valid signature', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), async (bytes) => {
        const f = await gatherOpenPgpFacts(Buffer.from(bytes), [stored(bob)], now);
        return f.signature !== 'valid' && f.encrypted === false;
      }),
      { numRuns: 200 },
    );
  });
});
