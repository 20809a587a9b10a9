import { TextDecoder } from 'node:util';

/**
 * A defensive reader of a message's top-level header block: what the mailbox needs to file a message (Message-ID,
 * From, To, Cc, Subject, Date, List-Id) even when the full MIME parser gives up on it (a 1 MB header line, a
 * thousand nested multiparts, binary garbage). Every size is capped; nothing here throws.
 */

/** Bytes of the message scanned for the end of the header block. */
const MAX_HEADER_BLOCK = 4 * 1024 * 1024;
/** A header value longer than this is cut (and counted in `truncated`). */
export const MAX_HEADER_VALUE = 64 * 1024;
const MAX_HEADERS = 2000;
const HEADER_NAME = /^[!-9;-~]{1,128}$/;

export interface HeaderBlock {
  /** Header fields in order, names lowercased, values unfolded (not decoded). */
  fields: { name: string; value: string }[];
  /** Byte offset where the body starts (after the blank line), or the message length when there is none. */
  bodyOffset: number;
  /** How many header values were cut to MAX_HEADER_VALUE. */
  truncated: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 when the bytes are valid UTF-8, Latin-1 otherwise (8-bit headers from old software). */
function decodeLine(bytes: Buffer): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

/** Finds the blank line ending the header block (CRLF CRLF or LF LF). */
function headerEnd(raw: Buffer): { end: number; bodyOffset: number } {
  const limit = Math.min(raw.length, MAX_HEADER_BLOCK);
  if (raw.length > 0 && (raw[0] === 0x0a || (raw[0] === 0x0d && raw[1] === 0x0a))) {
    return { end: 0, bodyOffset: raw[0] === 0x0a ? 1 : 2 };
  }
  for (let i = raw.indexOf(0x0a); i >= 0 && i < limit; i = raw.indexOf(0x0a, i + 1)) {
    if (raw[i + 1] === 0x0a) return { end: i + 1, bodyOffset: i + 2 };
    if (raw[i + 1] === 0x0d && raw[i + 2] === 0x0a) return { end: i + 1, bodyOffset: i + 3 };
  }
  return { end: limit, bodyOffset: raw.length };
}

export function readHeaderBlock(raw: Buffer): HeaderBlock {
  const { end, bodyOffset } = headerEnd(raw);
  const fields: { name: string; value: string }[] = [];
  let truncated = 0;
  let current: { name: string; parts: string[]; length: number } | null = null;
  const flush = () => {
    if (current === null) return;
    let value = current.parts.join('');
    if (current.length > MAX_HEADER_VALUE) {
      value = value.slice(0, MAX_HEADER_VALUE);
      truncated++;
    }
    if (fields.length < MAX_HEADERS) fields.push({ name: current.name, value: value.trim() });
    current = null;
  };
  let start = 0;
  while (start < end) {
    let nl = raw.indexOf(0x0a, start);
    if (nl < 0 || nl > end) nl = end;
    let lineEnd = nl;
    if (lineEnd > start && raw[lineEnd - 1] === 0x0d) lineEnd--;
    const bytes = raw.subarray(start, lineEnd);
    start = nl + 1;
    if (bytes.length === 0) continue;
    if ((bytes[0] === 0x20 || bytes[0] === 0x09) && current !== null) {
      // Continuation line: kept only while the value is under the cap.
      if (current.length <= MAX_HEADER_VALUE) current.parts.push(decodeLine(bytes.subarray(0, MAX_HEADER_VALUE + 1)));
      current.length += bytes.length;
      continue;
    }
    flush();
    const colon = bytes.indexOf(0x3a);
    if (colon <= 0 || colon > 128) continue; // not a header field: skipped
    const name = bytes.subarray(0, colon).toString('latin1').trimEnd();
    if (!HEADER_NAME.test(name)) continue;
    const valueBytes = bytes.subarray(colon + 1);
    current = {
      name: name.toLowerCase(),
      parts: [decodeLine(valueBytes.subarray(0, MAX_HEADER_VALUE + 1))],
      length: valueBytes.length,
    };
  }
  flush();
  return { fields, bodyOffset, truncated };
}

/** The first value of a header, or null. */
export function headerValue(block: HeaderBlock, name: string): string | null {
  return block.fields.find((f) => f.name === name)?.value ?? null;
}

/** Every value of a header, in order. */
export function headerValues(block: HeaderBlock, name: string): string[] {
  return block.fields.filter((f) => f.name === name).map((f) => f.value);
}

function decoderFor(charset: string): TextDecoder {
  try {
    return new TextDecoder(charset.split('*')[0]!.trim().toLowerCase() || 'utf-8');
  } catch {
    // An unknown charset: decode as UTF-8, with replacement characters where the bytes do not fit.
    return new TextDecoder('utf-8');
  }
}

function qDecode(text: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '_') bytes.push(0x20);
    else if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(c.charCodeAt(0) & 0xff);
  }
  return Buffer.from(bytes);
}

const ENCODED_WORD = /=\?([^?\s]{1,64})\?([bBqQ])\?([^?\s]*)\?=/g;

/**
 * Decodes RFC 2047 encoded words (`=?utf-8?B?...?=`). Whitespace between two encoded words is dropped, and adjacent
 * words in the same charset are joined before decoding (a multi-byte character may be split across two words).
 */
export function decodeEncodedWords(input: string): string {
  if (!input.includes('=?')) return input;
  const out: string[] = [];
  let last = 0;
  let charset: string | null = null;
  let bytes: Buffer[] = [];
  const flush = () => {
    if (charset !== null) out.push(decoderFor(charset).decode(Buffer.concat(bytes)));
    charset = null;
    bytes = [];
  };
  for (const m of input.matchAll(ENCODED_WORD)) {
    const between = input.slice(last, m.index);
    const adjacent = last > 0 && /^\s*$/.test(between);
    const cs = m[1]!.toLowerCase();
    const decoded = m[2]!.toLowerCase() === 'b' ? Buffer.from(m[3]!, 'base64') : qDecode(m[3]!);
    if (!(adjacent && charset === cs)) {
      flush();
      if (!adjacent) out.push(between);
      charset = cs;
    }
    bytes.push(decoded);
    last = m.index + m[0].length;
  }
  flush();
  out.push(input.slice(last));
  return out.join('');
}

/** The first `<id>` of a Message-ID style header, in angle brackets; a bare token when there are none; or null. */
export function messageIdOf(value: string | null): string | null {
  if (value === null) return null;
  const bracketed = /<([^<>\s]{1,996})>/.exec(value);
  if (bracketed) return `<${bracketed[1]}>`;
  const bare = value.trim().split(/\s+/)[0] ?? '';
  return bare.length > 0 && bare.length <= 996 && !/[<>]/.test(bare) ? `<${bare}>` : null;
}
