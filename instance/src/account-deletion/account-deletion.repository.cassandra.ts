import { TABLES } from '../database/cassandra.schema.ts';
import type { CassandraContext, Row } from '@caliopen/platform/cassandra/cassandra.context.ts';
import type { AccountDeletionRepository, PendingDeletion } from './account-deletion.repository.ts';

/** The single partition of account_deletions (a handful of rows: the deletions waiting for their grace period). */
export const ACCOUNT_DELETIONS_SCOPE = 'pending';

const toDeletion = (r: Row): PendingDeletion => ({
  accountId: r.get('account_id') as string,
  requestedAt: r.get('requested_at') as Date,
  dueAt: r.get('due_at') as Date,
});

/**
 * Pending account deletions on Cassandra (table account_deletions, one partition). `schedule` is an
 * INSERT ... IF NOT EXISTS, so two requests at once schedule one deletion; every write to the table is an LWT.
 */
export class CassandraAccountDeletionRepository implements AccountDeletionRepository {
  private readonly ctx: CassandraContext;
  private readonly q;

  constructor(ctx: CassandraContext) {
    this.ctx = ctx;
    const t = ctx.table(TABLES.accountDeletions);
    this.q = {
      insert: `INSERT INTO ${t} (scope, account_id, requested_at, due_at) VALUES (?, ?, ?, ?) IF NOT EXISTS`,
      get: `SELECT account_id, requested_at, due_at FROM ${t} WHERE scope = ? AND account_id = ?`,
      delete: `DELETE FROM ${t} WHERE scope = ? AND account_id = ? IF EXISTS`,
      list: `SELECT account_id, requested_at, due_at FROM ${t} WHERE scope = ?`,
    };
  }

  async schedule(d: PendingDeletion): Promise<boolean> {
    return (await this.ctx.lwt(this.q.insert, [ACCOUNT_DELETIONS_SCOPE, d.accountId, d.requestedAt, d.dueAt])).applied;
  }

  async get(accountId: string): Promise<PendingDeletion | null> {
    const row = await this.ctx.serialOne(this.q.get, [ACCOUNT_DELETIONS_SCOPE, accountId]);
    return row ? toDeletion(row) : null;
  }

  async cancel(accountId: string): Promise<boolean> {
    return (await this.ctx.lwt(this.q.delete, [ACCOUNT_DELETIONS_SCOPE, accountId])).applied;
  }

  async list(): Promise<PendingDeletion[]> {
    const rows = await this.ctx.rows(this.q.list, [ACCOUNT_DELETIONS_SCOPE]);
    return rows
      .map(toDeletion)
      .sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime() || a.accountId.localeCompare(b.accountId));
  }
}
