/** A deletion the user asked for, waiting for its grace period to end. */
export interface PendingDeletion {
  accountId: string;
  requestedAt: Date;
  /** When the purge runs (requestedAt + the grace period). */
  dueAt: Date;
}

/**
 * Port: the pending account deletions, one entry per account, shared by every process of the instance. Adapters:
 * account-deletion.repository.sqlite.ts, account-deletion.repository.cassandra.ts. The purge removes the entry with
 * the rest of the account (Storage.purgeAccount).
 */
export interface AccountDeletionRepository {
  /** Records the request; resolves false (writing nothing) when one is already pending for the account. */
  schedule(deletion: PendingDeletion): Promise<boolean>;
  get(accountId: string): Promise<PendingDeletion | null>;
  /** Resolves false when nothing was pending. */
  cancel(accountId: string): Promise<boolean>;
  /** Every pending deletion, soonest first (the administrators' view: a handful at any time). */
  list(): Promise<PendingDeletion[]>;
}

/** This domain's repository on the instance's storage (database/storage.port.ts). */
declare module '../database/storage.port.ts' {
  interface Storage {
    readonly accountDeletions: AccountDeletionRepository;
  }
}
