import type { StoredPi } from '../mail/message.entity.ts';
import type { Account } from './account.entity.ts';

/** Port: where accounts live. Adapters: account.repository.sqlite.ts, account.repository.cassandra.ts. */
export interface AccountRepository {
  /** Inserts a new account; resolves false (and writes nothing) when the username is taken. */
  create(account: Account): Promise<boolean>;
  get(id: string): Promise<Account | null>;
  getByUsername(username: string): Promise<Account | null>;
  /** Accounts ordered by username, after `afterUsername` when given. */
  list(page: { limit: number; afterUsername?: string }): Promise<Account[]>;
  count(): Promise<number>;
  /**
   * Replaces the mutable fields (everything but id, username, createdAt and usedBytes: usage changes only through
   * addUsage, so an update made from an earlier copy never undoes a concurrent increment).
   */
  update(account: Account): Promise<void>;
  /**
   * Adds `delta` bytes (may be negative) to the usage, refusing when the result would exceed the quota
   * and `delta` is positive. Resolves the new usage, or null when refused or unknown.
   */
  addUsage(id: string, delta: number): Promise<number | null>;
  /** The account's stored Privacy Index summary (null until first computed, or for an unknown account). */
  getPi(id: string): Promise<StoredPi | null>;
  setPi(id: string, pi: StoredPi): Promise<void>;
}

/** This domain's repository on the instance's storage (database/storage.port.ts). */
declare module '../database/storage.port.ts' {
  interface Storage {
    readonly accounts: AccountRepository;
  }
}
