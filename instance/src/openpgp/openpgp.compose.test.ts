import assert from 'node:assert/strict';
import { beforeAll, describe, test } from 'vitest';
import * as openpgp from 'openpgp';
import { buildMime } from '../mail/compose.mime.ts';
import { parseMessage } from '../mail/message.parser.ts';
import {
  AutocryptKeydataCache,
  autocryptHeader,
  autocryptKeydata,
  encryptMime,
  encryptMimeParts,
  HIDDEN_SUBJECT,
  readAutocryptHeader,
  signMime,
  withHeader,
  wrapEncrypted,
} from './openpgp.compose.ts';
import { decryptMessage } from './openpgp.decrypt.ts';
import { examineOwnOpenPgp } from '../privacy/openpgp.facts.ts';
import { detectOpenPgp } from './openpgp.detect.ts';
import { generateTestKey, type TestKey } from './openpgp.fixture.ts';
import { parsePublicKey } from './openpgp.keys.ts';
import { verifySignature } from './openpgp.verify.ts';

/** A little ahead: the keys below are made after this module loads, and must be valid at `now`. */
const now = new Date(Date.now() + 5 * 60_000);
const SUBJECT = 'Réunion secrète du mardi';
const BODY = 'Hello Bob,\nthe word is swordfish.\n-- \nAlice\n';

function composed(o: { bcc?: boolean; attachment?: boolean } = {}): Promise<Buffer> {
  return buildMime({
    from: { name: 'Alice Martin', address: 'alice@alpha.test' },
    to: [{ name: 'Bob', address: 'bob@beta.test' }],
    cc: [],
    bcc: o.bcc ? [{ name: null, address: 'carol@gamma.test' }] : [],
    subject: SUBJECT,
    text: BODY,
    html: null,
    attachments: o.attachment
      ? [{ filename: 'plan.pdf', contentType: 'application/pdf', content: Buffer.from('%PDF-1.4 fake') }]
      : [],
    messageId: '<m1@alpha.test>',
    date: now,
    inReplyTo: null,
    references: [],
  });
}

const vk = (k: TestKey) => ({ fingerprint: k.fingerprint, publicKey: k.publicKey.write() });

describe('outgoing PGP/MIME (RFC 3156)', () => {
  let alice: TestKey;
  let bob: TestKey;
  let carol: TestKey;
  let eve: TestKey;
  beforeAll(async () => {
    [alice, bob, carol, eve] = await Promise.all([
      generateTestKey('alice@alpha.test', { alsoEmails: ['alice.old@elsewhere.test'] }),
      generateTestKey('bob@beta.test'),
      generateTestKey('carol@gamma.test', { v6: true }),
      generateTestKey('eve@evil.test'),
    ]);
  });

  test('encrypted and signed: each recipient and the sender decrypt it, the signature inside verifies, the subject is only inside', async () => {
    const raw = await encryptMime({
      raw: await composed(),
      encryptionKeys: [bob.publicKey.write(), carol.publicKey.write(), alice.publicKey.write()],
      signingKey: alice.privateKey,
      now,
    });
    const part = detectOpenPgp(raw);
    assert.equal(part.kind, 'pgp-mime-encrypted');
    assert.equal(part.problem, undefined);
    const outer = await parseMessage(raw);
    assert.equal(outer.subject, HIDDEN_SUBJECT, 'the outer subject is hidden');
    assert.ok(!raw.toString('latin1').includes('swordfish'), 'no plaintext outside');
    assert.ok(!raw.toString('latin1').includes('R=C3=A9union'), 'no subject outside');
    assert.match(raw.toString('latin1'), /^Message-ID: <m1@alpha\.test>\r$/m, 'routing headers stay outside');

    for (const reader of [bob, carol, alice]) {
      const d = await decryptMessage(raw, reader.privateKey, [vk(alice)], now);
      assert.ok(d.ok, `${reader.fingerprint}: ${!d.ok && d.problem}`);
      assert.equal(d.content.form, 'pgp-mime');
      assert.equal(d.signature.status, 'valid');
      assert.equal(d.signature.signerFingerprint, alice.fingerprint);
      const inner = await parseMessage(d.content.mime);
      assert.equal(inner.subject, SUBJECT, 'protected headers: the real subject inside');
      assert.equal(inner.text.trim(), BODY.trim());
      assert.match(d.content.mime.toString('latin1'), /protected-headers="v1"/);
    }
    const wrong = await decryptMessage(raw, eve.privateKey, [vk(alice)], now);
    assert.ok(!wrong.ok);
    assert.equal(wrong.code, 'not_for_this_key');
  });

  test('the part that was encrypted is what decrypting gives: an own Sent copy examined with it records the same facts and content', async () => {
    for (const hide of [false, true]) {
      const { message, plaintext } = await encryptMimeParts({
        raw: await composed({ bcc: hide }),
        encryptionKeys: [bob.publicKey.write(), alice.publicKey.write()],
        signingKey: alice.privateKey,
        hideRecipients: hide,
        now,
      });
      const d = await decryptMessage(message, alice.privateKey, [], now);
      assert.ok(d.ok);
      assert.deepEqual(d.content.mime, plaintext, 'byte for byte');
      // Examined with the key, with and without the known plaintext: the same.
      const decrypting = await examineOwnOpenPgp(message, now, alice.privateKey);
      const known = await examineOwnOpenPgp(message, now, alice.privateKey, plaintext);
      assert.equal(decrypting.facts.decrypted, true);
      assert.deepEqual(known, decrypting);
      // A key it is not encrypted to, or no key: the plaintext given changes nothing (nothing is taken as decrypted).
      for (const key of [eve.privateKey, null]) {
        const without = await examineOwnOpenPgp(message, now, key);
        const withIt = await examineOwnOpenPgp(message, now, key, plaintext);
        assert.notEqual(withIt.facts.decrypted, true);
        assert.equal(withIt.content, null);
        assert.deepEqual(withIt, without);
      }
    }
  });

  test('Bcc never goes inside, and with Bcc recipients the key IDs are anonymous (yet everyone still decrypts)', async () => {
    const raw = await encryptMime({
      raw: await composed({ bcc: true }),
      encryptionKeys: [bob.publicKey.write(), alice.publicKey.write()],
      signingKey: null,
      hideRecipients: true,
      now,
    });
    const message = await openpgp.readMessage({ armoredMessage: String(detectOpenPgp(raw).encryptedData) });
    assert.deepEqual(new Set(message.getEncryptionKeyIDs().map((id) => id.toHex())), new Set(['0000000000000000']));
    const d = await decryptMessage(raw, bob.privateKey, [], now);
    assert.ok(d.ok);
    assert.equal(d.signature.status, 'none', 'not signed');
    assert.ok(!/^bcc:/im.test(d.content.mime.toString('latin1')), 'no Bcc in the encrypted part');
    assert.match(
      raw.toString('latin1'),
      /^Bcc: carol@gamma\.test\r$/m,
      'the Sent copy keeps its Bcc outside (removed before transmission)',
    );
  });

  test('attachments survive the round trip', async () => {
    const raw = await encryptMime({
      raw: await composed({ attachment: true }),
      encryptionKeys: [bob.publicKey],
      signingKey: alice.privateKey,
      now,
    });
    const d = await decryptMessage(raw, bob.privateKey, [vk(alice)], now);
    assert.ok(d.ok);
    const inner = await parseMessage(d.content.mime);
    assert.deepEqual(
      inner.attachments.map((a) => a.filename),
      ['plan.pdf'],
    );
  });

  test('a recipient key that cannot encrypt, or garbage, is refused before anything is built', async () => {
    const signOnly = await openpgp.generateKey({
      type: 'ecc',
      curve: 'ed25519Legacy',
      userIDs: [{ email: 'so@x.test' }],
      subkeys: [],
      format: 'object',
    });
    await assert.rejects(
      encryptMime({ raw: await composed(), encryptionKeys: [signOnly.publicKey], signingKey: null, now }),
      /cannot encrypt/,
    );
    await assert.rejects(
      encryptMime({ raw: await composed(), encryptionKeys: [new Uint8Array([1, 2, 3])], signingKey: null, now }),
      /cannot be read/,
    );
    await assert.rejects(encryptMime({ raw: await composed(), encryptionKeys: [], signingKey: null, now }), /No key/);
  });

  test('signed only (multipart/signed): verifies, also after line ends were rewritten; a changed byte fails', async () => {
    const raw = await signMime({ raw: await composed(), signingKey: alice.privateKey, now });
    const outer = await parseMessage(raw);
    assert.equal(outer.subject, SUBJECT, 'a signed message keeps its subject');
    const part = detectOpenPgp(raw);
    assert.equal(part.kind, 'pgp-mime-signed');
    assert.match(raw.toString('latin1'), /micalg=pgp-sha(256|384|512)/);
    assert.equal((await verifySignature(part, [vk(alice)], now)).status, 'valid');
    const lf = Buffer.from(raw.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
    assert.equal((await verifySignature(detectOpenPgp(lf), [vk(alice)], now)).status, 'valid');
    const tampered = Buffer.from(raw.toString('latin1').replace('swordfish', 'swordfisH'), 'latin1');
    assert.equal((await verifySignature(detectOpenPgp(tampered), [vk(alice)], now)).status, 'invalid');
    assert.equal((await verifySignature(part, [vk(eve)], now)).status, 'unknown_key');
  });
});

describe('a message encrypted on the sender’s device, wrapped for sending (client key mode)', () => {
  let alice: TestKey;
  let bob: TestKey;
  beforeAll(async () => {
    [alice, bob] = await Promise.all([generateTestKey('alice@alpha.test'), generateTestKey('bob@beta.test')]);
  });
  const inner = `Content-Type: text/plain; charset=utf-8; protected-headers="v1"\r\nSubject: ${SUBJECT}\r\n\r\n${BODY}`;

  test('sent as it is in multipart/encrypted: routing headers outside, subject hidden, the recipient decrypts and verifies', async () => {
    const armored = await openpgp.encrypt({
      message: await openpgp.createMessage({ binary: Buffer.from(inner, 'utf8') }),
      encryptionKeys: [bob.publicKey, alice.publicKey],
      signingKeys: alice.privateKey,
    });
    const raw = await wrapEncrypted({ raw: await composed(), armored, autocrypt: null });
    assert.equal(detectOpenPgp(raw).kind, 'pgp-mime-encrypted');
    assert.equal((await parseMessage(raw)).subject, HIDDEN_SUBJECT);
    assert.ok(!raw.toString('latin1').includes('swordfish'), 'the composed body is not sent');
    assert.match(raw.toString('latin1'), /^Message-ID: <m1@alpha\.test>\r$/m);
    const d = await decryptMessage(raw, bob.privateKey, [vk(alice)], now);
    assert.ok(d.ok, !d.ok ? d.problem : '');
    assert.equal(d.signature.status, 'valid');
    assert.equal((await parseMessage(d.content.mime)).subject, SUBJECT);
  });

  test('refused: not armoured, a signed-only or symmetric message, garbage, other text around, too large', async () => {
    const signedOnly = await openpgp.sign({
      message: await openpgp.createMessage({ text: 'hello' }),
      signingKeys: alice.privateKey,
    });
    const symmetric = await openpgp.encrypt({
      message: await openpgp.createMessage({ text: 'hello' }),
      passwords: ['secret'],
    });
    const good = await openpgp.encrypt({
      message: await openpgp.createMessage({ text: 'hello' }),
      encryptionKeys: bob.publicKey,
    });
    for (const [what, armored] of [
      ['plain text', 'hello bob'],
      ['signed only', signedOnly],
      ['symmetric only', symmetric],
      ['garbage armour', '-----BEGIN PGP MESSAGE-----\n\nAAAA\n-----END PGP MESSAGE-----'],
      ['text after', `${good}\nP.S. clear words`],
      [
        'non-ASCII in the armour',
        good.replace('-----BEGIN PGP MESSAGE-----', '-----BEGIN PGP MESSAGE-----\nComment: é'),
      ],
      ['too large', `-----BEGIN PGP MESSAGE-----\n\n${'A'.repeat(33 * 1024 * 1024)}\n-----END PGP MESSAGE-----`],
    ] as const) {
      await assert.rejects(wrapEncrypted({ raw: await composed(), armored }), /./, what);
    }
  });
});

describe('Autocrypt header (Level 1)', () => {
  let alice: TestKey;
  let mallory: TestKey;
  beforeAll(async () => {
    [alice, mallory] = await Promise.all([
      generateTestKey('alice@alpha.test', { alsoEmails: ['alice.old@elsewhere.test'] }),
      generateTestKey('mallory@evil.test'),
    ]);
  });

  test('remembered per key and address: the same bytes as autocryptKeydata, built once, never past an expiry', async () => {
    const cache = new AutocryptKeydataCache({ ttlMs: 60_000 });
    const key = alice.publicKey.write();
    const first = await cache.get(key, 'alice@alpha.test', now);
    assert.deepEqual(first, await autocryptKeydata(key, 'alice@alpha.test', now));
    assert.equal(await cache.get(key, 'alice@alpha.test', new Date(now.getTime() + 1000)), first, 'remembered');
    const other = await cache.get(key, 'alice.old@elsewhere.test', now);
    assert.notDeepEqual(other, first, 'per address');
    assert.deepEqual(other, await autocryptKeydata(key, 'alice.old@elsewhere.test', now));
    assert.notEqual(await cache.get(key, 'alice@alpha.test', new Date(now.getTime() + 61_000)), first, 'ttl');
    const mallorys = await cache.get(mallory.publicKey.write(), 'alice@alpha.test', now);
    assert.deepEqual(mallorys, await autocryptKeydata(mallory.publicKey.write(), 'alice@alpha.test', now));

    // A key expiring in an hour, with a day of ttl: remembered until the expiry only, refused after it as
    // autocryptKeydata refuses it.
    const long = new AutocryptKeydataCache({ ttlMs: 86_400_000 });
    const short = await generateTestKey('short@alpha.test', { expiresInSeconds: 3600, date: now });
    const shortKey = short.publicKey.write();
    const before = await long.get(shortKey, 'short@alpha.test', new Date(now.getTime() + 1000));
    assert.equal(await long.get(shortKey, 'short@alpha.test', new Date(now.getTime() + 3590_000)), before);
    const later = new Date(now.getTime() + 3601_000);
    await assert.rejects(autocryptKeydata(shortKey, 'short@alpha.test', later), /cannot encrypt/);
    await assert.rejects(long.get(shortKey, 'short@alpha.test', later), /cannot encrypt/);
    await assert.rejects(cache.get(Buffer.from('not a key'), 'alice@alpha.test', now), /cannot be read/);
  });

  test('round trip: the minimal key (primary, that user ID, the encryption subkey) parses for the address', async () => {
    const keydata = await autocryptKeydata(alice.publicKey.write(), 'Alice@Alpha.test', now);
    const minimal = await openpgp.readKey({ binaryKey: keydata });
    assert.equal(minimal.getFingerprint(), alice.publicKey.getFingerprint());
    assert.equal(minimal.users.length, 1, 'only the user ID of the address');
    assert.equal(minimal.subkeys.length, 1, 'only the encryption subkey');
    assert.ok(keydata.length < alice.publicKey.write().length);
    const header = autocryptHeader({ address: 'alice@alpha.test', keydata, preferEncrypt: true });
    assert.ok(
      header.split('\r\n').every((line) => line.length <= 78),
      'folded under 78 characters',
    );
    const raw = withHeader(Buffer.from('From: alice@alpha.test\r\nSubject: hi\r\n\r\nbody\r\n'), header);
    const read = readAutocryptHeader(raw);
    assert.ok(read.header, String(read.problem));
    assert.equal(read.header.address, 'alice@alpha.test');
    assert.equal(read.header.preferEncrypt, 'mutual');
    const parsed = await parsePublicKey(read.header.keydata, { now, address: 'alice@alpha.test' });
    assert.equal(parsed.fingerprint, alice.fingerprint);
    assert.ok(parsed.canEncrypt);
    const noPref = readAutocryptHeader(
      withHeader(
        raw,
        autocryptHeader({ address: 'x@y.test', keydata, preferEncrypt: false }).replace('Autocrypt', 'X-Other'),
      ),
    );
    assert.equal(noPref.header?.preferEncrypt, 'mutual', 'other headers are not Autocrypt');
  });

  test('hostile headers: refused with a reason, never a key', async () => {
    const keydata = Buffer.from(await autocryptKeydata(mallory.publicKey.write(), 'mallory@evil.test', now)).toString(
      'base64',
    );
    const mail = (...headers: string[]) =>
      Buffer.from(`${headers.map((h) => `Autocrypt: ${h}\r\n`).join('')}From: mallory@evil.test\r\n\r\nhi\r\n`);
    const cases: [string, Buffer][] = [
      ['no keydata', mail('addr=mallory@evil.test')],
      ['no addr', mail(`keydata=${keydata}`)],
      ['bad base64', mail('addr=mallory@evil.test; keydata=!!!not*base64!!!')],
      ['unknown critical attribute', mail(`addr=mallory@evil.test; type=2; keydata=${keydata}`)],
      ['attribute without value', mail(`addr=mallory@evil.test; junk; keydata=${keydata}`)],
      ['repeated attribute', mail(`addr=mallory@evil.test; addr=alice@alpha.test; keydata=${keydata}`)],
      [
        'two valid headers',
        mail(`addr=mallory@evil.test; keydata=${keydata}`, `addr=mallory@evil.test; keydata=${keydata}`),
      ],
      ['oversize keydata', mail(`addr=mallory@evil.test; keydata=${'A'.repeat(200_000)}`)],
      ['not an address', mail(`addr=not an address; keydata=${keydata}`)],
    ];
    for (const [what, raw] of cases) {
      const r = readAutocryptHeader(raw);
      assert.equal(r.header, null, what);
      assert.ok(r.problem, `${what}: a reason`);
    }
    // Non-critical attributes (starting with _) are ignored; no header at all is no problem.
    assert.ok(readAutocryptHeader(mail(`addr=mallory@evil.test; _note=hello; keydata=${keydata}`)).header);
    assert.deepEqual(readAutocryptHeader(Buffer.from('From: a@b.test\r\n\r\nx')), { header: null, problem: null });
    // A header whose keydata is garbage bytes parses as a header: the key check (addKey) refuses it later.
    const garbage = readAutocryptHeader(
      mail(`addr=mallory@evil.test; keydata=${Buffer.from('garbage').toString('base64')}`),
    );
    assert.ok(garbage.header);
    await assert.rejects(parsePublicKey(garbage.header.keydata, { now, address: 'mallory@evil.test' }), {
      code: 'key_malformed',
    });
  });
});
