import type { ReceivedHop } from '../mail/message.facts.ts';

/**
 * The `Received:` trace of a message (RFC 5321 §4.4), read the way the Privacy Index needs it: which servers handled
 * the message before us and which of them said they used TLS. Everything here comes from the sender's side and is
 * only what each hop *claims*; our own hop is measured on the socket, not read from a header.
 *
 * Hostile input is the normal case: a header block of any size, unbalanced comments, control characters. The parser
 * is linear, caps what it keeps, and never throws.
 */

/** Hops beyond this many are ignored (a mail loop or an attack; Postfix rejects beyond 50). */
export const MAX_HOPS = 100;
/** The header block is read up to this many bytes. */
const MAX_HEADER_BYTES = 1024 * 1024;
/** One Received field is read up to this many characters. */
const MAX_FIELD_CHARS = 8 * 1024;
/** Each kept value (from, by, with, date) is cut to this length. */
const MAX_VALUE_CHARS = 255;
const MAX_COMMENT_DEPTH = 16;

export interface ReceivedChain {
  /** Newest first: the first element is the hop just before us. */
  hops: ReceivedHop[];
  externalHops: number;
  plaintextHops: number;
}

/**
 * The unfolded values of the header fields named `name` (case-insensitive), in message order (newest trace first),
 * from the header block of a raw message. Bytes are read as latin1 so that 8-bit garbage cannot break decoding.
 */
export function headerValues(raw: Uint8Array, name: string, limit = MAX_HOPS): string[] {
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const end = headerBlockEnd(buf);
  const block = buf.toString('latin1', 0, end);
  const wanted = name.toLowerCase();
  const out: string[] = [];
  let current: string[] | null = null;
  let currentLength = 0;
  const finish = () => {
    if (current) out.push(current.join(' ').replace(/\s+/g, ' ').trim());
    current = null;
  };
  for (const line of block.split(/\r?\n/)) {
    if (line === '') break;
    if (line[0] === ' ' || line[0] === '\t') {
      if (current && currentLength < MAX_FIELD_CHARS) {
        const piece = line.slice(0, MAX_FIELD_CHARS - currentLength);
        (current as string[]).push(piece);
        currentLength += piece.length;
      }
      continue;
    }
    finish();
    if (out.length >= limit) break;
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === wanted) {
      const piece = line.slice(colon + 1, colon + 1 + MAX_FIELD_CHARS);
      current = [piece];
      currentLength = piece.length;
    }
  }
  finish();
  return out.slice(0, limit);
}

function headerBlockEnd(buf: Buffer): number {
  const max = Math.min(buf.length, MAX_HEADER_BYTES);
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  const ends = [crlf, lf].filter((i) => i >= 0 && i < max);
  return ends.length ? Math.min(...ends) : max;
}

type Token = { kind: 'word' | 'comment'; text: string };

/** Splits a Received value into words and comments (nested, escaped) up to the first `;` outside a comment. */
function tokenize(value: string): { tokens: Token[]; date: string | null } {
  const tokens: Token[] = [];
  let i = 0;
  const n = value.length;
  while (i < n) {
    const c = value[i]!;
    if (c === ';') {
      const date = value.slice(i + 1).trim();
      return { tokens, date: date ? clip(date) : null };
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
      continue;
    }
    if (c === '(') {
      let depth = 0;
      let text = '';
      for (; i < n; i++) {
        const d = value[i]!;
        if (d === '\\' && i + 1 < n) {
          text += value[++i];
          continue;
        }
        if (d === '(') {
          depth++;
          if (depth > 1 && depth <= MAX_COMMENT_DEPTH) text += d;
          continue;
        }
        if (d === ')') {
          depth--;
          if (depth === 0) {
            i++;
            break;
          }
          if (depth < MAX_COMMENT_DEPTH) text += d;
          continue;
        }
        text += d;
      }
      tokens.push({ kind: 'comment', text });
      continue;
    }
    if (c === '"') {
      let text = '';
      for (i++; i < n && value[i] !== '"'; i++) text += value[i] === '\\' && i + 1 < n ? value[++i] : value[i];
      i++;
      tokens.push({ kind: 'word', text });
      continue;
    }
    let text = '';
    for (; i < n; i++) {
      const d = value[i]!;
      if (d === ' ' || d === '\t' || d === '(' || d === ';' || d === '"' || d === '\r' || d === '\n') break;
      text += d;
    }
    tokens.push({ kind: 'word', text });
  }
  return { tokens, date: null };
}

const CLAUSES = new Set(['from', 'by', 'via', 'with', 'id', 'for']);
/** Protocol words (RFC 3848, the registry of mail transmission types, and SMTPS as Gmail writes it) that say TLS was used. */
const TLS_PROTOCOLS = new Set([
  'ESMTPS',
  'ESMTPSA',
  'UTF8SMTPS',
  'UTF8SMTPSA',
  'LMTPS',
  'LMTPSA',
  'UTF8LMTPS',
  'UTF8LMTPSA',
  'HTTPS',
  'SMTPS',
  'SMTPSA',
]);
/** Protocol words that say the hop was in clear text. */
const PLAINTEXT_PROTOCOLS = new Set([
  'SMTP',
  'ESMTP',
  'ESMTPA',
  'UTF8SMTP',
  'UTF8SMTPA',
  'LMTP',
  'LMTPA',
  'UTF8LMTP',
  'UTF8LMTPA',
  'HTTP',
]);
/**
 * What MTAs write in comments when they used TLS: Postfix "(using TLSv1.3 with cipher ...)", Sendmail and Gmail
 * "(version=TLSv1.3 cipher=...)", Exchange "(version=TLS1_2, cipher=...)", Exim "(TLS1.3) tls TLS_AES_...".
 */
const TLS_COMMENT =
  /(?:^|[^A-Za-z0-9])(?:TLS\s?v?1(?:[._]\d)?|TLS_[A-Z0-9_]+|version=TLS|using\s+TLS|SSLv3)(?![A-Za-z])/i;

function clip(s: string): string {
  // Control characters never belong in a trace value; they are what header injection is made of.
  // eslint-disable-next-line no-control-regex
  const clean = s.replace(/[\x00-\x1f\x7f]/g, ' ');
  return clean.length > MAX_VALUE_CHARS ? clean.slice(0, MAX_VALUE_CHARS) : clean;
}

/** Parses one Received value (the part after `Received:`). */
export function parseReceived(value: string): ReceivedHop {
  const { tokens, date } = tokenize(value.length > MAX_FIELD_CHARS ? value.slice(0, MAX_FIELD_CHARS) : value);
  const clauses: Record<string, string> = {};
  const extras: string[] = [];
  let clause: string | null = null;
  let expectValue = false;
  for (const t of tokens) {
    if (t.kind === 'comment') {
      extras.push(t.text);
      continue;
    }
    const lower = t.text.toLowerCase();
    if (CLAUSES.has(lower) && !expectValue) {
      clause = lower;
      expectValue = true;
      continue;
    }
    if (expectValue && clause && !(clause in clauses)) {
      clauses[clause] = t.text;
      expectValue = false;
      continue;
    }
    expectValue = false;
    extras.push(t.text);
  }
  const withWord = clauses.with ?? null;
  const protocol = withWord?.toUpperCase() ?? null;
  const tlsSaid = extras.some((e) => TLS_COMMENT.test(e));
  let tls: boolean | null = null;
  if ((protocol && TLS_PROTOCOLS.has(protocol)) || tlsSaid) tls = true;
  else if (protocol && PLAINTEXT_PROTOCOLS.has(protocol)) tls = false;
  return {
    from: clauses.from ? clip(clauses.from) : null,
    by: clauses.by ? clip(clauses.by) : null,
    with: withWord ? clip(withWord) : null,
    tls,
    date,
  };
}

/**
 * The trace of a raw message, newest first, without the hops that this instance itself added (`by` our domain or
 * one of its subdomains): those are not "external". `plaintextHops` counts the hops that said they did not use TLS.
 */
export function receivedChain(raw: Uint8Array, ownDomain: string): ReceivedChain {
  const own = ownDomain.toLowerCase();
  const hops = headerValues(raw, 'received', MAX_HOPS)
    .map(parseReceived)
    .filter((h) => {
      const by = h.by?.toLowerCase().replace(/\.$/, '');
      return !(by && (by === own || by.endsWith(`.${own}`)));
    });
  return { hops, externalHops: hops.length, plaintextHops: hops.filter((h) => h.tls === false).length };
}
