/**
 * Where a key came from, from the weakest to the strongest evidence that it belongs to the address:
 * - `signature`: only its fingerprint is known, from a signature on a message from the address, while another key is
 *   pinned for it (a key alert without the key material: it can be rejected, never used or verified);
 * - `autocrypt`: an `Autocrypt:` header of a message from the address (anyone able to send as them could plant it);
 * - `attached`:  a key the user imported by hand (vCard, file, paste) without comparing fingerprints;
 * - `wkd`:       the address's provider published it under /.well-known/openpgpkey (HTTPS, the domain vouches);
 * - `dns`:       an OPENPGPKEY record (RFC 7929) answered without DNSSEC validation;
 * - `dnssec`:    an OPENPGPKEY record from a DNSSEC-validated answer (AD bit from a trusted resolver);
 * - `federation`: the key directory of a labelled peer instance (mutually authenticated, label checked).
 * Verification by the user (fingerprints compared, `verifiedAt`) stands above all of them.
 */
export type KeySource = 'signature' | 'autocrypt' | 'attached' | 'wkd' | 'dns' | 'dnssec' | 'federation';

export const KEY_SOURCES: readonly KeySource[] = [
  'signature',
  'autocrypt',
  'attached',
  'wkd',
  'dns',
  'dnssec',
  'federation',
];
