import type { AppPassword } from './app-password.entity.ts';

/**
 * Port: the app passwords of each account (few per account, always read together).
 * Adapters: app-password.repository.sqlite.ts, app-password.repository.cassandra.ts.
 */
export interface AppPasswordRepository {
  /** The account's app passwords, oldest first. */
  list(accountId: string): Promise<AppPassword[]>;
  create(password: AppPassword): Promise<void>;
  /** true when there was one to delete. */
  delete(accountId: string, id: string): Promise<boolean>;
  /** Records a successful use. */
  touch(accountId: string, id: string, at: Date): Promise<void>;
}

/** This domain's repository on the instance's storage (database/storage.port.ts). */
declare module '../database/storage.port.ts' {
  interface Storage {
    readonly appPasswords: AppPasswordRepository;
  }
}
