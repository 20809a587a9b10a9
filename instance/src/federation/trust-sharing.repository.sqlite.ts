import type { SqliteDb } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import type { TrustSharingRepository } from './trust-sharing.repository.ts';

/** The users' trust-sharing preference in the instance's SQLite store (table trust_sharing). */
export class SqliteTrustSharingRepository implements TrustSharingRepository {
  private readonly q;

  constructor(db: SqliteDb) {
    this.q = {
      get: db.prepare('SELECT share FROM trust_sharing WHERE account_id = ?'),
      set: db.prepare(
        'INSERT INTO trust_sharing (account_id, share, updated_at) VALUES (?, ?, ?) ON CONFLICT (account_id) DO UPDATE SET share = excluded.share, updated_at = excluded.updated_at',
      ),
    };
  }

  async sharesTrust(accountId: string): Promise<boolean> {
    const row = this.q.get.get(accountId) as { share: number } | undefined;
    return row?.share === 1;
  }

  async setSharesTrust(accountId: string, share: boolean, at: Date): Promise<void> {
    this.q.set.run(accountId, share ? 1 : 0, at.getTime());
  }
}
