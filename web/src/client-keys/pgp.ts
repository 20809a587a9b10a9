import * as openpgp from 'openpgp';
import PostalMime from 'postal-mime';
import { ClientKeyError } from './client-key.errors.ts';

/**
 * The OpenPGP work of a client-mode account, done in the browser with openpgp.js: make a key, protect an imported
 * one under the browser's passphrase, unlock the kept keys, open (decrypt and verify) a received message. Heavy
 * (openpgp.js and a MIME parser): only ever loaded through `loadPgp()` (client-keys.ts), in a chunk of its own.
 * Nothing here talks to the server: decrypted content stays in the caller's memory.
 */

/** Bounds on what strangers' mail can make this code do (as the instance's openpgp.config.ts). */
const LIMITS = {
  /** A whole raw message looked at. */
  messageBytes: 64 * 1024 * 1024,
  /** What a compressed packet may expand to. */
  decompressedBytes: 16 * 1024 * 1024,
  /** An armoured key (or several) pasted in. */
  keyArmorBytes: 1024 * 1024,
  /** Keys in one import. */
  keys: 16,
};

const CONFIG: openpgp.PartialConfig = {
  maxDecompressedMessageSize: LIMITS.decompressedBytes,
  maxUserIDLength: 1024,
  ignoreMalformedPackets: false,
  enforceGrammar: true,
  allowUnauthenticatedMessages: false,
  allowUnauthenticatedStream: false,
  allowInsecureVerificationWithReformattedKeys: false,
};

/** User ID names stay plain (as the instance makes them): no brackets, parentheses, quotes or control characters. */
function userIdName(name: string): string {
  return name
    .replace(/[<>()"\\\p{Cc}]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 100);
}

export interface MadeKey {
  /** The private key, armoured, encrypted under the passphrase. */
  armoredPrivate: string;
  armoredPublic: string;
  revocationCertificate: string;
  fingerprint: string;
}

/**
 * A new key (v4 Curve25519, as the instance makes: docs/adr/0006), with the account's address as user ID, its
 * private part encrypted under `passphrase`. Dated a minute back, so that a server whose clock is a little behind the
 * browser's does not see a self-signature from the future.
 */
export async function generateClientKey(o: { name: string; email: string; passphrase: string }): Promise<MadeKey> {
  const { privateKey, publicKey, revocationCertificate } = await openpgp.generateKey({
    type: 'curve25519',
    userIDs: [{ name: userIdName(o.name) || o.email.split('@')[0]!, email: o.email }],
    passphrase: o.passphrase,
    format: 'armored',
    date: new Date(Date.now() - 60_000),
    config: { ...CONFIG, v6Keys: false },
  });
  const key = await openpgp.readKey({ armoredKey: publicKey });
  return {
    armoredPrivate: privateKey,
    armoredPublic: publicKey,
    revocationCertificate,
    fingerprint: key.getFingerprint().toLowerCase(),
  };
}

async function readPrivate(armored: string): Promise<openpgp.PrivateKey[]> {
  if (armored.length > LIMITS.keyArmorBytes || !armored.includes('-----BEGIN PGP PRIVATE KEY BLOCK-----'))
    throw new ClientKeyError('not_a_private_key');
  let keys: openpgp.PrivateKey[];
  try {
    keys = await openpgp.readPrivateKeys({ armoredKeys: armored, config: CONFIG });
  } catch {
    throw new ClientKeyError('not_a_private_key');
  }
  if (keys.length === 0 || keys.length > LIMITS.keys) throw new ClientKeyError('not_a_private_key');
  return keys;
}

async function open(key: openpgp.PrivateKey, passphrase: string | undefined): Promise<openpgp.PrivateKey> {
  if (key.isDecrypted()) return key;
  if (passphrase === undefined || passphrase === '') throw new ClientKeyError('wrong_passphrase');
  try {
    return await openpgp.decryptKey({ privateKey: key, passphrase, config: CONFIG });
  } catch {
    throw new ClientKeyError('wrong_passphrase');
  }
}

export interface ProtectedKeys {
  /** Each key armoured on its own, encrypted under the new passphrase; the order of the input. */
  armoredKeys: string[];
  fingerprints: string[];
  /** The public key of the first one. */
  armoredPublic: string;
}

/**
 * Private key(s) brought in (an import, or what the instance hands out when the key moves to this device), opened
 * with `passphrase` and protected again under `newPassphrase`: what the browser keeps. `accountFingerprints`, when
 * given, is the account's keys: a key that is not one of them is refused.
 */
export async function protectForBrowser(
  armored: string,
  passphrase: string | undefined,
  newPassphrase: string,
  accountFingerprints?: string[],
): Promise<ProtectedKeys> {
  const keys = await readPrivate(armored);
  if (accountFingerprints) {
    const known = new Set(accountFingerprints.map((f) => f.toLowerCase()));
    if (!keys.every((k) => known.has(k.getFingerprint().toLowerCase()))) throw new ClientKeyError('not_yours');
  }
  const armoredKeys: string[] = [];
  for (const key of keys) {
    const opened = await open(key, passphrase);
    const locked = await openpgp.encryptKey({ privateKey: opened, passphrase: newPassphrase, config: CONFIG });
    armoredKeys.push(locked.armor());
  }
  return {
    armoredKeys,
    fingerprints: keys.map((k) => k.getFingerprint().toLowerCase()),
    armoredPublic: keys[0]!.toPublic().armor(),
  };
}

/** The kept keys, opened with the passphrase (for this session, in memory only). */
export async function unlockKeys(armoredKeys: string[], passphrase: string): Promise<openpgp.PrivateKey[]> {
  const opened: openpgp.PrivateKey[] = [];
  for (const armored of armoredKeys)
    for (const key of await readPrivate(armored)) opened.push(await open(key, passphrase));
  return opened;
}

export type SignatureCheck = 'valid' | 'invalid' | 'unknown_key' | 'none';

export interface OpenedMail {
  /** The protected subject carried inside, when the sender put one there. */
  subject: string | null;
  text: string;
  /** The HTML part, unsanitised: the caller shows it through the mail-html sanitiser only. */
  html: string | null;
  signature: SignatureCheck;
  /** The signer's key ID (hex) when the message is signed. */
  signer: string | null;
  /** The attachments with their bytes (decrypted here): the app offers them as downloads from the browser. */
  attachments: { filename: string | null; contentType: string; size: number; content: Uint8Array }[];
}

/** Line ends as the page shows them. */
const lf = (text: string) => text.replace(/\r\n?/g, '\n');

const ARMOR = /-----BEGIN PGP MESSAGE-----[\s\S]*?-----END PGP MESSAGE-----/;

function bytesOf(content: ArrayBuffer | Uint8Array | string): Uint8Array {
  if (typeof content === 'string') return new TextEncoder().encode(content);
  return content instanceof Uint8Array ? content : new Uint8Array(content);
}

/** The OpenPGP message in a raw mail: the encrypted part of PGP/MIME (RFC 3156 §4), or an inline armoured block. */
async function encryptedPart(raw: Uint8Array): Promise<{ message: openpgp.Message<Uint8Array>; inline: boolean }> {
  if (raw.length > LIMITS.messageBytes) throw new ClientKeyError('unreadable');
  let outer: Awaited<ReturnType<typeof PostalMime.parse>>;
  try {
    outer = await PostalMime.parse(raw, { attachmentEncoding: 'arraybuffer', maxNestingDepth: 16 });
  } catch {
    throw new ClientKeyError('unreadable');
  }
  const contentType = outer.headers.find((h) => h.key === 'content-type')?.value.toLowerCase() ?? '';
  const read = async (bytes: Uint8Array) => {
    const text = new TextDecoder().decode(bytes);
    const armored = ARMOR.exec(text)?.[0];
    try {
      return armored !== undefined
        ? await openpgp.readMessage({ armoredMessage: armored, config: CONFIG })
        : await openpgp.readMessage({ binaryMessage: bytes, config: CONFIG });
    } catch {
      throw new ClientKeyError('unreadable');
    }
  };
  if (contentType.startsWith('multipart/encrypted') || outer.attachments.some((a) => isPgpEncrypted(a.mimeType))) {
    const part = outer.attachments.find(
      (a) => a.mimeType.toLowerCase() === 'application/octet-stream' && bytesOf(a.content).length > 0,
    );
    if (part) return { message: await read(bytesOf(part.content)), inline: false };
  }
  const inline = outer.text && ARMOR.exec(outer.text)?.[0];
  if (inline) return { message: await read(new TextEncoder().encode(inline)), inline: true };
  throw new ClientKeyError('not_encrypted');
}

const isPgpEncrypted = (mimeType: string) => mimeType.toLowerCase() === 'application/pgp-encrypted';

/**
 * Decrypts a received message with the kept keys and checks its signature against the sender's known public keys
 * (armoured, as the instance lists a contact's keys). PGP/MIME: the decrypted content is a MIME entity, parsed for
 * its text, HTML and attachments; inline: it is the text.
 */
export async function openMail(
  raw: Uint8Array,
  keys: openpgp.PrivateKey[],
  senderKeys: string[] = [],
): Promise<OpenedMail> {
  const { message, inline } = await encryptedPart(raw);
  const verificationKeys: openpgp.PublicKey[] = [];
  for (const armored of senderKeys.slice(0, 32)) {
    try {
      verificationKeys.push(...(await openpgp.readKeys({ armoredKeys: armored, config: CONFIG })));
    } catch {
      // a key the instance lists but that does not parse here: not used
    }
  }
  let result: openpgp.DecryptMessageResult & { data: Uint8Array };
  try {
    result = (await openpgp.decrypt({
      message,
      decryptionKeys: keys,
      ...(verificationKeys.length > 0 ? { verificationKeys } : {}),
      format: 'binary',
      config: CONFIG,
    })) as openpgp.DecryptMessageResult & { data: Uint8Array };
  } catch (e) {
    const text = e instanceof Error ? e.message : '';
    throw new ClientKeyError(
      /session key|no decryption key|decryption key packet/i.test(text) ? 'not_for_you' : 'unreadable',
    );
  }
  const { signature, signer } = await checkSignature(result.signatures, verificationKeys.length > 0);
  if (inline) {
    return {
      subject: null,
      text: lf(new TextDecoder().decode(result.data)),
      html: null,
      signature,
      signer,
      attachments: [],
    };
  }
  let inner: Awaited<ReturnType<typeof PostalMime.parse>>;
  try {
    inner = await PostalMime.parse(result.data, { attachmentEncoding: 'arraybuffer', maxNestingDepth: 16 });
  } catch {
    throw new ClientKeyError('unreadable');
  }
  return {
    subject: inner.subject ?? null,
    text: lf(inner.text ?? ''),
    html: inner.html ?? null,
    signature,
    signer,
    attachments: inner.attachments
      .filter((a) => a.mimeType.toLowerCase() !== 'application/pgp-signature')
      .map((a) => {
        const content = bytesOf(a.content);
        return { filename: a.filename, contentType: a.mimeType, size: content.length, content };
      }),
  };
}

async function checkSignature(
  signatures: openpgp.DecryptMessageResult['signatures'],
  haveKeys: boolean,
): Promise<{ signature: SignatureCheck; signer: string | null }> {
  const first = signatures[0];
  if (first === undefined) return { signature: 'none', signer: null };
  const signer = first.keyID.toHex();
  try {
    await first.verified;
    return { signature: 'valid', signer };
  } catch (e) {
    const text = e instanceof Error ? e.message : '';
    if (!haveKeys || /could not find signing key/i.test(text)) return { signature: 'unknown_key', signer };
    return { signature: 'invalid', signer };
  }
}

/** A header value as RFC 2047 encoded words when it is not plain ASCII (UTF-8, base64, within the line limit). */
function encodedWords(value: string): string {
  const clean = value.replace(/[\r\n\t\p{Cc}]+/gu, ' ');
  if (/^[\x20-\x7e]*$/.test(clean)) return clean;
  const out: string[] = [];
  let chunk = '';
  const flush = () => {
    if (chunk === '') return;
    const bytes = new TextEncoder().encode(chunk);
    out.push(`=?UTF-8?B?${btoa(String.fromCharCode(...bytes))}?=`);
    chunk = '';
  };
  for (const ch of clean) {
    if (new TextEncoder().encode(chunk + ch).length > 45) flush();
    chunk += ch;
  }
  flush();
  return out.join('\r\n ');
}

/** Base64 lines of 76 characters. */
function base64Lines(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return (
    btoa(binary)
      .match(/.{1,76}/g)
      ?.join('\r\n') ?? ''
  );
}

/**
 * A plain-text message sealed in the browser for a client-mode sender: the MIME entity (its subject as a protected
 * header inside), signed with the sender's unlocked key and encrypted to every recipient's key and the sender's own
 * (the Sent copy must stay readable to its owner), armoured: what POST /api/v1/messages takes as `encrypted`.
 */
export async function sealMail(o: {
  subject: string;
  text: string;
  /** Armoured public keys: the recipients' and the sender's own. */
  encryptTo: string[];
  /** The sender's unlocked active key. */
  signingKey: openpgp.PrivateKey;
}): Promise<string> {
  const encryptionKeys: openpgp.PublicKey[] = [];
  for (const armored of o.encryptTo) {
    try {
      encryptionKeys.push(await openpgp.readKey({ armoredKey: armored, config: CONFIG }));
    } catch {
      throw new ClientKeyError('unreadable');
    }
  }
  const body = new TextEncoder().encode(o.text.replace(/\r?\n/g, '\r\n'));
  const entity = [
    'Content-Type: text/plain; charset=utf-8; protected-headers="v1"',
    'Content-Transfer-Encoding: base64',
    `Subject: ${encodedWords(o.subject)}`,
    '',
    base64Lines(body),
    '',
  ].join('\r\n');
  return openpgp.encrypt({
    message: await openpgp.createMessage({ binary: new TextEncoder().encode(entity) }),
    encryptionKeys,
    signingKeys: o.signingKey,
    format: 'armored',
    config: CONFIG,
  });
}
