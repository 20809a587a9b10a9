import type { AccountKey } from './account-key.entity.ts';

/**
 * Port: the account's own OpenPGP keys, keyed by (accountId, fingerprint). Every read and write is scoped to the
 * owning account. Adapters: account-key.repository.sqlite.ts, account-key.repository.cassandra.ts (both run
 * storage.conformance.ts). The service (account-key.service.ts) serialises the writes of one account in its process.
 */
export interface AccountKeyRepository {
  /** Inserts or replaces the key (same account and fingerprint), every field included (`privateKey: null` erases it). */
  put(key: AccountKey): Promise<void>;
  get(accountId: string, fingerprint: string): Promise<AccountKey | null>;
  /** The account's keys, newest first (by addedAt, then fingerprint). */
  listByAccount(accountId: string): Promise<AccountKey[]>;
  delete(accountId: string, fingerprint: string): Promise<boolean>;
}

/** This domain's repository on the instance's storage (database/storage.port.ts). */
declare module '../database/storage.port.ts' {
  interface Storage {
    /** The account's own OpenPGP keys (and, in server mode, its wrapped and sealed private key). */
    readonly accountKeys: AccountKeyRepository;
  }
}
