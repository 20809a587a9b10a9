import type { FeedPublication, StoredCheckpoint, StoredLogEntry } from './log.entity.ts';

export interface TransparencyLogRepository {
  /**
   * Appends entries at indices `expectedSize`, `expectedSize + 1`, ... only if the log holds exactly `expectedSize`
   * entries; resolves false (nothing written) when another writer got there first.
   */
  append(entries: readonly StoredLogEntry[], expectedSize: number): Promise<boolean>;
  size(): Promise<number>;
  /** Entries with start <= index < end, in order. */
  range(start: number, end: number): Promise<StoredLogEntry[]>;
  /** Leaf hashes from `start` to the end, in order (to rebuild or catch up the in-memory tree). */
  leafHashesFrom(start: number): Promise<Uint8Array[]>;
  putCheckpoint(checkpoint: StoredCheckpoint): Promise<void>;
  latestCheckpoint(): Promise<StoredCheckpoint | null>;
}

export interface FeedRepository {
  /** Stores publication `serial` if the latest is `serial - 1` (or none and serial is 1); false otherwise. */
  publish(publication: FeedPublication): Promise<boolean>;
  latest(): Promise<FeedPublication | null>;
  /** Domains changed at serials above `serial` (up to the latest), deduplicated. */
  changedSince(serial: number): Promise<string[]>;
}

/** This domain's repositories on the registry's storage (database/registry-storage.port.ts). */
declare module '../database/registry-storage.port.ts' {
  interface RegistryStorage {
    readonly log: TransparencyLogRepository;
    readonly feed: FeedRepository;
  }
}
