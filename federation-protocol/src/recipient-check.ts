import { isLocalPart } from './address.ts';

/**
 * The recipient check (SPEC.md §12.1): `GET /federation/v1/recipients/:local`, authenticated as every peer request
 * (§6: mutual TLS, request signature, the asker labelled), answers whether one address exists on the instance, so a
 * sender refuses mail to an unknown user before sending instead of bouncing it after the inbox refuses it. The answer
 * is the status alone: `204` (the user exists and can receive), `404` `recipient_unknown` (no such user, or disabled).
 * One local part per request; instances rate-limit it per peer (`peer_rate_limited`, 429, `Retry-After`).
 */

export const RECIPIENT_CHECK_PATH_PREFIX = '/federation/v1/recipients/';

/** The path asking about one user: the local part percent-encoded as one segment. Throws on a non-local-part. */
export function recipientCheckPath(local: string): string {
  if (!isLocalPart(local)) throw new TypeError('not a local part');
  return `${RECIPIENT_CHECK_PATH_PREFIX}${encodeURIComponent(local)}`;
}

/** What a sender makes of the answer's status: 204 → exists; 404 with code `recipient_unknown` → unknown; else nothing known. */
export type RecipientCheckVerdict = 'exists' | 'unknown' | 'unverified';

export function recipientCheckVerdict(status: number, code: string | null): RecipientCheckVerdict {
  if (status === 204) return 'exists';
  if (status === 404 && code === 'recipient_unknown') return 'unknown';
  return 'unverified';
}
