import { createRequire } from 'node:module';
import { simpleParser, type ParsedMail } from 'mailparser';
import type AddressParser from 'nodemailer/lib/addressparser';
import { cleanDisplayName, normaliseEmailAddress } from './address.normalise.ts';
import {
  decodeEncodedWords,
  headerValue,
  headerValues,
  MAX_HEADER_VALUE,
  messageIdOf,
  readHeaderBlock,
  type HeaderBlock,
} from './mime-headers.ts';

import { cleanAttachmentFilename } from './attachment.download.ts';

const require = createRequire(import.meta.url);
// A directory module (lib/addressparser/index.js): ESM cannot import it by that path, require can.
const addressparser = require('nodemailer/lib/addressparser') as typeof AddressParser;

/**
 * Reads an RFC 5322 message into what the mailbox keeps, within fixed limits, whatever the input. The top-level
 * headers come from our own capped reader (mime-headers.ts), so a message is filed the same way whether or not the
 * full MIME parse succeeds; the body text and the attachment list come from mailparser, and when mailparser gives up
 * (too deep, too big, garbage) the message keeps what the headers said and records why in `problem`.
 */

export const PARSE_LIMITS = {
  subjectChars: 500,
  /** Addresses kept per header (To, Cc): the rest are dropped (and counted). */
  addressesPerField: 100,
  /** Body text kept for reading and indexing. */
  textChars: 1024 * 1024,
  attachments: 100,
  /** HTML converted to text, at most (the rest is ignored). */
  htmlChars: 4 * 1024 * 1024,
  /** The MIME parse is abandoned past this (the message keeps what its headers said). */
  parseTimeoutMs: 15_000,
} as const;

export const UNPARSABLE_SUBJECT = '(unparsable message)';

export interface ParsedAddress {
  /** Normalised address (mail/address.normalise.ts), or null when it is not a usable mailbox address. */
  address: string | null;
  /** The address as written (capped), for display when it could not be normalised. */
  written: string;
  name: string | null;
}

export interface ParsedHeaders {
  /** `<id>` form of the Message-ID header, or null. */
  messageId: string | null;
  subject: string;
  /** true when a Subject header was present. */
  hasSubject: boolean;
  from: ParsedAddress | null;
  to: ParsedAddress[];
  cc: ParsedAddress[];
  /** Addresses beyond PARSE_LIMITS.addressesPerField, dropped. */
  droppedAddresses: number;
  date: Date | null;
  /** Mailing list (List-Id header), when the message came through one. */
  list: { id: string; name: string | null } | null;
  /** Header values cut to their cap (a 1 MB header line...). */
  truncatedHeaders: number;
  /** false when not a single header field could be read. */
  hasHeaders: boolean;
}

export interface ParsedMessage extends ParsedHeaders {
  /** Plain text of the body (from the text part, or converted from HTML), capped. */
  text: string;
  textTruncated: boolean;
  hasHtml: boolean;
  attachments: { filename: string | null; contentType: string; size: number }[];
  /** Why the MIME structure could not be read in full, or null when it could. */
  problem: string | null;
}

const LIST_ID = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,255}$/;

function cleanSubject(value: string): string {
  const s = decodeEncodedWords(value.slice(0, 8 * PARSE_LIMITS.subjectChars))
    .normalize('NFC')
    .replace(/[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/gu, ' ')
    .replace(/\s+/gu, ' ')
    .trim();
  return Array.from(s).slice(0, PARSE_LIMITS.subjectChars).join('');
}

function parseAddresses(values: string[], limit: number): { kept: ParsedAddress[]; dropped: number } {
  const kept: ParsedAddress[] = [];
  let dropped = 0;
  for (const value of values) {
    let list: { name: string; address: string }[];
    try {
      list = addressparser(value.slice(0, MAX_HEADER_VALUE), { flatten: true });
    } catch {
      list = [];
    }
    for (const a of list) {
      const written = decodeEncodedWords(a.address ?? '').slice(0, 320);
      if (written === '' && !a.name) continue;
      if (kept.length >= limit) {
        dropped++;
        continue;
      }
      const address = written === '' ? null : normaliseEmailAddress(written);
      kept.push({ address, written, name: cleanDisplayName(decodeEncodedWords(a.name ?? ''), address ?? written) });
    }
  }
  return { kept, dropped };
}

function parseDate(value: string | null): Date | null {
  if (value === null) return null;
  const d = new Date(value.slice(0, 200).replace(/\s*\([^)]*\)\s*$/, ''));
  const t = d.getTime();
  if (Number.isNaN(t) || d.getUTCFullYear() < 1970 || d.getUTCFullYear() > 9999) return null;
  return d;
}

function parseListId(value: string | null): ParsedHeaders['list'] {
  if (value === null) return null;
  const decoded = decodeEncodedWords(value);
  const m = /<([^<>]*)>/.exec(decoded);
  const id = (m ? m[1]! : decoded).trim().toLowerCase();
  if (!LIST_ID.test(id)) return null;
  const name = m ? cleanDisplayName(decoded.slice(0, m.index)) : null;
  return { id, name };
}

/**
 * Who a message says wrote it: every address of its From fields (several fields or several addresses in one count, up
 * to PARSE_LIMITS.addressesPerField), and its Sender when there is one, normalised; null for an
 * address that cannot be read. What the federation inbox binds to the sender the protocol authenticated.
 */
export function authorsOf(raw: Buffer): { from: (string | null)[]; sender: (string | null)[] } {
  const block = readHeaderBlock(raw);
  const limit = PARSE_LIMITS.addressesPerField;
  const list = (name: string) => {
    const { kept, dropped } = parseAddresses(headerValues(block, name), limit);
    const out: (string | null)[] = kept.map((a) => a.address);
    // Addresses past the cap are still authors: each counts, unread.
    for (let i = 0; i < dropped; i++) out.push(null);
    return out;
  };
  return { from: list('from'), sender: list('sender') };
}

export function parseHeaders(raw: Buffer, block: HeaderBlock = readHeaderBlock(raw)): ParsedHeaders {
  const subjectValue = headerValue(block, 'subject');
  const from =
    parseAddresses(headerValues(block, 'from'), 1).kept[0] ??
    parseAddresses(headerValues(block, 'sender'), 1).kept[0] ??
    null;
  const to = parseAddresses(headerValues(block, 'to'), PARSE_LIMITS.addressesPerField);
  const cc = parseAddresses(headerValues(block, 'cc'), PARSE_LIMITS.addressesPerField);
  return {
    messageId: messageIdOf(headerValue(block, 'message-id')),
    subject: subjectValue === null ? '' : cleanSubject(subjectValue),
    hasSubject: subjectValue !== null,
    from,
    to: to.kept,
    cc: cc.kept,
    droppedAddresses: to.dropped + cc.dropped,
    date: parseDate(headerValue(block, 'date')),
    list: parseListId(headerValue(block, 'list-id')),
    truncatedHeaders: block.truncated,
    hasHeaders: block.fields.length > 0,
  };
}

/** The message with every oversized top-level header removed: what mailparser gets a second chance on. */
function withoutOversizedHeaders(raw: Buffer, block: HeaderBlock): Buffer {
  const kept = block.fields.filter((f) => f.value.length < 16 * 1024).slice(0, 500);
  const head = kept.map((f) => `${f.name}: ${f.value}\r\n`).join('');
  return Buffer.concat([Buffer.from(`${head}\r\n`, 'utf8'), raw.subarray(block.bodyOffset)]);
}

async function runMailparser(raw: Buffer): Promise<ParsedMail> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`parse took longer than ${PARSE_LIMITS.parseTimeoutMs} ms`)),
      PARSE_LIMITS.parseTimeoutMs,
    );
  });
  try {
    return await Promise.race([
      simpleParser(raw, {
        skipImageLinks: true,
        skipTextLinks: true,
        skipTextToHtml: true,
        // HTML is converted by htmlToText below, in linear time and within our limits.
        skipHtmlToText: true,
      }),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function describeError(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.replace(/[\u0000-\u001f]/g, ' ').slice(0, 200);
}

/** mailparser over the raw message, retried without oversized header lines; null and why when it gives up. */
async function parseMime(
  raw: Buffer,
  block: HeaderBlock,
): Promise<{ mail: ParsedMail | null; problem: string | null }> {
  let mail: ParsedMail | null = null;
  let problem: string | null = null;
  try {
    mail = await runMailparser(raw);
  } catch (e) {
    problem = describeError(e);
    if (block.truncated > 0) {
      try {
        mail = await runMailparser(withoutOversizedHeaders(raw, block));
        problem = `oversized header lines ignored (${problem})`;
      } catch {
        // keep the first problem
      }
    }
  }
  return { mail, problem };
}

/** An attachment with its decoded bytes, as `parseMessage` lists it (same order, same name and type cleaning). */
export interface ParsedAttachment {
  filename: string | null;
  contentType: string;
  content: Buffer;
}

/** The attachment at `index` in `parseMessage`'s list, with its bytes; null when there is none at that index. */
export async function attachmentOf(raw: Buffer, index: number): Promise<ParsedAttachment | null> {
  if (!Number.isInteger(index) || index < 0 || index >= PARSE_LIMITS.attachments) return null;
  const { mail } = await parseMime(raw, readHeaderBlock(raw));
  const a = mail?.attachments?.[index];
  if (a === undefined) return null;
  return { ...attachmentInfo(a), content: a.content ?? Buffer.alloc(0) };
}

function attachmentInfo(a: ParsedMail['attachments'][number]): { filename: string | null; contentType: string } {
  return {
    filename: cleanAttachmentFilename(a.filename),
    contentType: (a.contentType || 'application/octet-stream').slice(0, 200),
  };
}

/** Parses a raw message. Never throws: what cannot be read is left out and `problem` says why. */
export async function parseMessage(raw: Buffer): Promise<ParsedMessage> {
  const block = readHeaderBlock(raw);
  const headers = parseHeaders(raw, block);
  const { mail, problem: mimeProblem } = await parseMime(raw, block);
  let problem = mimeProblem;
  if (!headers.hasHeaders && problem === null) problem = 'no header fields';
  const html = typeof mail?.html === 'string' ? mail.html : '';
  const plain = typeof mail?.text === 'string' ? mail.text : '';
  const fullText = plain.trim() === '' && html !== '' ? htmlToText(html) : plain;
  const text = fullText.length > PARSE_LIMITS.textChars ? fullText.slice(0, PARSE_LIMITS.textChars) : fullText;
  const subject = headers.hasSubject
    ? headers.subject
    : problem !== null && mail === null
      ? UNPARSABLE_SUBJECT
      : headers.subject;
  return {
    ...headers,
    subject: !headers.hasHeaders ? UNPARSABLE_SUBJECT : subject,
    text,
    textTruncated: fullText.length > text.length,
    hasHtml: html.length > 0,
    attachments: (mail?.attachments ?? []).slice(0, PARSE_LIMITS.attachments).map((a) => ({
      ...attachmentInfo(a),
      size: a.size ?? a.content?.length ?? 0,
    })),
    problem,
  };
}

/**
 * What the mailbox keeps of a message whose body could not be read at all (the parser stopped: a worker killed by
 * its limits...): what its headers say, no text, and why.
 */
export function headersOnly(raw: Buffer, problem: string): ParsedMessage {
  const headers = parseHeaders(raw);
  return {
    ...headers,
    subject: headers.hasHeaders && headers.hasSubject ? headers.subject : UNPARSABLE_SUBJECT,
    text: '',
    textTruncated: false,
    hasHtml: false,
    attachments: [],
    problem: describeError(problem),
  };
}

const ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  shy: '',
  copy: '©',
  reg: '®',
  trade: '™',
  euro: '€',
  pound: '£',
  yen: '¥',
  cent: '¢',
  sect: '§',
  deg: '°',
  plusmn: '±',
  times: '×',
  divide: '÷',
  middot: '·',
  para: '¶',
  laquo: '«',
  raquo: '»',
  lsquo: '‘',
  rsquo: '’',
  ldquo: '“',
  rdquo: '”',
  sbquo: '‚',
  bdquo: '„',
  ndash: '–',
  mdash: '—',
  hellip: '…',
  bull: '•',
  iexcl: '¡',
  iquest: '¿',
  szlig: 'ß',
};
// Latin-1 letters with diacritics: &eacute; &Agrave; &ccedil; &ntilde; &ouml; &oslash; &aring; ...
for (const [base, marks] of Object.entries({
  a: 'grave acute circ tilde uml ring',
  e: 'grave acute circ uml',
  i: 'grave acute circ uml',
  o: 'grave acute circ tilde uml',
  u: 'grave acute circ uml',
  y: 'acute uml',
  n: 'tilde',
  c: 'cedil',
})) {
  for (const mark of marks.split(' ')) {
    const combining = {
      grave: '\u0300',
      acute: '\u0301',
      circ: '\u0302',
      tilde: '\u0303',
      uml: '\u0308',
      ring: '\u030a',
      cedil: '\u0327',
    }[mark]!;
    ENTITIES[`${base}${mark}`] = `${base}${combining}`.normalize('NFC');
    ENTITIES[`${base.toUpperCase()}${mark}`] = `${base.toUpperCase()}${combining}`.normalize('NFC');
  }
}
Object.assign(ENTITIES, {
  aelig: 'æ',
  AElig: 'Æ',
  oslash: 'ø',
  Oslash: 'Ø',
  oelig: 'œ',
  OElig: 'Œ',
  eth: 'ð',
  thorn: 'þ',
});
const BLOCK_TAGS = new Set([
  'br',
  'p',
  'div',
  'li',
  'tr',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'blockquote',
  'pre',
  'table',
  'hr',
  'title',
]);

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|[a-z]{2,8});/gi, (m, e: string) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return cp > 0 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff) ? String.fromCodePoint(cp) : ' ';
    }
    return ENTITIES[e] ?? ENTITIES[e.toLowerCase()] ?? m;
  });
}

/**
 * Plain text of an HTML body, for reading and indexing: script, style and head content dropped, block elements
 * become line breaks, tags removed, common entities decoded. One pass over at most PARSE_LIMITS.htmlChars
 * characters: linear whatever the markup (no regular expression that could backtrack over the document).
 */
export function htmlToText(html: string): string {
  const src = html.length > PARSE_LIMITS.htmlChars ? html.slice(0, PARSE_LIMITS.htmlChars) : html;
  const lower = src.toLowerCase();
  const out: string[] = [];
  let i = 0;
  while (i < src.length) {
    const lt = src.indexOf('<', i);
    if (lt < 0) {
      out.push(src.slice(i));
      break;
    }
    out.push(src.slice(i, lt));
    if (lower.startsWith('<!--', lt)) {
      const end = src.indexOf('-->', lt + 4);
      i = end < 0 ? src.length : end + 3;
      continue;
    }
    const gt = src.indexOf('>', lt + 1);
    if (gt < 0) break;
    const name = /^<\/?\s*([a-z0-9]{1,10})/.exec(lower.slice(lt, Math.min(gt + 1, lt + 16)))?.[1] ?? '';
    i = gt + 1;
    if ((name === 'script' || name === 'style' || name === 'head') && lower[lt + 1] !== '/') {
      const close = lower.indexOf(`</${name}`, i);
      i = close < 0 ? src.length : close;
      continue;
    }
    if (BLOCK_TAGS.has(name)) out.push('\n');
    else if (name === 'td' || name === 'th') out.push(' ');
  }
  return decodeEntities(out.join(''))
    .replace(/[ \t\u00a0]+/g, ' ')
    .replace(/ ?\n ?/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** Control characters and runs of white space, as a snippet shows them: one space. */
function collapseWhitespace(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f]/g, ' ').replace(/\s+/gu, ' ');
}

/**
 * The snippet's text before its cut: the lines of `text` (quoted ones left out when `ownOnly`) joined by spaces,
 * white space collapsed, reading no further than needed to know the first `max` characters and whether more follow.
 * Null when no line qualifies.
 */
function snippetText(text: string, max: number, ownOnly: boolean): string | null {
  // Enough UTF-16 units for max + 1 code points (2 units at most each) after a trailing space is trimmed.
  const enough = 2 * (max + 1) + 4;
  let out: string | null = null;
  for (let start = 0; start <= text.length; ) {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl;
    const line = text.slice(start, end > start && text[end - 1] === '\r' && nl >= 0 ? end - 1 : end);
    start = nl < 0 ? text.length + 1 : nl + 1;
    if (ownOnly && line.trimStart().startsWith('>')) continue;
    out = out === null ? collapseWhitespace(line) : collapseWhitespace(`${out} ${line}`);
    if (out.trimStart().length >= enough) break;
  }
  return out;
}

/**
 * A short preview of a body: quoted lines dropped (unless there is nothing else), whitespace collapsed, about 200
 * characters. Reads only as far into the text as the preview needs.
 */
export function snippetOf(text: string, max = 200): string {
  const head = text.length > 16 * 1024 ? text.slice(0, 16 * 1024) : text;
  const s = (snippetText(head, max, true) ?? snippetText(head, max, false) ?? '').trim();
  if (s.length <= max) return s;
  const chars = Array.from(s);
  return chars.length > max
    ? `${chars
        .slice(0, max - 1)
        .join('')
        .trimEnd()}…`
    : s;
}
