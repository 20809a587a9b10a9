import { domainToASCII } from 'node:url';

/** An email address as we send to it: local part as given (case kept, RFC 5321 §2.4), domain lowercase ASCII. */
export interface EmailAddress {
  local: string;
  domain: string;
  /** `local@domain`. */
  address: string;
}

/** RFC 5322 dot-atom characters for the local part (no quoted strings, no SMTPUTF8). */
const LOCAL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** Any control character (C0, DEL, C1) or a Unicode line/paragraph separator: never allowed in a header value. */
export const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * Parses and normalises an address, or says why it is not one we can send to. Internationalised domains are
 * converted to their ASCII (punycode) form; non-ASCII local parts are refused (no SMTPUTF8 yet).
 */
export function parseAddress(input: string): { ok: true; value: EmailAddress } | { ok: false; reason: string } {
  if (CONTROL_CHARS.test(input)) return { ok: false, reason: 'contains a control character (CR, LF, NUL...)' };
  const s = input.trim();
  if (s.length === 0) return { ok: false, reason: 'is empty' };
  if (s.length > 254) return { ok: false, reason: 'is longer than 254 characters' };
  const at = s.lastIndexOf('@');
  if (at <= 0 || at === s.length - 1) return { ok: false, reason: 'is not of the form local@domain' };
  const local = s.slice(0, at);
  const rawDomain = s.slice(at + 1);
  if (local.length > 64) return { ok: false, reason: 'has a local part longer than 64 characters' };
  if (!LOCAL.test(local))
    return {
      ok: false,
      reason: 'has a local part with characters that are not allowed (or non-ASCII ones, which are not supported yet)',
    };
  if (rawDomain.startsWith('[')) return { ok: false, reason: 'uses an address literal; a domain name is required' };
  const domain = domainToASCII(rawDomain.toLowerCase());
  if (!domain || domain.length > 253) return { ok: false, reason: 'has an invalid domain' };
  const labels = domain.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l)) || /^[0-9]+$/.test(labels.at(-1)!)) {
    return { ok: false, reason: 'has an invalid domain (a fully qualified name like example.org is required)' };
  }
  return { ok: true, value: { local, domain, address: `${local}@${domain}` } };
}
