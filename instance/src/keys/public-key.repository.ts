import type { CorrespondentKey, KeyStatus } from './public-key.entity.ts';

/**
 * Port: correspondents' OpenPGP public keys, per account. Keyed by (accountId, address, fingerprint). Every read and
 * write is scoped to the owning account. Adapters: public-key.repository.sqlite.ts, public-key.repository.cassandra.ts
 * (both run storage.conformance.ts).
 */
export interface CorrespondentKeyRepository {
  /** Inserts or replaces the key (same account, address and fingerprint). */
  put(key: CorrespondentKey): Promise<void>;
  get(accountId: string, address: string, fingerprint: string): Promise<CorrespondentKey | null>;
  /** Keys known for one address, newest first (by firstSeenAt, then fingerprint). */
  listByAddress(accountId: string, address: string): Promise<CorrespondentKey[]>;
  /** Keys known for any of the addresses (a contact's identities), grouped by nothing, newest first. */
  listByAddresses(accountId: string, addresses: readonly string[]): Promise<CorrespondentKey[]>;
  setStatus(accountId: string, address: string, fingerprint: string, status: KeyStatus, verifiedAt?: Date | null): Promise<boolean>;
  delete(accountId: string, address: string, fingerprint: string): Promise<boolean>;
}
