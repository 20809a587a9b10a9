import { join } from 'node:path';
import { migrateSqlite, openSqlite, type SqliteDb } from '@caliopen/platform/sqlite/sqlite.connection.ts';

/** Whether a user lets labelled peers read their account PI (trust sharing, SPEC.md §13). */
export interface TrustSharingPreferences {
  sharesTrust(accountId: string): boolean;
  setSharesTrust(accountId: string, share: boolean, at: Date): void;
}

/**
 * The users' trust-sharing preference, durable in `<dataDir>/federation/sharing.db` beside the replay store (the
 * public face that answers peers lives on this node's data directory too): one row per account that made a choice;
 * no row means the default, not shared.
 */
export class SqliteTrustSharingStore implements TrustSharingPreferences {
  private readonly db: SqliteDb;

  constructor(dataDir: string) {
    this.db = openSqlite(join(dataDir, 'federation', 'sharing.db'));
    migrateSqlite(
      this.db,
      [
        {
          version: 1,
          name: 'sharing',
          sql: 'CREATE TABLE trust_sharing (account_id TEXT PRIMARY KEY, share INTEGER NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID;',
        },
      ],
      'federation trust sharing store',
    );
  }

  sharesTrust(accountId: string): boolean {
    const row = this.db.prepare('SELECT share FROM trust_sharing WHERE account_id = ?').get(accountId) as
      | { share: number }
      | undefined;
    return row?.share === 1;
  }

  setSharesTrust(accountId: string, share: boolean, at: Date): void {
    this.db
      .prepare(
        'INSERT INTO trust_sharing (account_id, share, updated_at) VALUES (?, ?, ?) ON CONFLICT (account_id) DO UPDATE SET share = excluded.share, updated_at = excluded.updated_at',
      )
      .run(accountId, share ? 1 : 0, at.getTime());
  }

  close(): void {
    this.db.close();
  }
}
