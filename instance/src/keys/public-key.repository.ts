import type { CorrespondentKey, KeyStatus } from './public-key.entity.ts';

/** Where a page of conflicts starts: strictly after this key in the listing order of `listConflicts`. */
export interface ConflictCursor {
  firstSeenAt: Date;
  address: string;
  fingerprint: string;
}

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
  /**
   * The account's keys in `conflict` (unresolved trust-on-first-use alerts), newest first: by firstSeenAt, then
   * address, then fingerprint, all descending; at most `limit`, strictly after `after` when given. Kept by an index
   * (SQLite: a partial index; Cassandra: an index table written with the key), so the read never scans the account's
   * other keys.
   */
  listConflicts(accountId: string, page: { limit: number; after?: ConflictCursor }): Promise<CorrespondentKey[]>;
  setStatus(
    accountId: string,
    address: string,
    fingerprint: string,
    status: KeyStatus,
    verifiedAt?: Date | null,
  ): Promise<boolean>;
  delete(accountId: string, address: string, fingerprint: string): Promise<boolean>;
}

/** This domain's repository on the instance's storage (database/storage.port.ts). */
declare module '../database/storage.port.ts' {
  interface Storage {
    /** Correspondents' OpenPGP public keys (per account and address), as trust on first use pins them. */
    readonly keys: CorrespondentKeyRepository;
  }
}
