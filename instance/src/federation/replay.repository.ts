import type { ReplayStore, ReplayVerdict } from '@caliopen/federation-protocol';

/**
 * Port: the inbox's replay record (SPEC.md §9), shared by every process of the instance. One entry per accepted
 * envelope (`<sender instance> <envelope id>`) until its expiry plus the clock tolerance, with the receipt issued for
 * it, so that a retry of a delivered envelope is refused as `envelope_replayed` with the original receipt, whichever
 * process it reaches and across restarts. `rememberOnce` is one atomic claim: of two processes claiming one key, one
 * gets `fresh` and the other `seen`. Adapters: replay.repository.sqlite.ts, replay.repository.cassandra.ts.
 */
export interface ReplayRepository extends ReplayStore {
  /** Claims `key` until `until` (epoch seconds) when nobody holds it, or only until a time <= `now`. */
  rememberOnce(key: string, until: number, now: number): Promise<ReplayVerdict>;
  /** Releases a claim whose envelope could not be stored (the sender may try again). */
  forget(key: string): Promise<void>;
  /** Records the receipt issued for an accepted envelope (no effect once the key is forgotten or expired). */
  setReceipt(key: string, receipt: string): Promise<void>;
  /** The receipt issued the first time, for the answer to a replay; null when none (yet, or the key is unknown). */
  receiptOf(key: string): Promise<string | null>;
}

/** This domain's repository on the instance's storage (database/storage.port.ts). */
declare module '../database/storage.port.ts' {
  interface Storage {
    readonly replay: ReplayRepository;
  }
}
