import { domainToASCII } from 'node:url';

/**
 * How addresses and names are normalised before they are compared, stored or used as keys. One place, so that a
 * contact created by hand, one imported from a vCard and one created from correspondence resolve the same way.
 *
 * Email addresses: the whole address is lowercased, local part included. RFC 5321 lets a server treat local parts
 * case-sensitively, but virtually none does, and treating `Alice@x.example` and `alice@x.example` as two people
 * would split one person's conversation in two — the very failure conversations-by-people exist to avoid. The
 * domain is converted to its ASCII (IDNA) form; `+tags` are kept (they are distinct addresses to their owner).
 * Quoted local parts, domain literals (`[127.0.0.1]`) and anything with spaces or control characters are refused:
 * such an address resolves to no contact and is shown as it came.
 */

/** Identity protocols are short lowercase words: `email`, `xmpp`, `federation`... */
export const PROTOCOL_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;

const MAX_ADDRESS = 254;
const MAX_LOCAL = 64;
const MAX_NAME = 200;
/** RFC 5322 atext, plus any non-ASCII letter (SMTPUTF8 local parts). */
const LOCAL_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\uFFFF-]+$/u;
const DOMAIN_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
/** C0/C1 controls, bidirectional overrides and isolates, zero-width characters, BOM, replacement character. */
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufffd]/gu;

/** The normalised form of an email address, or null when it is not a usable mailbox address. */
export function normaliseEmailAddress(input: string): string | null {
  let s = input.normalize('NFC').trim();
  if (s.length > 2 * MAX_ADDRESS) return null;
  if (/^mailto:/i.test(s)) s = s.slice(7);
  if (s.startsWith('<') && s.endsWith('>')) s = s.slice(1, -1).trim();
  const at = s.lastIndexOf('@');
  if (at <= 0 || at === s.length - 1) return null;
  const local = s.slice(0, at);
  const domain = normaliseDomain(s.slice(at + 1));
  if (domain === null) return null;
  if (local.length > MAX_LOCAL || !LOCAL_ATOM.test(local.replaceAll('.', 'a'))) return null;
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) return null;
  const address = `${local.toLowerCase()}@${domain}`;
  return address.length <= MAX_ADDRESS ? address : null;
}

/** A domain in lowercase ASCII (IDNA), with at least two labels; null for anything else. */
export function normaliseDomain(input: string): string | null {
  const raw = input.trim().replace(/\.$/, '');
  if (raw === '' || raw.length > 253 || /[\s\u0000-\u001f\u007f[\]]/u.test(raw)) return null;
  const ascii = domainToASCII(raw.toLowerCase());
  if (ascii === '' || ascii.length > 253) return null;
  const labels = ascii.split('.');
  if (labels.length < 2 || !labels.every((l) => DOMAIN_LABEL.test(l))) return null;
  if (/^\d+$/.test(labels[labels.length - 1]!)) return null; // an IP address, not a mail domain
  return ascii;
}

/**
 * A display name fit to show: NFC, without control or invisible characters (bidi overrides included), surrounding
 * quotes and repeated spaces; at most 200 characters. null when nothing is left or when it only repeats the address.
 */
export function cleanDisplayName(input: string | null | undefined, address?: string | null): string | null {
  if (input === null || input === undefined) return null;
  let s = input
    .slice(0, 4 * MAX_NAME)
    .normalize('NFC')
    .replace(INVISIBLE, ' ')
    .replace(/\s+/gu, ' ')
    .trim();
  for (let i = 0; i < 3 && s.length >= 2; i++) {
    const first = s[0]!;
    const last = s[s.length - 1]!;
    if ((first === '"' && last === '"') || (first === "'" && last === "'")) s = s.slice(1, -1).trim();
    else break;
  }
  s = Array.from(s).slice(0, MAX_NAME).join('').trim();
  if (s === '') return null;
  if (address) {
    const bare = s.replace(/^<|>$/g, '').toLowerCase();
    if (bare === address.toLowerCase()) return null;
  }
  return s;
}

/** Cleans free text a user typed (notes, labels): NFC, no control characters except newlines and tabs, capped. */
export function cleanText(input: string, max: number): string {
  return Array.from(input.normalize('NFC').replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufeff]/gu, ''))
    .slice(0, max)
    .join('')
    .replace(/\r\n?/g, '\n')
    .trim();
}

/**
 * The normalised address of an identity on any protocol, or null when it is not valid there. Email is normalised as
 * above; XMPP addresses are bare JIDs (resource dropped, whole address lowercased); other protocols keep their
 * address as given (trimmed, NFC), refusing whitespace and control characters.
 */
export function normaliseIdentityAddress(protocol: string, address: string): string | null {
  if (!PROTOCOL_PATTERN.test(protocol)) return null;
  if (protocol === 'email') return normaliseEmailAddress(address);
  let s = address.normalize('NFC').trim();
  if (s === '' || s.length > 320 || /[\s\u0000-\u001f\u007f]/u.test(s)) return null;
  if (protocol === 'xmpp') {
    s = s
      .replace(/^xmpp:/i, '')
      .split('/')[0]!
      .toLowerCase();
    const at = s.lastIndexOf('@');
    const domain = normaliseDomain(at >= 0 ? s.slice(at + 1) : s);
    if (domain === null || (at >= 0 && (at === 0 || at > 1023))) return null;
    return at >= 0 ? `${s.slice(0, at)}@${domain}` : domain;
  }
  return s;
}
