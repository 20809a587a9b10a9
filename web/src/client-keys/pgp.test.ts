import assert from 'node:assert/strict';
import * as openpgp from 'openpgp';
import { beforeAll, describe, test } from 'vitest';
import { ClientKeyError, type ClientKeyProblem } from './client-key.errors.ts';
import { generateClientKey, type MadeKey, openMail, protectForBrowser, sealMail, unlockKeys } from './pgp.ts';

const CRLF = '\r\n';
const PASSPHRASE = 'correct horse battery';
const problem = (p: ClientKeyProblem) => (e: unknown) => e instanceof ClientKeyError && e.problem === p;

/** A PGP/MIME encrypted mail (RFC 3156 §4) as an outside sender's client writes it, signed inside when asked. */
async function pgpMime(o: {
  to: openpgp.PublicKey[];
  signer?: openpgp.PrivateKey;
  inner: string;
  subject?: string;
}): Promise<Uint8Array> {
  const armored = await openpgp.encrypt({
    message: await openpgp.createMessage({ binary: new TextEncoder().encode(o.inner) }),
    encryptionKeys: o.to,
    ...(o.signer ? { signingKeys: o.signer } : {}),
  });
  const b = 'enc-boundary-1';
  const mail = [
    'From: Sam <sam@outside.example>',
    'To: alice@alpha.test',
    `Subject: ${o.subject ?? '...'}`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="${b}"`,
    '',
    `--${b}`,
    'Content-Type: application/pgp-encrypted',
    '',
    'Version: 1',
    '',
    `--${b}`,
    'Content-Type: application/octet-stream; name="encrypted.asc"',
    '',
    armored.trimEnd().replace(/\r?\n/g, CRLF),
    `--${b}--`,
    '',
  ].join(CRLF);
  return new TextEncoder().encode(mail);
}

const plainInner = (text: string, subject?: string) =>
  [
    ...(subject ? [`Subject: ${subject}`] : []),
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    text,
    '',
  ].join(CRLF);

describe('OpenPGP in the browser (client key mode)', () => {
  let alice: MadeKey;
  let aliceKeys: openpgp.PrivateKey[];
  let sam: { privateKey: openpgp.PrivateKey; publicKey: openpgp.PublicKey; armored: string };

  beforeAll(async () => {
    alice = await generateClientKey({ name: 'Alice <x>', email: 'alice@alpha.test', passphrase: PASSPHRASE });
    aliceKeys = await unlockKeys([alice.armoredPrivate], PASSPHRASE);
    const made = await openpgp.generateKey({
      type: 'curve25519',
      userIDs: [{ email: 'sam@outside.example' }],
      format: 'object',
    });
    sam = { privateKey: made.privateKey, publicKey: made.publicKey, armored: made.publicKey.armor() };
  });

  test('a key made here: v4, the account address as user ID, private part encrypted under the passphrase', async () => {
    const key = await openpgp.readPrivateKey({ armoredKey: alice.armoredPrivate });
    assert.equal(key.isDecrypted(), false, 'never kept in the clear');
    assert.equal(key.keyPacket.version, 4);
    assert.equal(key.getFingerprint().toLowerCase(), alice.fingerprint);
    assert.deepEqual(key.getUserIDs(), ['Alice x <alice@alpha.test>']);
    assert.match(alice.armoredPublic, /BEGIN PGP PUBLIC KEY BLOCK/);
    assert.doesNotMatch(alice.armoredPublic, /PRIVATE/);
    assert.match(alice.revocationCertificate, /BEGIN PGP PUBLIC KEY BLOCK/);
    assert.ok(key.getCreationTime() <= new Date(), 'not dated in the future');
  });

  test('the passphrase opens the kept key; a wrong or empty one gets wrong_passphrase', async () => {
    assert.equal(aliceKeys.length, 1);
    assert.equal(aliceKeys[0]!.isDecrypted(), true);
    await assert.rejects(unlockKeys([alice.armoredPrivate], 'not the passphrase'), problem('wrong_passphrase'));
    await assert.rejects(unlockKeys([alice.armoredPrivate], ''), problem('wrong_passphrase'));
  });

  test('an import is opened with its own passphrase and kept under the new one; hostile input is refused', async () => {
    const kept = await protectForBrowser(alice.armoredPrivate, PASSPHRASE, 'another passphrase', [alice.fingerprint]);
    assert.deepEqual(kept.fingerprints, [alice.fingerprint]);
    await assert.rejects(unlockKeys(kept.armoredKeys, PASSPHRASE), problem('wrong_passphrase'));
    assert.equal((await unlockKeys(kept.armoredKeys, 'another passphrase')).length, 1);
    // An unprotected import works without a passphrase.
    const clear = (await unlockKeys([alice.armoredPrivate], PASSPHRASE))[0]!.armor();
    assert.equal((await protectForBrowser(clear, undefined, 'new passphrase 1')).fingerprints[0], alice.fingerprint);

    await assert.rejects(protectForBrowser(alice.armoredPrivate, 'wrong', 'x'.repeat(12)), problem('wrong_passphrase'));
    await assert.rejects(protectForBrowser(sam.armored, undefined, 'x'.repeat(12)), problem('not_a_private_key'));
    await assert.rejects(protectForBrowser('hello', undefined, 'x'.repeat(12)), problem('not_a_private_key'));
    await assert.rejects(
      protectForBrowser(
        '-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nAAAA\n-----END PGP PRIVATE KEY BLOCK-----',
        undefined,
        'x',
      ),
      problem('not_a_private_key'),
    );
    await assert.rejects(
      protectForBrowser(alice.armoredPrivate, PASSPHRASE, 'x'.repeat(12), ['00'.repeat(20)]),
      problem('not_yours'),
    );
  });

  test('PGP/MIME, signed inside: decrypted, the signature valid against the sender’s key, the protected subject read', async () => {
    const raw = await pgpMime({
      to: [await openpgp.readKey({ armoredKey: alice.armoredPublic })],
      signer: sam.privateKey,
      inner: plainInner('Meet at the lighthouse, caf=C3=A9 at dawn.', 'Harbour plans'),
    });
    const opened = await openMail(raw, aliceKeys, [sam.armored]);
    assert.equal(opened.text.trim(), 'Meet at the lighthouse, café at dawn.');
    assert.equal(opened.html, null);
    assert.equal(opened.subject, 'Harbour plans');
    assert.equal(opened.signature, 'valid');
    assert.equal(opened.signer, sam.privateKey.getKeyID().toHex());

    assert.equal((await openMail(raw, aliceKeys, [])).signature, 'unknown_key', 'no key known for the sender');
    const other = await openpgp.generateKey({ type: 'curve25519', userIDs: [{ email: 'x@y.example' }] });
    assert.equal((await openMail(raw, aliceKeys, [other.publicKey])).signature, 'unknown_key', 'another key');
  });

  test('unsigned mail, and an HTML part handed back for the sanitiser', async () => {
    const b = 'alt-1';
    const inner = [
      `Content-Type: multipart/alternative; boundary="${b}"`,
      '',
      `--${b}`,
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Plain words',
      `--${b}`,
      'Content-Type: text/html; charset=utf-8',
      '',
      '<p>Rich <b>words</b><script>alert(1)</script></p>',
      `--${b}--`,
      '',
    ].join(CRLF);
    const raw = await pgpMime({ to: [await openpgp.readKey({ armoredKey: alice.armoredPublic })], inner });
    const opened = await openMail(raw, aliceKeys, [sam.armored]);
    assert.equal(opened.signature, 'none');
    assert.equal(opened.text.trim(), 'Plain words');
    assert.match(opened.html ?? '', /<b>words<\/b>/);
  });

  test('inline OpenPGP in a plain text mail', async () => {
    const armored = await openpgp.encrypt({
      message: await openpgp.createMessage({ text: 'Inline secret, walrus.' }),
      encryptionKeys: await openpgp.readKey({ armoredKey: alice.armoredPublic }),
      signingKeys: sam.privateKey,
    });
    const raw = new TextEncoder().encode(
      ['From: sam@outside.example', 'Subject: inline', 'Content-Type: text/plain', '', armored].join(CRLF),
    );
    const opened = await openMail(raw, aliceKeys, [sam.armored]);
    assert.equal(opened.text, 'Inline secret, walrus.');
    assert.equal(opened.signature, 'valid');
  });

  test('a message sealed here (to Sam and to herself, signed) opens for both, the subject protected inside', async () => {
    const armored = await sealMail({
      subject: 'Plans pour la jetée',
      text: 'Line one\nThe cormorant — nests.',
      encryptTo: [sam.armored, alice.armoredPublic],
      signingKey: aliceKeys[0]!,
    });
    assert.match(armored, /^-----BEGIN PGP MESSAGE-----/);
    const mail = (body: string) =>
      new TextEncoder().encode(
        [
          'Subject: ...',
          'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="b"',
          '',
          '--b',
          'Content-Type: application/pgp-encrypted',
          '',
          'Version: 1',
          '',
          '--b',
          'Content-Type: application/octet-stream',
          '',
          body.trimEnd().replace(/\r?\n/g, CRLF),
          '--b--',
          '',
        ].join(CRLF),
      );
    const samReads = await openMail(mail(armored), [sam.privateKey], [alice.armoredPublic]);
    assert.equal(samReads.subject, 'Plans pour la jetée');
    assert.equal(samReads.text.trim(), 'Line one\nThe cormorant — nests.');
    assert.equal(samReads.signature, 'valid');
    const aliceReads = await openMail(mail(armored), aliceKeys, [alice.armoredPublic]);
    assert.equal(aliceReads.signature, 'valid', 'the Sent copy opens for its author');
    await assert.rejects(
      sealMail({ subject: 'x', text: 'x', encryptTo: ['not a key'], signingKey: aliceKeys[0]! }),
      problem('unreadable'),
    );
  });

  test('mail for another key, altered ciphertext, clear mail and garbage each get their sentence', async () => {
    const raw = await pgpMime({ to: [sam.publicKey], inner: plainInner('not for alice') });
    await assert.rejects(openMail(raw, aliceKeys), problem('not_for_you'));

    const good = new TextDecoder().decode(
      await pgpMime({ to: [await openpgp.readKey({ armoredKey: alice.armoredPublic })], inner: plainInner('x') }),
    );
    const lines = good.split(CRLF);
    const at = lines.findIndex((l) => l.startsWith('-----BEGIN PGP MESSAGE')) + 4;
    lines[at] = lines[at]!.split('')
      .map((c, i) => (i % 7 === 3 ? (c === 'A' ? 'B' : 'A') : c))
      .join('');
    await assert.rejects(
      openMail(new TextEncoder().encode(lines.join(CRLF)), aliceKeys),
      (e) => e instanceof ClientKeyError && ['unreadable', 'not_for_you'].includes(e.problem),
    );

    const clear = new TextEncoder().encode(['Subject: hi', 'Content-Type: text/plain', '', 'Hello'].join(CRLF));
    await assert.rejects(openMail(clear, aliceKeys), problem('not_encrypted'));
    await assert.rejects(openMail(new Uint8Array([0, 1, 2, 3, 255]), aliceKeys), (e) => e instanceof ClientKeyError);
  });
});
