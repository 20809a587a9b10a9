import { errorText, OPENPGP_LIMITS } from './openpgp.config.ts';
import { canonicalCrlf, decodedBody, type MimeEntity, partsOf, readEntity } from './openpgp.mime.ts';

/**
 * Finding OpenPGP in a raw message, synchronously and without cryptography (openpgp.verify.ts does that):
 * - PGP/MIME (RFC 3156): `multipart/encrypted; protocol="application/pgp-encrypted"` and
 *   `multipart/signed; protocol="application/pgp-signature"`, at the top level or as a part of a top-level
 *   multipart/mixed (what mailing lists make when they append a footer);
 * - inline armour in the text/plain body (the top-level one, or the first text/plain part down two multipart levels):
 *   `-----BEGIN PGP SIGNED MESSAGE-----` (cleartext signature) and `-----BEGIN PGP MESSAGE-----`. A PGP MESSAGE
 *   block is `inline-encrypted` when its first packet is an encryption packet (PKESK, SKESK, encrypted data) and
 *   `inline-signed` otherwise (a signed, possibly compressed, message: `gpg --sign --armor`).
 * The first OpenPGP structure found wins. Never throws: anything unreadable gives `kind: 'none'` with a `problem`,
 * or the detected kind with a `problem` when the structure is there but broken.
 */

export type OpenPgpKind = 'none' | 'pgp-mime-encrypted' | 'pgp-mime-signed' | 'inline-encrypted' | 'inline-signed';

export interface OpenPgpPart {
  kind: OpenPgpKind;
  /** The OpenPGP message of an encrypted kind: armoured text, or binary packets. */
  encryptedData?: string | Uint8Array;
  /** pgp-mime-signed: the exact bytes that were signed (the first part, headers included), CRLF canonical. */
  signedContent?: Buffer;
  /**
   * pgp-mime-signed: the detached signature (armoured, or binary), transfer encoding undone.
   * inline-signed without `cleartext`: the whole signed OpenPGP message (`-----BEGIN PGP MESSAGE-----` block).
   */
  signature?: string | Uint8Array;
  /** inline-signed cleartext: the whole block, from `-----BEGIN PGP SIGNED MESSAGE-----` to the signature's end. */
  cleartext?: string;
  /** What is wrong with the structure found (a missing part, a block without its end...), when something is. */
  problem?: string;
}

const NONE: OpenPgpPart = { kind: 'none' };

const ENCRYPTED_MEDIA = 'multipart/encrypted';
const SIGNED_MEDIA = 'multipart/signed';
const PGP_ENCRYPTED = 'application/pgp-encrypted';
const PGP_SIGNATURE = 'application/pgp-signature';

/**
 * What was found in each raw message still in memory: ingest asks twice per arriving message (the key-conflict check,
 * then the OpenPGP facts), with the same Buffer. Keyed by the Buffer object, so an entry goes with its message; a
 * result is frozen, so no caller can change what the next one reads.
 */
const detected = new WeakMap<Buffer, Readonly<OpenPgpPart>>();

export function detectOpenPgp(raw: Buffer): Readonly<OpenPgpPart> {
  let part = detected.get(raw);
  if (part === undefined) {
    part = Object.freeze(detect(raw));
    detected.set(raw, part);
  }
  return part;
}

function detect(raw: Buffer): OpenPgpPart {
  try {
    if (raw.length > OPENPGP_LIMITS.messageBytes)
      return { kind: 'none', problem: 'The message is too large to be checked for OpenPGP.' };
    const top = readEntity(raw);
    const pgpMime = pgpMimeOf(top);
    if (pgpMime) return pgpMime;
    if (top.contentType.mediaType === 'multipart/mixed') {
      const split = partsOf(top, OPENPGP_LIMITS.mimeParts);
      for (const part of split?.entities ?? []) {
        const nested = pgpMimeOf(part);
        if (nested) return nested;
      }
    }
    const text = firstTextPlain(top, 0);
    return text === null ? NONE : inlineOf(text);
  } catch (e) {
    return { kind: 'none', problem: `The message structure could not be read: ${errorText(e)}.` };
  }
}

function protocolOf(entity: MimeEntity): string {
  return (entity.contentType.params.get('protocol') ?? '').trim().toLowerCase();
}

function pgpMimeOf(entity: MimeEntity): OpenPgpPart | null {
  const media = entity.contentType.mediaType;
  if (media === SIGNED_MEDIA && protocolOf(entity) === PGP_SIGNATURE) return pgpMimeSigned(entity);
  if (media === ENCRYPTED_MEDIA && protocolOf(entity) === PGP_ENCRYPTED) return pgpMimeEncrypted(entity);
  return null;
}

/** Armoured text when the bytes are armour (7-bit), else the bytes themselves. */
function armoredOrBinary(bytes: Buffer, marker: string): string | Uint8Array {
  const head = bytes.subarray(0, Math.min(bytes.length, 4096)).toString('latin1');
  if (head.includes(marker)) return bytes.toString('latin1');
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** RFC 3156 §5: two parts, the signed content and an application/pgp-signature part. */
function pgpMimeSigned(entity: MimeEntity): OpenPgpPart {
  const split = partsOf(entity, OPENPGP_LIMITS.mimeParts);
  if (split === null) return { kind: 'pgp-mime-signed', problem: 'multipart/signed without a usable boundary.' };
  if (split.parts.length < 2)
    return { kind: 'pgp-mime-signed', problem: `multipart/signed with ${split.parts.length} part(s); two expected.` };
  const content = split.parts[0]!;
  const sigPart = split.entities[1]!;
  const part: OpenPgpPart = { kind: 'pgp-mime-signed', signedContent: canonicalCrlf(content) };
  if (sigPart.contentType.mediaType !== PGP_SIGNATURE) {
    return {
      ...part,
      problem: `The second part of multipart/signed is ${sigPart.contentType.mediaType}, not ${PGP_SIGNATURE}.`,
    };
  }
  if (sigPart.body.length > OPENPGP_LIMITS.signatureBytes * 2)
    return { ...part, problem: 'The signature part is too large to be a signature.' };
  const signature = decodedBody(sigPart);
  if (signature.length === 0) return { ...part, problem: 'The signature part is empty.' };
  if (signature.length > OPENPGP_LIMITS.signatureBytes)
    return { ...part, problem: 'The signature part is too large to be a signature.' };
  const problem = split.closed ? {} : { problem: 'multipart/signed has no closing boundary.' };
  return { ...part, signature: armoredOrBinary(signature, '-----BEGIN PGP SIGNATURE-----'), ...problem };
}

/** RFC 3156 §4: an application/pgp-encrypted control part, then the OpenPGP message (application/octet-stream). */
function pgpMimeEncrypted(entity: MimeEntity): OpenPgpPart {
  const split = partsOf(entity, OPENPGP_LIMITS.mimeParts);
  if (split === null) return { kind: 'pgp-mime-encrypted', problem: 'multipart/encrypted without a usable boundary.' };
  if (split.parts.length < 2)
    return {
      kind: 'pgp-mime-encrypted',
      problem: `multipart/encrypted with ${split.parts.length} part(s); two expected.`,
    };
  const control = split.entities[0]!;
  const payload = split.entities[1]!;
  if (payload.body.length > OPENPGP_LIMITS.armorBytes * 2)
    return { kind: 'pgp-mime-encrypted', problem: 'The encrypted part is too large to be checked.' };
  const data = decodedBody(payload);
  if (data.length === 0) return { kind: 'pgp-mime-encrypted', problem: 'The encrypted part is empty.' };
  if (data.length > OPENPGP_LIMITS.armorBytes)
    return { kind: 'pgp-mime-encrypted', problem: 'The encrypted part is too large to be checked.' };
  const part: OpenPgpPart = {
    kind: 'pgp-mime-encrypted',
    encryptedData: armoredOrBinary(data, '-----BEGIN PGP MESSAGE-----'),
  };
  if (control.contentType.mediaType !== PGP_ENCRYPTED) {
    return {
      ...part,
      problem: `The first part of multipart/encrypted is ${control.contentType.mediaType}, not ${PGP_ENCRYPTED}.`,
    };
  }
  return part;
}

/** The decoded text of the first text/plain entity that is not an attachment, down `depth` multipart levels. */
function firstTextPlain(entity: MimeEntity, depth: number): string | null {
  const media = entity.contentType.mediaType;
  if (media === 'text/plain') {
    if (entity.disposition === 'attachment' && depth > 0) return null;
    const body = decodedBody(entity);
    if (body.length > OPENPGP_LIMITS.armorBytes) return null;
    return body.toString('utf8');
  }
  if (!media.startsWith('multipart/') || depth >= 2 || media === SIGNED_MEDIA || media === ENCRYPTED_MEDIA) return null;
  const split = partsOf(entity, OPENPGP_LIMITS.mimeParts);
  for (const part of split?.entities ?? []) {
    const text = firstTextPlain(part, depth + 1);
    if (text !== null) return text;
  }
  return null;
}

/** The index of an armour line (`-----BEGIN PGP ...-----` at the start of a line) at or after `from`, or -1. */
function armorLine(text: string, line: string, from: number): number {
  for (let at = text.indexOf(line, from); at >= 0; at = text.indexOf(line, at + 1)) {
    if (at === 0 || text[at - 1] === '\n') return at;
  }
  return -1;
}

/** The end of the line that starts at `at` (after its line break), or the text's length. */
function endOfLine(text: string, at: number): number {
  const nl = text.indexOf('\n', at);
  return nl < 0 ? text.length : nl + 1;
}

const SIGNED_BEGIN = '-----BEGIN PGP SIGNED MESSAGE-----';
const SIGNATURE_BEGIN = '-----BEGIN PGP SIGNATURE-----';
const SIGNATURE_END = '-----END PGP SIGNATURE-----';
const MESSAGE_BEGIN = '-----BEGIN PGP MESSAGE-----';
const MESSAGE_END = '-----END PGP MESSAGE-----';

function inlineOf(text: string): OpenPgpPart {
  const signedAt = armorLine(text, SIGNED_BEGIN, 0);
  const messageAt = armorLine(text, MESSAGE_BEGIN, 0);
  if (signedAt < 0 && messageAt < 0) return NONE;
  if (signedAt >= 0 && (messageAt < 0 || signedAt < messageAt)) {
    const sigAt = armorLine(text, SIGNATURE_BEGIN, signedAt);
    const endAt = sigAt < 0 ? -1 : armorLine(text, SIGNATURE_END, sigAt);
    if (endAt < 0)
      return { kind: 'inline-signed', problem: 'A signed block without its signature (or without its end).' };
    const end = endOfLine(text, endAt);
    return { kind: 'inline-signed', cleartext: text.slice(signedAt, end), signature: text.slice(sigAt, end) };
  }
  const endAt = armorLine(text, MESSAGE_END, messageAt);
  if (endAt < 0) return { kind: 'inline-encrypted', problem: 'An OpenPGP message block without its end.' };
  const block = text.slice(messageAt, endOfLine(text, endAt));
  const tag = firstPacketTag(block);
  if (tag !== null && !ENCRYPTION_TAGS.has(tag)) return { kind: 'inline-signed', signature: block };
  return { kind: 'inline-encrypted', encryptedData: block };
}

/** PKESK, SKESK, symmetrically encrypted data, marker (only ever sent before encrypted data), SEIPD, AEAD. */
const ENCRYPTION_TAGS = new Set([1, 3, 9, 10, 18, 20]);

/** The packet tag of the first packet of an armoured block (RFC 9580 §4.2), or null when it cannot be read. */
export function firstPacketTag(block: string): number | null {
  const lines = block.split(/\r?\n/);
  // Armour headers end at the first empty line; the base64 body follows.
  const blank = lines.findIndex((l, i) => i > 0 && l.trim() === '');
  const first = lines.slice(blank < 0 ? 1 : blank + 1).find((l) => l.trim() !== '');
  if (first === undefined || first.startsWith('-----')) return null;
  const bytes = Buffer.from(first.trim().slice(0, 8), 'base64');
  const b = bytes[0];
  if (b === undefined || (b & 0x80) === 0) return null;
  return b & 0x40 ? b & 0x3f : (b >> 2) & 0x0f;
}
