import { TextDecoder } from 'node:util';

import { AppError } from '../shared/errors.ts';
import type { ContactIdentity } from './contact.entity.ts';
import { PROTOCOL_PATTERN } from '../mail/address.normalise.ts';

/**
 * vCard import and export, written here because no vCard library is installed. Export writes vCard 4.0 (RFC 6350):
 * UID (urn:uuid: of the contact id), FN, one EMAIL per email identity, IMPP for other protocols, NOTE, REV; lines
 * folded at 75 octets, CRLF, text escaped, parameter values quoted with RFC 6868 caret escapes. Import reads 4.0,
 * 3.0 and the 2.1 files phones still export (bare TYPE parameters, QUOTED-PRINTABLE values with soft line breaks).
 *
 * Structural problems (a property outside a card, nested or unterminated cards, control characters, an unsupported
 * VERSION, sizes past VCARD_LIMITS) reject the whole file with `vcard_invalid` naming the line. A card whose
 * content is unusable (an invalid address) is still read; its problems are listed in `warnings`.
 */

export const VCARD_LIMITS = {
  bytes: 1024 * 1024,
  cards: 1000,
  propertiesPerCard: 500,
  lineChars: 64 * 1024,
  identitiesPerCard: 50,
} as const;

export interface VcardCard {
  /** 1-based line where the card starts, for messages. */
  line: number;
  uid: string | null;
  /** FN, or the name assembled from N; null when the card has neither. */
  displayName: string | null;
  /** Raw identities as written (normalised later by the contact service). */
  identities: { protocol: string; address: string; label: string | null }[];
  notes: string;
}

interface Property {
  line: number;
  name: string;
  params: Map<string, string[]>;
  value: string;
}

function invalid(line: number, what: string): AppError {
  return new AppError('vcard_invalid', `line ${line}: ${what}`);
}

/** RFC 6868: ^^ -> ^, ^n -> newline, ^' -> double quote. */
function caretDecode(s: string): string {
  return s.replace(/\^([\^n'])/g, (_m, c: string) => (c === '^' ? '^' : c === 'n' ? '\n' : '"'));
}

function caretEncode(s: string): string {
  return s.replaceAll('^', '^^').replaceAll('\n', '^n').replaceAll('"', "^'");
}

/** Splits on `sep` outside double quotes. */
function splitOutsideQuotes(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of s) {
    if (ch === '"') quoted = !quoted;
    if (ch === sep && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

function parseProperty(text: string, line: number): Property {
  let quoted = false;
  let colon = -1;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') quoted = !quoted;
    else if (ch === ':' && !quoted) {
      colon = i;
      break;
    }
  }
  if (colon <= 0) throw invalid(line, 'not a vCard property (expected NAME:value).');
  const [head, ...paramParts] = splitOutsideQuotes(text.slice(0, colon), ';');
  const m = /^(?:[A-Za-z0-9-]{1,64}\.)?([A-Za-z0-9-]{1,64})$/.exec(head!);
  if (!m) throw invalid(line, `bad property name ${JSON.stringify(head!.slice(0, 40))}.`);
  const params = new Map<string, string[]>();
  for (const part of paramParts) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    // vCard 2.1 writes bare parameter values (EMAIL;INTERNET;PREF:...): they are TYPEs.
    const key = (eq < 0 ? 'TYPE' : part.slice(0, eq)).trim().toUpperCase();
    const raw = eq < 0 ? part : part.slice(eq + 1);
    if (!/^[A-Z0-9-]{1,64}$/.test(key)) throw invalid(line, `bad parameter ${JSON.stringify(part.slice(0, 40))}.`);
    const values = splitOutsideQuotes(raw, ',').map((v) => caretDecode(v.trim().replace(/^"(.*)"$/s, '$1')));
    params.set(key, [...(params.get(key) ?? []), ...values]);
  }
  return { line, name: m[1]!.toUpperCase(), params, value: text.slice(colon + 1) };
}

/** Unescapes a vCard text value: \\n or \\N newline, \\, \\; \\\\. */
function unescapeText(s: string): string {
  return s.replace(/\\([nN,;\\:])/g, (_m, c: string) => (c === 'n' || c === 'N' ? '\n' : c));
}

/** Splits a structured value on unescaped semicolons. */
function splitStructured(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '\\' && i + 1 < s.length) {
      cur += ch + s[i + 1];
      i++;
    } else if (ch === ';') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map(unescapeText);
}

function decodeQuotedPrintable(value: string, charset: string | undefined): string {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(value.slice(i + 1, i + 3))) {
      bytes.push(parseInt(value.slice(i + 1, i + 3), 16));
      i += 2;
    } else for (const b of Buffer.from(c, 'utf8')) bytes.push(b);
  }
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charset ?? 'utf-8');
  } catch {
    decoder = new TextDecoder('utf-8');
  }
  return decoder.decode(Buffer.from(bytes));
}

/** Logical lines: folded lines joined, QUOTED-PRINTABLE soft breaks joined, each with its first physical line. */
function logicalLines(text: string): { line: number; text: string }[] {
  const physical = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  const out: { line: number; text: string }[] = [];
  for (let i = 0; i < physical.length; i++) {
    const p = physical[i]!;
    const prev = out[out.length - 1];
    if (prev !== undefined && (p.startsWith(' ') || p.startsWith('\t'))) {
      prev.text += p.slice(1);
    } else if (
      prev !== undefined &&
      /QUOTED-PRINTABLE/i.test(prev.text.split(':')[0] ?? '') &&
      prev.text.endsWith('=')
    ) {
      prev.text = prev.text.slice(0, -1) + p;
    } else if (p.trim() !== '' || prev === undefined) {
      out.push({ line: i + 1, text: p });
    } else {
      out.push({ line: i + 1, text: '' });
    }
    const last = out[out.length - 1]!;
    if (last.text.length > VCARD_LIMITS.lineChars)
      throw invalid(last.line, `property longer than ${VCARD_LIMITS.lineChars} characters.`);
  }
  return out.filter((l) => l.text.trim() !== '');
}

function propertyValue(p: Property): string {
  const encoding = p.params.get('ENCODING')?.[0]?.toUpperCase();
  if (encoding === 'QUOTED-PRINTABLE') return decodeQuotedPrintable(p.value, p.params.get('CHARSET')?.[0]);
  return p.value;
}

function labelOf(p: Property): string | null {
  const types = (p.params.get('TYPE') ?? []).flatMap((t) => t.split(',')).map((t) => t.trim());
  const meaningful = types.filter((t) => t !== '' && !['internet', 'pref', 'x400', 'voice'].includes(t.toLowerCase()));
  return meaningful[0]?.slice(0, 64) ?? null;
}

function toCard(line: number, props: Property[]): VcardCard {
  const version = props.find((p) => p.name === 'VERSION')?.value.trim();
  if (version === undefined) throw invalid(line, 'card without VERSION.');
  if (!['2.1', '3.0', '4.0'].includes(version))
    throw invalid(line, `unsupported VERSION ${JSON.stringify(version.slice(0, 10))} (2.1, 3.0 and 4.0 are read).`);
  let fn: string | null = null;
  let n: string | null = null;
  let uid: string | null = null;
  const notes: string[] = [];
  const identities: VcardCard['identities'] = [];
  for (const p of props) {
    const encoding = p.params.get('ENCODING')?.[0]?.toUpperCase();
    if (encoding === 'B' || encoding === 'BASE64') continue; // photos, sounds: not kept
    switch (p.name) {
      case 'FN':
        fn ??= unescapeText(propertyValue(p)).trim() || null;
        break;
      case 'N': {
        const [family = '', given = '', additional = '', prefix = '', suffix = ''] = splitStructured(propertyValue(p));
        n ??=
          [prefix, given, additional, family, suffix]
            .map((s) => s.trim())
            .filter(Boolean)
            .join(' ') || null;
        break;
      }
      case 'UID':
        uid ??= unescapeText(p.value).trim().slice(0, 200) || null;
        break;
      case 'NOTE':
        notes.push(unescapeText(propertyValue(p)));
        break;
      case 'EMAIL':
        identities.push({ protocol: 'email', address: unescapeText(propertyValue(p)).trim(), label: labelOf(p) });
        break;
      case 'IMPP': {
        const v = p.value.trim();
        const colon = v.indexOf(':');
        const scheme = colon > 0 ? v.slice(0, colon).toLowerCase() : '';
        if (PROTOCOL_PATTERN.test(scheme))
          identities.push({ protocol: scheme, address: v.slice(colon + 1), label: labelOf(p) });
        break;
      }
      default:
        break;
    }
    if (identities.length > VCARD_LIMITS.identitiesPerCard)
      throw invalid(p.line, `more than ${VCARD_LIMITS.identitiesPerCard} addresses in one card.`);
  }
  return { line, uid, displayName: fn ?? n, identities, notes: notes.join('\n') };
}

/** Reads every card of a vCard file. Throws AppError('vcard_invalid') naming the line of a structural problem. */
export function parseVcards(text: string): VcardCard[] {
  if (Buffer.byteLength(text, 'utf8') > VCARD_LIMITS.bytes)
    throw new AppError('vcard_invalid', `the file is larger than ${VCARD_LIMITS.bytes} bytes.`);
  const control = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.exec(text);
  if (control) {
    const line = text.slice(0, control.index).split(/\r\n|\n|\r/).length;
    throw invalid(
      line,
      `control character U+${control[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()} is not allowed.`,
    );
  }
  const cards: VcardCard[] = [];
  let open: { line: number; props: Property[] } | null = null;
  for (const l of logicalLines(text)) {
    const p = parseProperty(l.text, l.line);
    if (p.name === 'BEGIN') {
      if (p.value.trim().toUpperCase() !== 'VCARD')
        throw invalid(l.line, `BEGIN:${p.value.slice(0, 20)} is not a vCard.`);
      if (open !== null)
        throw invalid(l.line, `a card cannot contain another card (the card of line ${open.line} is not closed).`);
      if (cards.length >= VCARD_LIMITS.cards)
        throw invalid(l.line, `more than ${VCARD_LIMITS.cards} cards in one file.`);
      open = { line: l.line, props: [] };
    } else if (p.name === 'END') {
      if (open === null || p.value.trim().toUpperCase() !== 'VCARD')
        throw invalid(l.line, 'END:VCARD without a matching BEGIN:VCARD.');
      cards.push(toCard(open.line, open.props));
      open = null;
    } else {
      if (open === null) throw invalid(l.line, `property ${p.name} outside BEGIN:VCARD ... END:VCARD.`);
      if (open.props.length >= VCARD_LIMITS.propertiesPerCard)
        throw invalid(l.line, `more than ${VCARD_LIMITS.propertiesPerCard} properties in one card.`);
      open.props.push(p);
    }
  }
  if (open !== null) throw invalid(open.line, 'the card is not closed (END:VCARD missing).');
  if (cards.length === 0) throw new AppError('vcard_invalid', 'no BEGIN:VCARD ... END:VCARD card found.');
  return cards;
}

function escapeText(s: string): string {
  return s
    .replaceAll('\\', '\\\\')
    .replace(/\r\n|\r|\n/g, '\\n')
    .replaceAll(',', '\\,')
    .replaceAll(';', '\\;');
}

/** Folds a content line at 75 octets without splitting a UTF-8 character. */
function fold(line: string): string {
  if (Buffer.byteLength(line, 'utf8') <= 75) return line;
  const parts: string[] = [];
  let cur = '';
  let bytes = 0;
  let limit = 75;
  for (const ch of line) {
    const b = Buffer.byteLength(ch, 'utf8');
    if (bytes + b > limit) {
      parts.push(cur);
      cur = '';
      bytes = 0;
      limit = 74; // continuation lines start with a space
    }
    cur += ch;
    bytes += b;
  }
  parts.push(cur);
  return parts.join('\r\n ');
}

function typeParam(label: string | null): string {
  return label ? `;TYPE="${caretEncode(label)}"` : '';
}

export interface VcardSource {
  id: string;
  displayName: string;
  identities: ContactIdentity[];
  notes: string;
  updatedAt: Date;
}

/** One contact as a vCard 4.0 (CRLF line ends, folded). */
export function formatVcard(c: VcardSource): string {
  const lines = ['BEGIN:VCARD', 'VERSION:4.0', `UID:urn:uuid:${c.id}`, `FN:${escapeText(c.displayName)}`];
  for (const i of c.identities) {
    if (i.protocol === 'email') lines.push(`EMAIL${typeParam(i.label)}:${escapeText(i.address)}`);
    else lines.push(`IMPP${typeParam(i.label)}:${i.protocol}:${i.address}`);
  }
  if (c.notes !== '') lines.push(`NOTE:${escapeText(c.notes)}`);
  lines.push(
    `REV:${c.updatedAt
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '')}`,
    'END:VCARD',
  );
  return lines.map(fold).join('\r\n') + '\r\n';
}

/** The contact id a card's UID names, when it is one of ours (urn:uuid:<uuid> or a bare uuid). */
export function contactIdFromUid(uid: string | null): string | null {
  if (uid === null) return null;
  const m = /^(?:urn:uuid:)?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i.exec(uid);
  return m ? m[1]!.toLowerCase() : null;
}
