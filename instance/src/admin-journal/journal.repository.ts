import type { JournalAction, StoredJournalEntry } from './journal.entity.ts';

/** Filters of a journal listing (every one given must match); pages go newest first, below `beforeSeq`. */
export interface JournalQuery {
  limit: number;
  beforeSeq?: number;
  action?: JournalAction;
  /** The administrator who acted (their account id). */
  actorId?: string;
  /** The account the action concerns. */
  subjectId?: string;
  since?: Date;
  until?: Date;
}

/**
 * Port: where the admin journal is kept. Append-only by construction: there is no way to change or remove an entry
 * through it (the SQLite adapter also refuses UPDATE and DELETE in the database itself). Adapters:
 * journal.repository.sqlite.ts, journal.repository.cassandra.ts; both pass journal.conformance.ts.
 */
export interface JournalRepository {
  /** The newest entry's position and hash (null: empty journal). */
  head(): Promise<{ seq: number; hash: string } | null>;
  /**
   * Adds the entry at its `seq`, which must be head + 1. false when that position is already taken (another writer
   * appended first): read the head again and re-seal.
   */
  append(entry: StoredJournalEntry): Promise<boolean>;
  /** Matching entries, newest first. */
  list(query: JournalQuery): Promise<StoredJournalEntry[]>;
  /** Entries from `fromSeq` on, oldest first (verification and export walk the whole journal page by page). */
  range(fromSeq: number, limit: number): Promise<StoredJournalEntry[]>;
  close(): Promise<void>;
}
