import { createHash, randomUUID } from 'node:crypto';
import * as openpgp from 'openpgp';
import { normaliseEmailAddress } from '../mail/address.normalise.ts';
import { headerValues, MAX_HEADER_VALUE, readHeaderBlock } from '../mail/mime-headers.ts';
import { errorText, OPENPGP_CONFIG, OPENPGP_LIMITS } from './openpgp.config.ts';
import { fullConfig, loadPublicKey, sharedPublicKey } from './openpgp.keys.ts';

/**
 * Outgoing OpenPGP mail (RFC 3156 PGP/MIME) built from a message as the composer made it (RFC 5322, CRLF, every header
 * already encoded by nodemailer), and the Autocrypt header (Autocrypt Level 1) both ways.
 *
 * - `encryptMime`: sign then encrypt in one OpenPGP message (RFC 3156 §6.2, the combined method), to every recipient's
 *   key and to the sender's own key so that the Sent copy stays readable by its owner.
 * - `signMime`: multipart/signed with a detached signature (RFC 3156 §5).
 *
 * Protected headers ("memory hole", draft-ietf-lamps-header-protection, as Autocrypt clients do): the content that is
 * encrypted or signed is one MIME part that carries, besides its own Content-* headers, a copy of the message's
 * From, To, Cc, Reply-To, Subject, Date, Message-ID, In-Reply-To and References, and `protected-headers="v1"` on its
 * Content-Type. When the message is encrypted the outer Subject becomes `...`: the real subject travels only inside
 * the encryption (readers that know the convention show the inner one; our ingest does). The other outer headers stay
 * as they are (mail servers need them to route and thread). Bcc never goes inside: every recipient can decrypt the
 * content, and it would show them who else got it.
 */

const CRLF = '\r\n';

/** The outer Subject of an encrypted message: the real one is inside (protected headers). */
export const HIDDEN_SUBJECT = '...';

/** Headers copied into the protected part (in this order when present). */
const PROTECTED = ['from', 'to', 'cc', 'reply-to', 'subject', 'date', 'message-id', 'in-reply-to', 'references'];

interface RawField {
  /** Lowercased field name. */
  name: string;
  /** The whole field as transmitted, folded lines included, ending with CRLF. */
  text: string;
}

/** The header fields (raw, folded) and the body of a composed message. Line ends are made CRLF. */
function splitMessage(raw: Buffer): { fields: RawField[]; body: Buffer } {
  const text = raw.toString('latin1');
  let end = text.indexOf('\r\n\r\n');
  let sep = 4;
  const lf = text.indexOf('\n\n');
  if (end < 0 || (lf >= 0 && lf < end)) {
    end = lf;
    sep = 2;
  }
  const head = end < 0 ? text : text.slice(0, end);
  const body = end < 0 ? Buffer.alloc(0) : raw.subarray(end + sep);
  const fields: RawField[] = [];
  for (const line of head.split(/\r?\n/)) {
    if (line === '') continue;
    if (/^[ \t]/.test(line) && fields.length > 0) {
      fields[fields.length - 1]!.text += `${line}${CRLF}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    fields.push({ name: line.slice(0, colon).trim().toLowerCase(), text: `${line}${CRLF}` });
  }
  return { fields, body: canonical(body) };
}

/** Bare LF made CRLF (the composer already writes CRLF; this keeps hand-made input canonical too). */
function canonical(body: Buffer): Buffer {
  const text = body.toString('latin1');
  return /(^|[^\r])\n/.test(text) ? Buffer.from(text.replace(/\r?\n/g, CRLF), 'latin1') : body;
}

/** A Content-Type field with `protected-headers="v1"` added (before its final CRLF). */
function withProtectedParam(field: RawField | undefined): string {
  if (field === undefined) return `Content-Type: text/plain; charset=us-ascii; protected-headers="v1"${CRLF}`;
  if (/protected-headers\s*=/i.test(field.text)) return field.text;
  return `${field.text.replace(/\r\n$/, '')};${CRLF} protected-headers="v1"${CRLF}`;
}

/**
 * The part that gets signed or encrypted: the message's Content-* headers (Content-Type marked protected-headers),
 * a copy of its protected headers (never Bcc), then its body. CRLF throughout.
 */
function protectedPart(fields: RawField[], body: Buffer): Buffer {
  const contentType = fields.find((f) => f.name === 'content-type');
  const content = fields.filter((f) => f.name.startsWith('content-') && f !== contentType).map((f) => f.text);
  const copied = PROTECTED.flatMap((name) => fields.filter((f) => f.name === name).map((f) => f.text));
  return Buffer.concat([
    Buffer.from(withProtectedParam(contentType) + content.join('') + copied.join('') + CRLF, 'latin1'),
    body,
  ]);
}

/** The outer header fields: everything but the Content-* ones (and Subject replaced when asked), Autocrypt added. */
function outerFields(fields: RawField[], o: { hideSubject: boolean; autocrypt: string | null }): string {
  const out: string[] = [];
  for (const f of fields) {
    if (f.name.startsWith('content-') || f.name === 'autocrypt') continue;
    if (f.name === 'subject' && o.hideSubject) {
      out.push(`Subject: ${HIDDEN_SUBJECT}${CRLF}`);
      continue;
    }
    out.push(f.text);
  }
  if (o.hideSubject && !fields.some((f) => f.name === 'subject')) out.push(`Subject: ${HIDDEN_SUBJECT}${CRLF}`);
  if (!fields.some((f) => f.name === 'mime-version')) out.push(`MIME-Version: 1.0${CRLF}`);
  if (o.autocrypt !== null) out.push(`${o.autocrypt}${CRLF}`);
  return out.join('');
}

export class ComposeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ComposeError';
  }
}

async function encryptionKeysOf(
  keys: readonly (Uint8Array | openpgp.PublicKey)[],
  now: Date,
): Promise<openpgp.PublicKey[]> {
  const out: openpgp.PublicKey[] = [];
  const seen = new Set<string>();
  for (const k of keys) {
    const key = k instanceof Uint8Array ? await sharedPublicKey(k) : k;
    if (key === null) throw new ComposeError('A recipient key cannot be read.');
    const fingerprint = key.getFingerprint();
    if (seen.has(fingerprint)) continue;
    try {
      await key.getEncryptionKey(undefined, now, undefined, fullConfig());
    } catch (e) {
      throw new ComposeError(`The key ${fingerprint.slice(-16).toUpperCase()} cannot encrypt: ${errorText(e)}.`);
    }
    seen.add(fingerprint);
    out.push(key);
  }
  return out;
}

export interface EncryptMimeOptions {
  /** The message as composed (headers and body, CRLF). Bcc may be there (the sender's copy): it stays outside. */
  raw: Buffer;
  /** The recipients' public keys and the sender's own (binary transferable keys or loaded keys); duplicates are merged. */
  encryptionKeys: readonly (Uint8Array | openpgp.PublicKey)[];
  /** Signs inside the encryption when given (an unlocked private key). */
  signingKey: openpgp.PrivateKey | null;
  /**
   * Anonymous recipients (key IDs of zero): used when the message has Bcc recipients, so that the key IDs of the
   * encrypted message do not tell the others who else could read it (their number still shows).
   */
  hideRecipients?: boolean;
  /** The Autocrypt header line (autocryptHeader), added to the outer headers. */
  autocrypt?: string | null;
  now: Date;
}

/** RFC 3156 §4 multipart/encrypted, signed inside when a signing key is given (§6.2). Throws ComposeError. */
export async function encryptMime(o: EncryptMimeOptions): Promise<Buffer> {
  return (await encryptMimeParts(o)).message;
}

/**
 * encryptMime, with the part that was encrypted (the protected part, CRLF): what decrypting the message gives back,
 * for the sender's Sent copy, which then need not be decrypted again to be read and indexed.
 */
export async function encryptMimeParts(o: EncryptMimeOptions): Promise<{ message: Buffer; plaintext: Buffer }> {
  const { fields, body } = splitMessage(o.raw);
  const inner = protectedPart(fields, body);
  const keys = await encryptionKeysOf(o.encryptionKeys, o.now);
  if (keys.length === 0) throw new ComposeError('No key to encrypt to.');
  let armored: string;
  try {
    armored = await openpgp.encrypt({
      message: await openpgp.createMessage({ binary: inner, date: o.now }),
      encryptionKeys: keys,
      ...(o.signingKey ? { signingKeys: o.signingKey } : {}),
      ...(o.hideRecipients ? { wildcard: true } : {}),
      date: o.now,
      format: 'armored',
      config: OPENPGP_CONFIG,
    });
  } catch (e) {
    throw new ComposeError(`The message could not be encrypted: ${errorText(e)}.`);
  }
  return { message: encryptedEnvelope(fields, armored, o.autocrypt ?? null), plaintext: inner };
}

/** The RFC 3156 §4 envelope around an armoured OpenPGP message: the outer headers (subject hidden), two parts. */
function encryptedEnvelope(fields: RawField[], armored: string, autocrypt: string | null): Buffer {
  const boundary = `enc-${randomUUID()}`;
  const head = outerFields(fields, { hideSubject: true, autocrypt });
  const text = [
    `${head}Content-Type: multipart/encrypted; protocol="application/pgp-encrypted";${CRLF} boundary="${boundary}"`,
    '',
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
  return Buffer.from(text, 'latin1');
}

export interface WrapEncryptedOptions {
  /** The message as composed, for its headers (its body is not sent: the encrypted message replaces it). */
  raw: Buffer;
  /** An armoured OpenPGP message made elsewhere (the sender's device, for a key kept there): sent as it is. */
  armored: string;
  autocrypt?: string | null;
}

/**
 * RFC 3156 §4 multipart/encrypted around a message encrypted (and signed) on the sender's device: it must be one
 * armoured OpenPGP message, within the size limit, encrypted to at least one key (a public-key encrypted session key
 * packet); what is inside is not seen here. Throws ComposeError.
 */
export async function wrapEncrypted(o: WrapEncryptedOptions): Promise<Buffer> {
  const armored = o.armored.trim();
  if (armored.length > OPENPGP_LIMITS.armorBytes) throw new ComposeError('The encrypted message is too large.');
  if (
    !armored.startsWith('-----BEGIN PGP MESSAGE-----') ||
    !armored.endsWith('-----END PGP MESSAGE-----') ||
    !/^[\x20-\x7e\r\n\t]*$/.test(armored)
  )
    throw new ComposeError('The encrypted body must be one armoured OpenPGP message (-----BEGIN PGP MESSAGE-----).');
  let message: openpgp.Message<Uint8Array>;
  try {
    message = await openpgp.readMessage({ armoredMessage: armored, config: OPENPGP_CONFIG });
  } catch (e) {
    throw new ComposeError(`The encrypted body cannot be read: ${errorText(e)}.`);
  }
  const encrypted = message.packets.filterByTag(openpgp.enums.packet.publicKeyEncryptedSessionKey).length > 0;
  const literal = message.packets.filterByTag(openpgp.enums.packet.literalData).length > 0;
  if (!encrypted || literal) throw new ComposeError('The encrypted body is not encrypted to any key.');
  const { fields } = splitMessage(o.raw);
  return encryptedEnvelope(fields, armored, o.autocrypt ?? null);
}

export interface SignMimeOptions {
  raw: Buffer;
  signingKey: openpgp.PrivateKey;
  autocrypt?: string | null;
  now: Date;
}

/** RFC 3156 §5 multipart/signed: the protected part, byte for byte, then its detached signature. Throws ComposeError. */
export async function signMime(o: SignMimeOptions): Promise<Buffer> {
  const { fields, body } = splitMessage(o.raw);
  const inner = protectedPart(fields, body);
  let armored: string;
  let signature: openpgp.Signature;
  try {
    armored = await openpgp.sign({
      message: await openpgp.createMessage({ binary: inner, date: o.now }),
      signingKeys: o.signingKey,
      detached: true,
      date: o.now,
      format: 'armored',
      config: OPENPGP_CONFIG,
    });
    signature = await openpgp.readSignature({ armoredSignature: armored, config: OPENPGP_CONFIG });
  } catch (e) {
    throw new ComposeError(`The message could not be signed: ${errorText(e)}.`);
  }
  const hash = signature.packets[0]?.hashAlgorithm;
  const micalg =
    hash === undefined || hash === null
      ? 'pgp-sha256'
      : `pgp-${openpgp.enums.read(openpgp.enums.hash, hash)}`.toLowerCase();
  const boundary = `sig-${randomUUID()}`;
  const head = outerFields(fields, { hideSubject: false, autocrypt: o.autocrypt ?? null });
  const start = Buffer.from(
    [
      `${head}Content-Type: multipart/signed; micalg=${micalg}; protocol="application/pgp-signature";${CRLF} boundary="${boundary}"`,
      '',
      'This is an OpenPGP/MIME signed message (RFC 4880 and 3156)',
      `--${boundary}`,
      '',
    ].join(CRLF),
    'latin1',
  );
  const end = Buffer.from(
    [
      '',
      `--${boundary}`,
      'Content-Type: application/pgp-signature; name="signature.asc"',
      'Content-Description: OpenPGP digital signature',
      'Content-Disposition: attachment; filename="signature.asc"',
      '',
      armored.trimEnd().replace(/\r?\n/g, CRLF),
      `--${boundary}--`,
      '',
    ].join(CRLF),
    'latin1',
  );
  // The signed bytes are exactly the part: the CRLF before the next delimiter belongs to the delimiter (RFC 2046).
  return Buffer.concat([start, inner, end]);
}

/** The message with one more header field (placed before the first header), body untouched. */
export function withHeader(raw: Buffer, header: string): Buffer {
  return Buffer.concat([Buffer.from(`${header}${CRLF}`, 'latin1'), raw]);
}

// --- Autocrypt (Level 1) -------------------------------------------------------------------------------------------

/**
 * The smallest key that lets a peer encrypt to `address` and check signatures (Autocrypt Level 1 §2.1.1): the primary
 * key with its direct signatures, the user ID of that address with its self-certifications (no third-party ones), and
 * the encryption subkey with its binding signature. Binary transferable public key. Throws ComposeError.
 */
export async function autocryptKeydata(publicKey: Uint8Array, address: string, now: Date): Promise<Uint8Array> {
  return (await autocryptKeydataUntil(publicKey, address, now, false)).keydata;
}

/**
 * autocryptKeydata, and (when `withExpiry`) until when it holds: the primary key's or the chosen encryption key's
 * expiry (ms since the epoch; Infinity: none; null: unknown).
 */
async function autocryptKeydataUntil(
  publicKey: Uint8Array,
  address: string,
  now: Date,
  withExpiry: boolean,
): Promise<{ keydata: Uint8Array; expires: number | null }> {
  const wanted = normaliseEmailAddress(address);
  const key = await loadPublicKey(publicKey);
  if (key === null || wanted === null) throw new ComposeError('The key or the address cannot be read.');
  const copy = new openpgp.PublicKey(key.toPublic().toPacketList());
  const user = copy.users.find((u) => u.userID?.email && normaliseEmailAddress(u.userID.email) === wanted);
  let encryption: openpgp.PublicKey | openpgp.Subkey;
  try {
    encryption = await copy.getEncryptionKey(undefined, now, undefined, fullConfig());
  } catch (e) {
    throw new ComposeError(`The key cannot encrypt: ${errorText(e)}.`);
  }
  let expires: number | null = null;
  if (withExpiry) {
    try {
      const times = await Promise.all([
        key.getExpirationTime(undefined, fullConfig()),
        encryption instanceof openpgp.Subkey ? encryption.getExpirationTime(now, fullConfig()) : Infinity,
      ]);
      expires = times.some((t) => t === null) ? null : Math.min(...times.map((t) => (t === Infinity ? t : +t!)));
    } catch {
      expires = null;
    }
  }
  if (user !== undefined) {
    user.otherCertifications = [];
    copy.users = [user];
  }
  copy.subkeys = copy.subkeys.filter((s) => s === encryption);
  return { keydata: copy.write(), expires };
}

/**
 * autocryptKeydata remembered per (public key, address): a sender's Autocrypt header is the same on every message,
 * and building it parses the key and checks its self-signatures (~1.6 ms). An entry holds until the key or its
 * encryption subkey expires, and at most `ttlMs` (a key given a new subkey or a revocation has other bytes, so another
 * entry); a key whose expiry cannot be read is not remembered. Errors are not remembered either.
 */
export class AutocryptKeydataCache {
  private readonly entries = new Map<string, { keydata: Uint8Array; from: number; until: number }>();
  private readonly maxEntries: number;
  private readonly ttlMs: number;

  constructor(options: { maxEntries?: number; ttlMs?: number } = {}) {
    this.maxEntries = options.maxEntries ?? 1024;
    this.ttlMs = options.ttlMs ?? 10 * 60_000;
  }

  async get(publicKey: Uint8Array, address: string, now: Date): Promise<Uint8Array> {
    const id = `${address.toLowerCase()}\n${createHash('sha256').update(publicKey).digest('base64')}`;
    const t = now.getTime();
    const hit = this.entries.get(id);
    if (hit !== undefined && t >= hit.from && t < hit.until) return hit.keydata;
    this.entries.delete(id);
    const { keydata, expires } = await autocryptKeydataUntil(publicKey, address, now, true);
    if (expires !== null && expires > t) {
      if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(id, { keydata, from: t, until: Math.min(expires, t + this.ttlMs) });
    }
    return keydata;
  }
}

/** Base64 folded for a header: continuation lines start with a space and stay under 78 characters. */
function folded(base64: string): string {
  return (base64.match(/.{1,72}/g) ?? []).map((l) => `${CRLF} ${l}`).join('');
}

/** `Autocrypt: addr=...; [prefer-encrypt=mutual; ]keydata=...` (folded, without the final CRLF). */
export function autocryptHeader(o: { address: string; keydata: Uint8Array; preferEncrypt: boolean }): string {
  const b64 = Buffer.from(o.keydata.buffer, o.keydata.byteOffset, o.keydata.length).toString('base64');
  return `Autocrypt: addr=${o.address};${o.preferEncrypt ? ' prefer-encrypt=mutual;' : ''} keydata=${folded(b64)}`;
}

export interface AutocryptHeader {
  /** Normalised address. */
  address: string;
  preferEncrypt: 'mutual' | 'nopreference';
  /** Binary key, unparsed (CorrespondentKeyService.addKey checks it). */
  keydata: Uint8Array;
}

export type AutocryptReading = { header: AutocryptHeader; problem: null } | { header: null; problem: string | null };

/**
 * Keydata of at most 60 KiB of base64 (a key of about 45 KiB: Autocrypt keys are a few KiB). Under the header reader's
 * cut (MAX_HEADER_VALUE, 64 KiB), so that a header too long to be read whole is refused, never read cut.
 */
const MAX_KEYDATA_CHARS = Math.min(Math.ceil((OPENPGP_LIMITS.keyBytes * 4) / 3), 60 * 1024);

/**
 * Reads the Autocrypt header of an incoming message (Autocrypt Level 1 §2.3): exactly one valid header, with `addr`
 * and `keydata`, no unknown critical attribute (names not starting with `_`), keydata valid base64 within the key size
 * cap. No header: `{ header: null, problem: null }`; anything wrong: `{ header: null, problem }`. Never throws.
 * (Whether addr matches From, and whether the key is good, are the caller's checks.)
 */
export function readAutocryptHeader(raw: Buffer): AutocryptReading {
  try {
    const values = headerValues(readHeaderBlock(raw), 'autocrypt');
    if (values.length === 0) return { header: null, problem: null };
    const valid: AutocryptHeader[] = [];
    let problem: string | null = null;
    for (const value of values.slice(0, 8)) {
      const parsed = parseAutocryptValue(value);
      if (typeof parsed === 'string') problem = parsed;
      else valid.push(parsed);
    }
    if (valid.length > 1)
      return { header: null, problem: 'Several Autocrypt headers: none is used (Autocrypt Level 1 §2.3).' };
    if (valid.length === 0) return { header: null, problem };
    return { header: valid[0]!, problem: null };
  } catch (e) {
    return { header: null, problem: `The Autocrypt header cannot be read: ${errorText(e)}.` };
  }
}

function parseAutocryptValue(value: string): AutocryptHeader | string {
  if (value.length > Math.min(MAX_KEYDATA_CHARS + 2048, MAX_HEADER_VALUE - 1024))
    return 'The Autocrypt header is too large.';
  const attributes = new Map<string, string>();
  for (const piece of value.split(';')) {
    if (piece.trim() === '') continue;
    const eq = piece.indexOf('=');
    if (eq <= 0) return 'An Autocrypt attribute without a value.';
    const name = piece.slice(0, eq).trim().toLowerCase();
    if (attributes.has(name)) return `The Autocrypt attribute ${name.slice(0, 40)} is repeated.`;
    attributes.set(name, piece.slice(eq + 1).trim());
  }
  for (const name of attributes.keys()) {
    if (!['addr', 'prefer-encrypt', 'keydata'].includes(name) && !name.startsWith('_'))
      return `Unknown critical Autocrypt attribute "${name.slice(0, 40)}".`;
  }
  const address = normaliseEmailAddress(attributes.get('addr') ?? '');
  if (address === null) return 'The Autocrypt header has no usable addr.';
  const b64 = (attributes.get('keydata') ?? '').replace(/\s+/g, '');
  if (b64 === '') return 'The Autocrypt header has no keydata.';
  if (b64.length > MAX_KEYDATA_CHARS) return 'The Autocrypt keydata is larger than a key may be.';
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 === 1) return 'The Autocrypt keydata is not valid base64.';
  const keydata = new Uint8Array(Buffer.from(b64, 'base64'));
  if (keydata.length === 0) return 'The Autocrypt keydata is empty.';
  const prefer = (attributes.get('prefer-encrypt') ?? '').toLowerCase();
  return { address, preferEncrypt: prefer === 'mutual' ? 'mutual' : 'nopreference', keydata };
}
