import type { CassandraContext } from '@caliopen/platform/cassandra/cassandra.context.ts';
import { TABLES } from '../database/cassandra.schema.ts';
import type { AppPassword } from './app-password.entity.ts';
import type { AppPasswordRepository } from './app-password.repository.ts';

/** App passwords on Cassandra (table app_passwords, one partition per account). */
export class CassandraAppPasswordRepository implements AppPasswordRepository {
  private readonly ctx: CassandraContext;
  private readonly q;

  constructor(ctx: CassandraContext) {
    this.ctx = ctx;
    const t = ctx.table(TABLES.appPasswords);
    this.q = {
      list: `SELECT id, label, hash, created_at, last_used_at FROM ${t} WHERE account_id = ?`,
      exists: `SELECT id FROM ${t} WHERE account_id = ? AND id = ?`,
      create: `INSERT INTO ${t} (account_id, id, label, hash, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?)`,
      delete: `DELETE FROM ${t} WHERE account_id = ? AND id = ?`,
      // A touch racing a delete may leave a row holding last_used_at only: list() skips rows without a hash.
      touch: `UPDATE ${t} SET last_used_at = ? WHERE account_id = ? AND id = ?`,
    };
  }

  async list(accountId: string): Promise<AppPassword[]> {
    const rows = await this.ctx.rows(this.q.list, [accountId]);
    return rows
      .filter((r) => typeof r.get('hash') === 'string')
      .map((r) => ({
        id: r.get('id') as string,
        accountId,
        label: r.get('label') as string,
        hash: r.get('hash') as string,
        createdAt: r.get('created_at') as Date,
        lastUsedAt: (r.get('last_used_at') as Date | null) ?? null,
      }))
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id.localeCompare(b.id));
  }

  async create(p: AppPassword): Promise<void> {
    await this.ctx.write(this.q.create, [p.accountId, p.id, p.label, p.hash, p.createdAt, p.lastUsedAt]);
  }

  async delete(accountId: string, id: string): Promise<boolean> {
    const found = await this.ctx.one(this.q.exists, [accountId, id]);
    if (!found) return false;
    await this.ctx.write(this.q.delete, [accountId, id]);
    return true;
  }

  async touch(accountId: string, id: string, at: Date): Promise<void> {
    await this.ctx.write(this.q.touch, [at, accountId, id]);
  }
}
