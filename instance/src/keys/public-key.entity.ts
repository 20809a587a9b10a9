/**
 * OpenPGP public keys of correspondents, as the instance knows them: per account, per address, with where each key
 * came from and whether the user verified it. What the Privacy Index reads ("keys known and how verified") and what
 * trust on first use (TOFU) pins.
 */

/**
 * Where a key came from, from the weakest to the strongest evidence that it belongs to the address:
 * - `autocrypt`: an `Autocrypt:` header of a message from the address (anyone able to send as them could plant it);
 * - `attached`:  a key the user imported by hand (vCard, file, paste) without comparing fingerprints;
 * - `wkd`:       the address's provider published it under /.well-known/openpgpkey (HTTPS, the domain vouches);
 * - `dns`:       an OPENPGPKEY record (RFC 7929) answered without DNSSEC validation;
 * - `dnssec`:    an OPENPGPKEY record from a DNSSEC-validated answer (AD bit from a trusted resolver);
 * - `federation`: the key directory of a labelled peer instance (mutually authenticated, label checked).
 * Verification by the user (fingerprints compared, `verifiedAt`) stands above all of them.
 */
export type KeySource = 'autocrypt' | 'attached' | 'wkd' | 'dns' | 'dnssec' | 'federation';

export const KEY_SOURCES: readonly KeySource[] = ['autocrypt', 'attached', 'wkd', 'dns', 'dnssec', 'federation'];

/**
 * `active`: the key used for the address. `superseded`: replaced by a newer key the user accepted (kept to verify old
 * signatures). `conflict`: a different key seen after one was pinned (TOFU): not used until the user decides.
 * `rejected`: the user refused it.
 */
export type KeyStatus = 'active' | 'superseded' | 'conflict' | 'rejected';

export interface CorrespondentKey {
  accountId: string;
  /** Normalised email address the key is for (lowercased domain, see mail/address.normalise.ts). */
  address: string;
  /** Primary key fingerprint, lowercase hex (40 chars for v4, 64 for v6). */
  fingerprint: string;
  /** OpenPGP key version (4 or 6). */
  version: number;
  /** e.g. 'ed25519', 'curve25519', 'rsa3072'. */
  algorithm: string;
  /** The transferable public key (binary OpenPGP packets), as received after validation; never a private key. */
  publicKey: Uint8Array;
  source: KeySource;
  status: KeyStatus;
  keyCreatedAt: Date;
  /** When the key (or its last encryption-capable subkey) expires; null = no expiry. */
  keyExpiresAt: Date | null;
  /** When the user confirmed the fingerprint out of band; null = not verified. */
  verifiedAt: Date | null;
  firstSeenAt: Date;
  lastSeenAt: Date;
}
