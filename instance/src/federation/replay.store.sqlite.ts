import { join } from 'node:path';
import type { ReplayStore, ReplayVerdict } from '@caliopen/federation-protocol';
import { migrateSqlite, openSqlite, type SqliteDb } from '@caliopen/platform/sqlite/sqlite.connection.ts';

/**
 * The inbox's replay store (SPEC.md §9), persistent: `<dataDir>/federation/replay.db`, one row per accepted envelope
 * (`<sender instance> <envelope id>`) until its expiry plus tolerance, with the receipt issued for it, so that a retry
 * of a delivered envelope is refused as `envelope_replayed` with the original receipt, across restarts. "Insert if
 * absent" is one `INSERT OR IGNORE` (a row changed = fresh); expired rows are swept as the store grows
 * (it never answers `full`: rows live at most a day and a minute, SPEC.md §9).
 */
export class SqliteReplayStore implements ReplayStore {
  private readonly db: SqliteDb;
  private inserts = 0;

  constructor(dataDir: string) {
    this.db = openSqlite(join(dataDir, 'federation', 'replay.db'));
    migrateSqlite(
      this.db,
      [
        {
          version: 1,
          name: 'replay',
          sql: 'CREATE TABLE replay (key TEXT PRIMARY KEY, until INTEGER NOT NULL, receipt TEXT) WITHOUT ROWID; CREATE INDEX replay_until ON replay (until);',
        },
      ],
      'federation replay store',
    );
  }

  rememberOnce(key: string, until: number, now: number): ReplayVerdict {
    return this.db.transaction((): ReplayVerdict => {
      this.db.prepare('DELETE FROM replay WHERE key = ? AND until <= ?').run(key, now);
      if (++this.inserts >= 1024) {
        this.inserts = 0;
        this.db.prepare('DELETE FROM replay WHERE until <= ?').run(now);
      }
      const present = this.db.prepare('SELECT 1 FROM replay WHERE key = ?').get(key) !== undefined;
      if (present) return 'seen';
      return this.db.prepare('INSERT OR IGNORE INTO replay (key, until, receipt) VALUES (?, ?, NULL)').run(key, until)
        .changes === 1
        ? 'fresh'
        : 'seen';
    })();
  }

  forget(key: string): void {
    this.db.prepare('DELETE FROM replay WHERE key = ?').run(key);
  }

  /** Records the receipt issued for an accepted envelope. */
  setReceipt(key: string, receipt: string): void {
    this.db.prepare('UPDATE replay SET receipt = ? WHERE key = ?').run(receipt, key);
  }

  /** The receipt issued the first time, for the answer to a replay. */
  receiptOf(key: string): string | null {
    const row = this.db.prepare('SELECT receipt FROM replay WHERE key = ?').get(key) as
      | { receipt: string | null }
      | undefined;
    return row?.receipt ?? null;
  }

  close(): void {
    this.db.close();
  }
}
