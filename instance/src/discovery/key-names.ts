import { createHash } from 'node:crypto';

/**
 * Where a mail address's OpenPGP key is published: the RFC 7929 DNS owner name and the Web Key Directory path. Pure
 * functions, shared by the instance's own zone and WKD routes (publication) and the lookups of correspondents' keys.
 */

export interface MailAddress {
  /** As given (the quotes of a quoted-string local part removed), no case folding. */
  localPart: string;
  /** Lowercase, no trailing dot. */
  domain: string;
}

const DOMAIN_LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** A DNS host name as lookups use it (ASCII, lowercase, no trailing dot), or null when it is not one. */
export function normaliseDomain(domain: string): string | null {
  const d = domain.toLowerCase().replace(/\.$/, '');
  if (d.length === 0 || d.length > 253) return null;
  const labels = d.split('.');
  return labels.length >= 2 && labels.every((label) => DOMAIN_LABEL.test(label)) ? d : null;
}

/**
 * Splits `local@domain` at the last `@`. The local part is kept as written (UTF-8 allowed, at most 64 octets, no
 * control characters); a quoted-string local part loses its quotes and escapes. Null when it is not an address.
 */
export function parseMailAddress(address: string): MailAddress | null {
  if (typeof address !== 'string' || address.length > 320) return null;
  const at = address.lastIndexOf('@');
  if (at <= 0) return null;
  let localPart = address.slice(0, at);
  const domain = normaliseDomain(address.slice(at + 1));
  if (domain === null) return null;
  const quoted = localPart.length >= 2 && localPart.startsWith('"') && localPart.endsWith('"');
  if (quoted) localPart = localPart.slice(1, -1).replace(/\\(.)/g, '$1');
  // eslint-disable-next-line no-control-regex
  if (localPart.length === 0 || Buffer.byteLength(localPart, 'utf8') > 64 || /[\u0000-\u001f\u007f]/.test(localPart))
    return null;
  if (!quoted && /[\s@"]/.test(localPart)) return null;
  return { localPart, domain };
}

/** RFC 7929 §3: hex of the SHA2-256 of the UTF-8 local part, truncated to 28 octets (56 hex digits). */
export function openPgpKeyHash(localPart: string): string {
  return createHash('sha256').update(localPart, 'utf8').digest().subarray(0, 28).toString('hex');
}

/** The owner name of the OPENPGPKEY record of `localPart@domain`: `<hash>._openpgpkey.<domain>`. */
export function openPgpKeyName(localPart: string, domain: string): string {
  return `${openPgpKeyHash(localPart)}._openpgpkey.${domain.toLowerCase().replace(/\.$/, '')}`;
}

const ZBASE32_ALPHABET = 'ybndrfg8ejkmcpqxot1uwisza345h769';

/** z-base-32 (the human-oriented base-32 of Zooko Wilcox-O'Hearn), as the Web Key Directory uses it: 5 bits a letter. */
export function zBase32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ZBASE32_ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += ZBASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/** The WKD local part: only ASCII A–Z are lowercased (draft-koch-openpgp-webkey-service §3.1); other characters stay. */
export function wkdLocalPart(localPart: string): string {
  return localPart.replace(/[A-Z]+/g, (s) => s.toLowerCase());
}

/** The WKD hash of a local part: z-base-32 of the SHA-1 of its WKD form (32 letters). */
export function wkdHash(localPart: string): string {
  return zBase32(createHash('sha1').update(wkdLocalPart(localPart), 'utf8').digest());
}
