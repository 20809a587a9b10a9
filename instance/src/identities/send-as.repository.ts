import type { SendAsRelay } from './send-as.entity.ts';

/**
 * Port: the send-as relays of each account, one per remote identity at most (few per account, read together).
 * Adapters: send-as.repository.sqlite.ts, send-as.repository.cassandra.ts.
 */
export interface SendAsRepository {
  listByAccount(accountId: string): Promise<SendAsRelay[]>;
  get(accountId: string, identityId: string): Promise<SendAsRelay | null>;
  /** Creates or replaces the relay of this identity. */
  put(relay: SendAsRelay): Promise<void>;
  /** true when there was one to delete. */
  delete(accountId: string, identityId: string): Promise<boolean>;
}

/** This domain's repository on the instance's storage (database/storage.port.ts). */
declare module '../database/storage.port.ts' {
  interface Storage {
    readonly sendAs: SendAsRepository;
  }
}
