import type { SqliteDb } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import type { AppPassword } from './app-password.entity.ts';
import type { AppPasswordRepository } from './app-password.repository.ts';

interface Row {
  id: string;
  account_id: string;
  label: string;
  hash: string;
  created_at: number;
  last_used_at: number | null;
}

/** App passwords in the instance's SQLite store (table app_passwords). */
export class SqliteAppPasswordRepository implements AppPasswordRepository {
  private readonly q;

  constructor(db: SqliteDb) {
    this.q = {
      list: db.prepare('SELECT * FROM app_passwords WHERE account_id = ? ORDER BY created_at, id'),
      create: db.prepare(
        'INSERT INTO app_passwords (id, account_id, label, hash, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      delete: db.prepare('DELETE FROM app_passwords WHERE account_id = ? AND id = ?'),
      touch: db.prepare('UPDATE app_passwords SET last_used_at = ? WHERE account_id = ? AND id = ?'),
    };
  }

  async list(accountId: string): Promise<AppPassword[]> {
    return (this.q.list.all(accountId) as Row[]).map((r) => ({
      id: r.id,
      accountId: r.account_id,
      label: r.label,
      hash: r.hash,
      createdAt: new Date(r.created_at),
      lastUsedAt: r.last_used_at === null ? null : new Date(r.last_used_at),
    }));
  }

  async create(p: AppPassword): Promise<void> {
    this.q.create.run(p.id, p.accountId, p.label, p.hash, p.createdAt.getTime(), p.lastUsedAt?.getTime() ?? null);
  }

  async delete(accountId: string, id: string): Promise<boolean> {
    return this.q.delete.run(accountId, id).changes > 0;
  }

  async touch(accountId: string, id: string, at: Date): Promise<void> {
    this.q.touch.run(at.getTime(), accountId, id);
  }
}
