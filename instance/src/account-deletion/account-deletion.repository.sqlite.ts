import type { SqliteDb } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import type { AccountDeletionRepository, PendingDeletion } from './account-deletion.repository.ts';

interface Row {
  account_id: string;
  requested_at: number;
  due_at: number;
}

const toDeletion = (r: Row): PendingDeletion => ({
  accountId: r.account_id,
  requestedAt: new Date(r.requested_at),
  dueAt: new Date(r.due_at),
});

/** Pending account deletions in the instance's SQLite store (table account_deletions). */
export class SqliteAccountDeletionRepository implements AccountDeletionRepository {
  private readonly q;

  constructor(db: SqliteDb) {
    this.q = {
      insert: db.prepare(
        'INSERT INTO account_deletions (account_id, requested_at, due_at) VALUES (?, ?, ?) ON CONFLICT (account_id) DO NOTHING',
      ),
      get: db.prepare('SELECT account_id, requested_at, due_at FROM account_deletions WHERE account_id = ?'),
      delete: db.prepare('DELETE FROM account_deletions WHERE account_id = ?'),
      list: db.prepare('SELECT account_id, requested_at, due_at FROM account_deletions ORDER BY due_at, account_id'),
    };
  }

  async schedule(d: PendingDeletion): Promise<boolean> {
    return this.q.insert.run(d.accountId, d.requestedAt.getTime(), d.dueAt.getTime()).changes === 1;
  }

  async get(accountId: string): Promise<PendingDeletion | null> {
    const row = this.q.get.get(accountId) as Row | undefined;
    return row ? toDeletion(row) : null;
  }

  async cancel(accountId: string): Promise<boolean> {
    return this.q.delete.run(accountId).changes === 1;
  }

  async list(): Promise<PendingDeletion[]> {
    return (this.q.list.all() as Row[]).map(toDeletion);
  }
}
