import { randomUUID } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import * as openpgp from 'openpgp';

/**
 * Test material built at test time with openpgp.js: keys (v4 and v6, Curve25519), and real OpenPGP mail as other
 * clients send it (PGP/MIME signed and encrypted per RFC 3156, inline cleartext-signed and encrypted), plus hostile
 * OpenPGP (a compression bomb). For the unit tests of this folder and the end-to-end tests.
 */

export interface TestKey {
  privateKey: openpgp.PrivateKey;
  publicKey: openpgp.PublicKey;
  armoredPublic: string;
  armoredPrivate: string;
  /** Lowercase hex. */
  fingerprint: string;
}

export interface TestKeyOptions {
  name?: string;
  /** RFC 9580 v6 key instead of v4. */
  v6?: boolean;
  /** Seconds after `date` at which the key expires. */
  expiresInSeconds?: number;
  /** Creation time (default now). */
  date?: Date;
  /** Extra user IDs. */
  alsoEmails?: string[];
}

export async function generateTestKey(email: string, options: TestKeyOptions = {}): Promise<TestKey> {
  const userIDs = [
    { name: options.name ?? email.split('@')[0]!, email },
    ...(options.alsoEmails ?? []).map((e) => ({ email: e })),
  ];
  const { privateKey, publicKey } = await openpgp.generateKey({
    type: 'curve25519',
    userIDs,
    format: 'object',
    ...(options.expiresInSeconds !== undefined ? { keyExpirationTime: options.expiresInSeconds } : {}),
    ...(options.date ? { date: options.date } : {}),
    config: { v6Keys: options.v6 ?? false },
  });
  return {
    privateKey,
    publicKey,
    armoredPublic: publicKey.armor(),
    armoredPrivate: privateKey.armor(),
    fingerprint: publicKey.getFingerprint().toLowerCase(),
  };
}

/** The key, revoked by its owner: armoured public key carrying the revocation signature. */
export async function revokedPublicKey(key: TestKey): Promise<string> {
  const { publicKey } = await openpgp.revokeKey({ key: key.privateKey, format: 'armored' });
  return publicKey;
}

const CRLF = '\r\n';

export interface MailOptions {
  from: string;
  to: string;
  subject?: string;
  /** Use bare LF line ends (as some stores and pipelines rewrite mail). */
  lf?: boolean;
  /** Wrap the OpenPGP structure in a multipart/mixed with a footer part (as mailing lists do). */
  listFooter?: boolean;
}

function envelope(o: MailOptions, contentType: string, body: string, partHeaders: string[] = []): Buffer {
  const head = [
    `From: ${o.from}`,
    `To: ${o.to}`,
    `Subject: ${o.subject ?? 'OpenPGP test'}`,
    `Message-ID: <${randomUUID()}@openpgp.test>`,
    'Date: Sun, 22 Nov 2026 10:00:00 +0000',
    'MIME-Version: 1.0',
  ];
  let text: string;
  if (o.listFooter) {
    const outer = `mixed-${randomUUID()}`;
    text = [
      ...head,
      `Content-Type: multipart/mixed; boundary="${outer}"`,
      '',
      `--${outer}`,
      `Content-Type: ${contentType}`,
      ...partHeaders,
      '',
      body,
      `--${outer}`,
      'Content-Type: text/plain; charset=us-ascii',
      '',
      '_______________________________________________',
      'list mailing list -- unsubscribe at https://lists.example',
      `--${outer}--`,
      '',
    ].join(CRLF);
  } else {
    text = [...head, `Content-Type: ${contentType}`, ...partHeaders, '', body].join(CRLF);
  }
  return Buffer.from(o.lf ? text.replace(/\r\n/g, '\n') : text, 'utf8');
}

/** The first part of a PGP/MIME signed message: MIME headers and a quoted-printable text body, CRLF. */
export function signedPartContent(text = 'Hello Alice,\r\nthis message is signed.\r\n-- \r\nBob\r\n'): Buffer {
  return Buffer.from(
    ['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable', '', text].join(CRLF),
    'utf8',
  );
}

export interface PgpMimeSignedOptions extends MailOptions {
  signer: TestKey;
  /** The signed part (default signedPartContent()). */
  content?: Buffer;
  /** Flip one byte of the transmitted signed part after signing. */
  tamper?: boolean;
  /** Send the signature base64-encoded (Content-Transfer-Encoding: base64). */
  base64Signature?: boolean;
  /** The signature's creation time (default now). */
  signedAt?: Date;
}

/** An RFC 3156 §5 multipart/signed message. */
export async function pgpMimeSigned(o: PgpMimeSignedOptions): Promise<Buffer> {
  const content = o.content ?? signedPartContent();
  const signature = await openpgp.sign({
    message: await openpgp.createMessage({ binary: content }),
    signingKeys: o.signer.privateKey,
    detached: true,
    ...(o.signedAt ? { date: o.signedAt } : {}),
  });
  const sent = Buffer.from(content);
  if (o.tamper) {
    const found = sent.indexOf('signed');
    const at = found >= 0 ? found : sent.length - 3;
    sent[at] = sent[at]! ^ 0x01;
  }
  const boundary = `sig-${randomUUID()}`;
  const sigBody = o.base64Signature
    ? Buffer.from(signature, 'utf8').toString('base64').replace(/.{76}/g, `$&${CRLF}`)
    : signature.trimEnd().replace(/\r?\n/g, CRLF);
  const body = [
    'This is an OpenPGP/MIME signed message (RFC 4880 and 3156)',
    `--${boundary}`,
    sent.toString('utf8'),
    `--${boundary}`,
    'Content-Type: application/pgp-signature; name="signature.asc"',
    'Content-Description: OpenPGP digital signature',
    'Content-Disposition: attachment; filename="signature.asc"',
    ...(o.base64Signature ? ['Content-Transfer-Encoding: base64'] : []),
    '',
    sigBody,
    `--${boundary}--`,
    '',
  ].join(CRLF);
  return envelope(
    o,
    `multipart/signed; micalg=pgp-sha512; protocol="application/pgp-signature"; boundary="${boundary}"`,
    body,
  );
}

export interface PgpMimeEncryptedOptions extends MailOptions {
  recipients: TestKey[];
  signer?: TestKey;
  text?: string;
}

/** An RFC 3156 §4 multipart/encrypted message (signed inside when `signer` is given, §6.2). */
export async function pgpMimeEncrypted(o: PgpMimeEncryptedOptions): Promise<Buffer> {
  const inner = ['Content-Type: text/plain; charset=utf-8', '', o.text ?? 'A secret for you.', ''].join(CRLF);
  const armored = await openpgp.encrypt({
    message: await openpgp.createMessage({ binary: Buffer.from(inner, 'utf8') }),
    encryptionKeys: o.recipients.map((r) => r.publicKey),
    ...(o.signer ? { signingKeys: o.signer.privateKey } : {}),
  });
  const boundary = `enc-${randomUUID()}`;
  const body = [
    'This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)',
    `--${boundary}`,
    'Content-Type: application/pgp-encrypted',
    'Content-Description: PGP/MIME version identification',
    '',
    'Version: 1',
    '',
    `--${boundary}`,
    'Content-Type: application/octet-stream; name="encrypted.asc"',
    'Content-Description: OpenPGP encrypted message',
    'Content-Disposition: inline; filename="encrypted.asc"',
    '',
    armored.trimEnd().replace(/\r?\n/g, CRLF),
    `--${boundary}--`,
    '',
  ].join(CRLF);
  return envelope(o, `multipart/encrypted; protocol="application/pgp-encrypted"; boundary="${boundary}"`, body);
}

export interface InlineSignedOptions extends MailOptions {
  signer: TestKey;
  text?: string;
  /** Change one word of the signed text after signing. */
  tamper?: boolean;
  /** Send the body quoted-printable encoded. */
  quotedPrintable?: boolean;
}

/** A text/plain message whose body is a cleartext-signed block (`-----BEGIN PGP SIGNED MESSAGE-----`). */
export async function inlineSigned(o: InlineSignedOptions): Promise<Buffer> {
  const text = o.text ?? 'Hello Alice,\n- this line starts with a dash\nsigned inline.';
  let block = await openpgp.sign({
    message: await openpgp.createCleartextMessage({ text }),
    signingKeys: o.signer.privateKey,
  });
  if (o.tamper) block = block.replace('signed inline', 'signed inlime');
  const body = block.replace(/\r?\n/g, CRLF);
  if (o.quotedPrintable) {
    // '=' escaped, and one soft line break in the signed text.
    const qp = body.replace(/=/g, '=3D').replace('Hello Alice', `Hello =${CRLF}Alice`);
    return envelope(o, 'text/plain; charset=utf-8', qp, ['Content-Transfer-Encoding: quoted-printable']);
  }
  return envelope(o, 'text/plain; charset=utf-8', body);
}

export interface InlineEncryptedOptions extends MailOptions {
  recipients: TestKey[];
  signer?: TestKey;
  text?: string;
}

/** A text/plain message whose body is an armoured encrypted message (`-----BEGIN PGP MESSAGE-----`). */
export async function inlineEncrypted(o: InlineEncryptedOptions): Promise<Buffer> {
  const armored = await openpgp.encrypt({
    message: await openpgp.createMessage({ text: o.text ?? 'An inline secret.' }),
    encryptionKeys: o.recipients.map((r) => r.publicKey),
    ...(o.signer ? { signingKeys: o.signer.privateKey } : {}),
  });
  return envelope(o, 'text/plain; charset=us-ascii', armored.replace(/\r?\n/g, CRLF));
}

/** A text/plain message whose body is an armoured signed (not encrypted) OpenPGP message (`gpg --sign --armor`). */
export async function inlineSignedMessage(o: MailOptions & { signer: TestKey; text?: string }): Promise<Buffer> {
  const armored = await openpgp.sign({
    message: await openpgp.createMessage({ text: o.text ?? 'Signed, not encrypted.' }),
    signingKeys: o.signer.privateKey,
  });
  return envelope(o, 'text/plain; charset=us-ascii', armored.replace(/\r?\n/g, CRLF));
}

/** One OpenPGP packet with a five-octet length (RFC 9580 §4.2.1). */
function packet(tag: number, body: Buffer): Buffer {
  const head = Buffer.alloc(6);
  head[0] = 0xc0 | tag;
  head[1] = 0xff;
  head.writeUInt32BE(body.length, 2);
  return Buffer.concat([head, body]);
}

/**
 * An armoured OpenPGP message made of one ZLIB-compressed packet that expands to a literal data packet of
 * `expandedBytes` zero bytes (64 MiB compress to about 64 KiB).
 */
export function compressionBomb(expandedBytes = 64 * 1024 * 1024): string {
  const literal = packet(11, Buffer.concat([Buffer.from([0x62, 0, 0, 0, 0, 0]), Buffer.alloc(expandedBytes)]));
  const compressed = packet(8, Buffer.concat([Buffer.from([2]), deflateSync(literal, { level: 9 })]));
  return openpgp.armor(openpgp.enums.armor.message, compressed);
}

/** A text/plain message whose body is an OpenPGP message block (armoured), as given. */
export function inlineMail(o: MailOptions, armored: string): Buffer {
  return envelope(o, 'text/plain; charset=us-ascii', armored.replace(/\r?\n/g, CRLF));
}
