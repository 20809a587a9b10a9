import { parseHeaderValue } from 'nodemailer/lib/mime-funcs';
import { headerValue, readHeaderBlock } from '../mail/mime-headers.ts';

/**
 * The little MIME reading that OpenPGP needs and mailparser does not give: the raw bytes of body parts exactly as
 * transmitted (RFC 3156 signs the first part of multipart/signed byte for byte, headers included). Bounded: parts are
 * found with Buffer.indexOf in one forward pass, at most `maxParts` of them; nothing here throws on hostile input
 * (callers still wrap it).
 */

export interface ContentType {
  /** Lowercased `type/subtype`; 'text/plain' when absent or unreadable (RFC 2045 §5.2). */
  mediaType: string;
  /** Parameters, names lowercased, values as given (unquoted). */
  params: ReadonlyMap<string, string>;
}

export interface MimeEntity {
  /** The entity's bytes, headers included. */
  raw: Buffer;
  contentType: ContentType;
  /** Lowercased Content-Transfer-Encoding, or null. */
  transferEncoding: string | null;
  /** Lowercased disposition type (`inline`, `attachment`), or null. */
  disposition: string | null;
  /** The body, still transfer-encoded. */
  body: Buffer;
}

const MEDIA_TYPE = /^[a-z0-9!#$&^_.+-]{1,127}\/[a-z0-9!#$&^_.+-]{1,127}$/;

export function parseContentType(value: string | null): ContentType {
  if (value === null) return { mediaType: 'text/plain', params: new Map() };
  const parsed = parseHeaderValue(value.slice(0, 16 * 1024), { stripComments: true });
  const mediaType = parsed.value.trim().toLowerCase();
  const params = new Map<string, string>();
  for (const [k, v] of Object.entries(parsed.params)) params.set(k.toLowerCase(), v);
  return { mediaType: MEDIA_TYPE.test(mediaType) ? mediaType : 'text/plain', params };
}

/** Reads an entity (a whole message, or one body part) from its bytes. */
export function readEntity(raw: Buffer): MimeEntity {
  const block = readHeaderBlock(raw);
  const contentType = parseContentType(headerValue(block, 'content-type'));
  const cte = headerValue(block, 'content-transfer-encoding');
  const disposition = headerValue(block, 'content-disposition');
  return {
    raw,
    contentType,
    transferEncoding:
      cte === null
        ? null
        : cte
            .trim()
            .toLowerCase()
            .split(/[\s;(]/)[0]!,
    disposition:
      disposition === null
        ? null
        : disposition
            .trim()
            .toLowerCase()
            .split(/[\s;(]/)[0]!,
    body: raw.subarray(block.bodyOffset),
  };
}

/** A boundary as RFC 2046 allows it (1–70 characters, no line breaks), slightly more lenient on the characters. */
const BOUNDARY = /^[\x20-\x7e]{1,200}$/;

export interface MultipartSplit {
  /** Each part's bytes, from after its delimiter line to before the line break that precedes the next delimiter. */
  parts: Buffer[];
  /** Whether the close delimiter (`--boundary--`) was found. */
  closed: boolean;
  /** Whether parts were left out because there were more than `maxParts`. */
  truncated: boolean;
}

/**
 * Splits a multipart body on its boundary (RFC 2046 §5.1.1). A delimiter is `--boundary` at the start of a line,
 * then `--` (close delimiter) or optional spaces/tabs and the end of the line; the line break before a delimiter
 * belongs to the delimiter, not to the part. Lines that merely start with the boundary text are content.
 * Resolves null for an unusable boundary.
 */
export function splitMultipart(body: Buffer, boundary: string, maxParts: number): MultipartSplit | null {
  if (!BOUNDARY.test(boundary) || boundary.trim() === '') return null;
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  const parts: Buffer[] = [];
  let partStart = -1;
  let pos = 0;
  while (pos <= body.length) {
    const at = body.indexOf(delimiter, pos);
    if (at < 0) break;
    pos = at + 1;
    if (at > 0 && body[at - 1] !== 0x0a) continue; // not at the start of a line
    let after = at + delimiter.length;
    const close = body[after] === 0x2d && body[after + 1] === 0x2d;
    if (close) after += 2;
    while (body[after] === 0x20 || body[after] === 0x09) after++;
    let lineEnd: number;
    if (after >= body.length) lineEnd = body.length;
    else if (body[after] === 0x0a) lineEnd = after + 1;
    else if (body[after] === 0x0d && body[after + 1] === 0x0a) lineEnd = after + 2;
    else if (close)
      lineEnd = after; // text after a close delimiter is epilogue
    else continue; // `--boundaryX`: a longer line, not a delimiter
    if (partStart >= 0) {
      let end = at;
      if (end > partStart && body[end - 1] === 0x0a) end--;
      if (end > partStart && body[end - 1] === 0x0d) end--;
      parts.push(body.subarray(partStart, Math.max(partStart, end)));
      if (parts.length >= maxParts && !close) return { parts, closed: false, truncated: true };
    }
    if (close) return { parts, closed: true, truncated: false };
    partStart = lineEnd;
    pos = lineEnd;
  }
  // No close delimiter: the last part runs to the end of the body (lenient, as mail clients are).
  if (partStart >= 0 && parts.length < maxParts) parts.push(body.subarray(partStart));
  return { parts, closed: false, truncated: false };
}

/** The parts of a multipart entity, or null when it is not multipart or has no usable boundary. */
export function partsOf(entity: MimeEntity, maxParts: number): (MultipartSplit & { entities: MimeEntity[] }) | null {
  if (!entity.contentType.mediaType.startsWith('multipart/')) return null;
  const boundary = entity.contentType.params.get('boundary');
  if (boundary === undefined) return null;
  const split = splitMultipart(entity.body, boundary, maxParts);
  if (split === null) return null;
  return { ...split, entities: split.parts.map(readEntity) };
}

/** Decodes quoted-printable (RFC 2045 §6.7): `=XX` escapes and soft line breaks; anything else is kept as is. */
export function decodeQuotedPrintable(input: Buffer): Buffer {
  const out = Buffer.alloc(input.length);
  let n = 0;
  const hex = (c: number | undefined) =>
    c === undefined
      ? -1
      : c >= 0x30 && c <= 0x39
        ? c - 0x30
        : c >= 0x41 && c <= 0x46
          ? c - 0x37
          : c >= 0x61 && c <= 0x66
            ? c - 0x57
            : -1;
  for (let i = 0; i < input.length; i++) {
    const c = input[i]!;
    if (c !== 0x3d) {
      out[n++] = c;
      continue;
    }
    // Soft line break: '=' then optional whitespace then the end of the line.
    let j = i + 1;
    while (input[j] === 0x20 || input[j] === 0x09) j++;
    if (input[j] === 0x0a || (input[j] === 0x0d && input[j + 1] === 0x0a) || j >= input.length) {
      i = input[j] === 0x0d ? j + 1 : j;
      continue;
    }
    const hi = hex(input[i + 1]);
    const lo = hex(input[i + 2]);
    if (hi >= 0 && lo >= 0) {
      out[n++] = hi * 16 + lo;
      i += 2;
    } else {
      out[n++] = c;
    }
  }
  return out.subarray(0, n);
}

/** The body of an entity with its transfer encoding undone (base64, quoted-printable; others as they are). */
export function decodedBody(entity: MimeEntity): Buffer {
  if (entity.transferEncoding === 'base64') {
    return Buffer.from(entity.body.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  }
  if (entity.transferEncoding === 'quoted-printable') return decodeQuotedPrintable(entity.body);
  return entity.body;
}

/**
 * Line ends made CRLF (RFC 3156 §5: the signed part is hashed in canonical form): a bare LF becomes CRLF, an
 * existing CRLF is kept. Returns the input itself when it is already canonical.
 */
export function canonicalCrlf(input: Buffer): Buffer {
  let bare = 0;
  for (let i = input.indexOf(0x0a); i >= 0; i = input.indexOf(0x0a, i + 1))
    if (i === 0 || input[i - 1] !== 0x0d) bare++;
  if (bare === 0) return input;
  const out = Buffer.alloc(input.length + bare);
  let n = 0;
  let from = 0;
  for (let i = input.indexOf(0x0a); i >= 0; i = input.indexOf(0x0a, i + 1)) {
    if (i > 0 && input[i - 1] === 0x0d) continue;
    n += input.copy(out, n, from, i);
    out[n++] = 0x0d;
    out[n++] = 0x0a;
    from = i + 1;
  }
  n += input.copy(out, n, from);
  return out.subarray(0, n);
}
