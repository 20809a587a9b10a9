/**
 * Instance domains, the subjects of labels and the keys of the feed. One spelling per domain (lowercase, no
 * trailing dot) so that string equality is domain equality. Internationalised names travel as A-labels (punycode).
 */

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

export function normalizeDomain(domain: string): string {
  return domain.trim().toLowerCase().replace(/\.$/, '');
}

/** True for a normalised DNS name: LDH labels of 1–63 characters, 253 characters at most. */
export function isDomain(value: unknown): value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 253) return false;
  return value.split('.').every((label) => LABEL.test(label));
}
