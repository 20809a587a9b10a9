import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, test } from 'vitest';
import * as openpgp from 'openpgp';
import type { CorrespondentKey, KeySource, KeyStatus } from '../keys/public-key.entity.ts';
import { hostileCorpus } from '../mail/hostile-mail.fixture.ts';
import { parseMessage } from '../mail/message.parser.ts';
import { OPENPGP_LIMITS } from './openpgp.config.ts';
import { decryptMessage } from './openpgp.decrypt.ts';
import { carryDecryptedFacts, examineOpenPgp, examineOwnOpenPgp } from '../privacy/openpgp.facts.ts';
import {
  compressionBomb,
  generateTestKey,
  inlineEncrypted,
  pgpMimeEncrypted,
  pgpMimeSigned,
  signedPartContent,
  type TestKey,
} from './openpgp.fixture.ts';
import { fullConfig } from './openpgp.keys.ts';

/** A little ahead: the keys below are made after this module loads, and must be valid at `now`. */
const now = new Date(Date.now() + 5 * 60_000);
const mail = { from: 'Bob <bob@example.org>', to: 'alice@alpha.test' };
const CRLF = '\r\n';

function stored(
  k: TestKey,
  over: { status?: KeyStatus; source?: KeySource; verifiedAt?: Date | null } = {},
): CorrespondentKey {
  return {
    accountId: 'acc',
    address: 'bob@example.org',
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

const vk = (k: TestKey) => ({ fingerprint: k.fingerprint, publicKey: k.publicKey.write() });

/** An armoured OpenPGP message in an RFC 3156 multipart/encrypted envelope, as given. */
function pgpMimeOf(armored: string): Buffer {
  const b = `enc-${randomUUID()}`;
  return Buffer.from(
    [
      `From: ${mail.from}`,
      `To: ${mail.to}`,
      'Subject: ...',
      'MIME-Version: 1.0',
      `Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="${b}"`,
      '',
      `--${b}`,
      'Content-Type: application/pgp-encrypted',
      '',
      'Version: 1',
      '',
      `--${b}`,
      'Content-Type: application/octet-stream',
      '',
      armored.trimEnd().replace(/\r?\n/g, CRLF),
      `--${b}--`,
      '',
    ].join(CRLF),
  );
}

/** The OpenPGP packets of an encrypted message, one byte flipped at `fromEnd` bytes before the end, re-armoured. */
async function flipped(armored: string, fromEnd: number): Promise<string> {
  const { data } = await openpgp.unarmor(armored);
  const bytes = Buffer.from(data as Uint8Array);
  bytes[bytes.length - fromEnd] = bytes[bytes.length - fromEnd]! ^ 0x01;
  return openpgp.armor(openpgp.enums.armor.message, bytes);
}

/**
 * An armoured encrypted message whose content is a compression bomb (compressionBomb's packet, kept compressed: a
 * CompressedDataPacket read from bytes would be decompressed, so it is built from its parts).
 */
async function encryptedBomb(to: TestKey, expandedBytes: number): Promise<string> {
  const { data } = await openpgp.unarmor(compressionBomb(expandedBytes));
  const bytes = data as Uint8Array;
  // compressionBomb writes one packet: tag 8, a five-octet length (6 bytes of header), the algorithm, the data.
  const packet = new openpgp.CompressedDataPacket() as openpgp.CompressedDataPacket & {
    algorithm: number;
    compressed: Uint8Array;
  };
  packet.algorithm = bytes[6]!;
  packet.compressed = bytes.subarray(7);
  const list = new openpgp.PacketList<openpgp.AnyPacket>();
  list.push(packet);
  const encrypted = await new openpgp.Message(list).encrypt(
    [to.publicKey],
    undefined,
    undefined,
    false,
    undefined,
    now,
    undefined,
    fullConfig(),
  );
  return encrypted.armor(fullConfig());
}

async function encryptedArmor(text: string, to: TestKey[], signer?: TestKey): Promise<string> {
  return openpgp.encrypt({
    message: await openpgp.createMessage({ binary: Buffer.from(text) }),
    encryptionKeys: to.map((k) => k.publicKey),
    ...(signer ? { signingKeys: signer.privateKey } : {}),
  });
}

describe('decrypting incoming OpenPGP mail', () => {
  let alice: TestKey;
  let bob: TestKey;
  let eve: TestKey;
  beforeAll(async () => {
    [alice, bob, eve] = await Promise.all([
      generateTestKey('alice@alpha.test'),
      generateTestKey('bob@example.org'),
      generateTestKey('eve@evil.test'),
    ]);
  });

  test('PGP/MIME, signed inside (RFC 3156 §6.2): the inner MIME and a valid signature', async () => {
    const raw = await pgpMimeEncrypted({
      ...mail,
      recipients: [alice],
      signer: bob,
      text: 'The plan is in the attic.',
    });
    const d = await decryptMessage(raw, alice.privateKey, [vk(bob)], now);
    assert.ok(d.ok, !d.ok ? d.problem : '');
    assert.equal(d.content.form, 'pgp-mime');
    assert.equal((await parseMessage(d.content.mime)).text.trim(), 'The plan is in the attic.');
    assert.equal(d.signature.status, 'valid');
    assert.equal(d.signature.signerFingerprint, bob.fingerprint);
  });

  test('signed by a key not given: unknown_key (the key it names is kept); unsigned: none', async () => {
    const raw = await pgpMimeEncrypted({ ...mail, recipients: [alice], signer: eve });
    const d = await decryptMessage(raw, alice.privateKey, [vk(bob)], now);
    assert.ok(d.ok);
    assert.equal(d.signature.status, 'unknown_key');
    assert.equal(d.signature.signerKeyId, (await eve.publicKey.getSigningKey()).getKeyID().toHex());
    const unsigned = await decryptMessage(
      await pgpMimeEncrypted({ ...mail, recipients: [alice] }),
      alice.privateKey,
      [vk(bob)],
      now,
    );
    assert.ok(unsigned.ok);
    assert.equal(unsigned.signature.status, 'none');
  });

  test('signed, then encrypted separately (RFC 3156 §6.1): the multipart/signed inside is checked; a tampered one is invalid', async () => {
    const signed = await pgpMimeSigned({
      ...mail,
      signer: bob,
      content: signedPartContent('Signed first, encrypted after.\r\n'),
    });
    const ok = await decryptMessage(
      pgpMimeOf(await encryptedArmor(signed.toString('latin1'), [alice])),
      alice.privateKey,
      [vk(bob)],
      now,
    );
    assert.ok(ok.ok);
    assert.equal(ok.signature.status, 'valid');
    const tampered = await pgpMimeSigned({
      ...mail,
      signer: bob,
      content: signedPartContent('Signed first, encrypted after.\r\n'),
      tamper: true,
    });
    const bad = await decryptMessage(
      pgpMimeOf(await encryptedArmor(tampered.toString('latin1'), [alice])),
      alice.privateKey,
      [vk(bob)],
      now,
    );
    assert.ok(bad.ok);
    assert.equal(bad.signature.status, 'invalid');
  });

  test('inline armour: the text comes back as a text/plain entity', async () => {
    const raw = await inlineEncrypted({ ...mail, recipients: [alice], signer: bob, text: 'Inline secret, ünïcode.' });
    const d = await decryptMessage(raw, alice.privateKey, [vk(bob)], now);
    assert.ok(d.ok);
    assert.equal(d.content.form, 'inline');
    assert.equal((await parseMessage(d.content.mime)).text.trim(), 'Inline secret, ünïcode.');
    assert.equal(d.signature.status, 'valid');
  });

  test('several keys (the active one and those it replaced): the one the message is encrypted to decrypts it', async () => {
    const raw = await pgpMimeEncrypted({ ...mail, recipients: [alice], signer: bob });
    const d = await decryptMessage(raw, [eve.privateKey, alice.privateKey], [vk(bob)], now);
    assert.ok(d.ok, !d.ok ? d.problem : '');
    assert.equal(d.signature.status, 'valid');
    const none = await decryptMessage(raw, [], [vk(bob)], now);
    assert.equal(!none.ok && none.code, 'key_locked');
  });

  test('the wrong key: not_for_this_key, without trying', async () => {
    const d = await decryptMessage(
      await pgpMimeEncrypted({ ...mail, recipients: [alice], signer: bob }),
      eve.privateKey,
      [vk(bob)],
      now,
    );
    assert.deepEqual(d.ok ? null : d.code, 'not_for_this_key');
  });

  test('tampered ciphertext: the integrity check fails, nothing comes back', async () => {
    const armored = await encryptedArmor('Pay 10 euros to Bob.', [alice], bob);
    for (const at of [5, 30, 60]) {
      const d = await decryptMessage(pgpMimeOf(await flipped(armored, at)), alice.privateKey, [vk(bob)], now);
      assert.equal(d.ok, false, `byte ${at} from the end`);
      assert.ok(!d.ok && ['integrity', 'malformed'].includes(d.code), !d.ok ? `${d.code}: ${d.problem}` : '');
    }
  });

  test('truncated packets and broken armour: malformed, never a crash', async () => {
    const armored = await encryptedArmor('Cut in the middle.', [alice]);
    const lines = armored.trimEnd().split('\n');
    const cut = [...lines.slice(0, Math.ceil(lines.length / 2)), '-----END PGP MESSAGE-----'].join('\n');
    for (const broken of [
      cut,
      '-----BEGIN PGP MESSAGE-----\n\n!!!!\n-----END PGP MESSAGE-----\n',
      '-----BEGIN PGP MESSAGE-----\n\nwcBMA0\n-----END PGP MESSAGE-----\n',
    ]) {
      const d = await decryptMessage(pgpMimeOf(broken), alice.privateKey, [], now);
      assert.equal(d.ok, false);
      assert.ok(
        !d.ok && ['malformed', 'not_for_this_key', 'failed'].includes(d.code),
        !d.ok ? `${d.code}: ${d.problem}` : '',
      );
    }
  });

  test('a compression bomb inside the encryption: too_large, memory bounded by the decompression cap', async () => {
    const armored = await encryptedBomb(alice, OPENPGP_LIMITS.decompressedBytes * 4);
    assert.ok(armored.length < 1024 * 1024, 'small on the wire');
    const before = process.memoryUsage().rss;
    const d = await decryptMessage(pgpMimeOf(armored), alice.privateKey, [], now);
    assert.equal(d.ok, false);
    assert.equal(!d.ok && d.code, 'too_large', !d.ok ? d.problem : '');
    assert.ok(
      process.memoryUsage().rss - before < 3 * OPENPGP_LIMITS.decompressedBytes * 4,
      'did not hold the expanded content',
    );
  });

  test('not encrypted, or a locked key: clear codes', async () => {
    const plain = await decryptMessage(
      Buffer.from('From: a@b.test\r\nSubject: x\r\n\r\nhello\r\n'),
      alice.privateKey,
      [],
      now,
    );
    assert.equal(!plain.ok && plain.code, 'not_encrypted');
    const locked = await openpgp.encryptKey({ privateKey: alice.privateKey, passphrase: 'secret passphrase' });
    const d = await decryptMessage(await pgpMimeEncrypted({ ...mail, recipients: [alice] }), locked, [], now);
    assert.equal(!d.ok && d.code, 'key_locked');
  });

  test('the hostile mail corpus: never a crash, never decrypted', async () => {
    for (const { name, raw } of hostileCorpus()) {
      const d = await decryptMessage(raw, alice.privateKey, [vk(bob)], now);
      assert.equal(d.ok, false, name);
    }
  });
});

describe('OpenPGP facts with decryption (server-side key mode)', () => {
  let alice: TestKey;
  let bob: TestKey;
  let eve: TestKey;
  beforeAll(async () => {
    [alice, bob, eve] = await Promise.all([
      generateTestKey('alice@alpha.test'),
      generateTestKey('bob@example.org'),
      generateTestKey('eve@evil.test'),
    ]);
  });

  test('decrypted: the signature inside counts, with the trust of the key that made it; without the key it cannot', async () => {
    const raw = await pgpMimeEncrypted({ ...mail, recipients: [alice], signer: bob, text: 'inside' });
    const withKey = await examineOpenPgp(raw, [stored(bob, { source: 'wkd' })], now, alice.privateKey);
    assert.equal(withKey.facts.decrypted, true);
    assert.equal(withKey.facts.encrypted, true);
    assert.equal(withKey.facts.signature, 'valid');
    assert.equal(withKey.facts.signerKeyTrust, 'wkd');
    assert.equal(withKey.facts.signerFingerprint, bob.fingerprint);
    assert.ok(withKey.content);
    const without = await examineOpenPgp(raw, [stored(bob, { source: 'wkd' })], now, null);
    assert.equal(without.facts.decrypted, undefined);
    assert.equal(without.facts.signature, 'unverifiable');
    assert.equal(without.content, null);
  });

  test('a key in conflict never makes the inner signature valid; the wrong private key decrypts nothing', async () => {
    const raw = await pgpMimeEncrypted({ ...mail, recipients: [alice], signer: bob });
    const conflict = await examineOpenPgp(raw, [stored(bob, { status: 'conflict' })], now, alice.privateKey);
    assert.equal(conflict.facts.signature, 'unknown_key');
    assert.equal(conflict.facts.signerKeyTrust, null);
    assert.match(conflict.facts.problem ?? '', /not accepted \(conflict\)/);
    const wrong = await examineOpenPgp(raw, [stored(bob)], now, eve.privateKey);
    assert.equal(wrong.facts.decrypted, undefined);
    assert.equal(wrong.facts.signature, 'unverifiable');
    assert.match(wrong.facts.problem ?? '', /Not decrypted: The message is not encrypted to this key/);
    assert.equal(wrong.content, null);
  });

  test('a compression bomb keeps the ciphertext facts (no better than without the key)', async () => {
    const raw = pgpMimeOf(await encryptedBomb(alice, OPENPGP_LIMITS.decompressedBytes * 2));
    const withKey = await examineOpenPgp(raw, [], now, alice.privateKey);
    const without = await examineOpenPgp(raw, [], now, null);
    assert.equal(withKey.facts.decrypted, undefined);
    assert.equal(withKey.facts.signature, without.facts.signature);
    assert.equal(withKey.facts.encrypted, without.facts.encrypted);
    assert.match(withKey.facts.problem ?? '', /compression bomb/);
  });

  test('own Sent copies: structure and content, never a signature status', async () => {
    const raw = await pgpMimeEncrypted({
      from: 'alice@alpha.test',
      to: 'bob@example.org',
      recipients: [bob, alice],
      signer: alice,
    });
    const own = await examineOwnOpenPgp(raw, now, alice.privateKey);
    assert.equal(own.facts.encrypted, true);
    assert.equal(own.facts.decrypted, true);
    assert.equal(own.facts.signature, 'none');
    assert.ok(own.content);
  });

  test('carried facts follow the keys held now, without decrypting', async () => {
    const raw = await pgpMimeEncrypted({ ...mail, recipients: [alice], signer: bob });
    const { facts } = await examineOpenPgp(raw, [stored(bob)], now, alice.privateKey);
    const storedFacts = JSON.parse(JSON.stringify(facts));
    assert.equal(carryDecryptedFacts(storedFacts, [stored(bob, { verifiedAt: now })])?.signerKeyTrust, 'verified');
    const rejected = carryDecryptedFacts(storedFacts, [stored(bob, { status: 'rejected' })]);
    assert.equal(rejected?.signature, 'unknown_key');
    assert.equal(rejected?.signerKeyTrust, null);
    assert.equal(carryDecryptedFacts({ ...storedFacts, decrypted: false }, [stored(bob)]), null);
    assert.equal(carryDecryptedFacts('garbage', [stored(bob)]), null);
    // Stored JSON altered to claim more: an unknown status is unverifiable, never valid.
    assert.equal(
      carryDecryptedFacts({ ...storedFacts, signature: 'super-valid' }, [stored(bob)])?.signature,
      'unverifiable',
    );
  });
});
