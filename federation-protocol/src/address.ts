/**
 * Accounts on the federation wire: an instance domain (domain.ts) and a local part, the user's address being
 * `local@domain`. Local parts travel as written (no case folding, like RFC 7929), limited to the dot-atom of
 * RFC 5322 and the 64 octets of RFC 5321, so they are safe in paths and logs.
 */

const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

export const MAX_LOCAL_PART_LENGTH = 64;

export function isLocalPart(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_LOCAL_PART_LENGTH && DOT_ATOM.test(value);
}
