/**
 * OpenPGP public keys of correspondents, as the instance knows them: per account, per address, with where each key
 * came from and whether the user verified it. What the Privacy Index reads ("keys known and how verified") and what
 * trust on first use (TOFU) pins.
 */

import type { KeySource } from '../openpgp/key-source.ts';

export { KEY_SOURCES, type KeySource } from '../openpgp/key-source.ts';

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
