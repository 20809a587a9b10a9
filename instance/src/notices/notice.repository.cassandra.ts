import { randomUUID } from 'node:crypto';
import { textOrNull } from '@caliopen/platform/cassandra/cassandra.schema.ts';
import type { CassandraContext } from '@caliopen/platform/cassandra/cassandra.context.ts';
import { TABLES } from '../database/cassandra.schema.ts';
import type { DeliveryFailureRecord, StandingChangeRecord } from './notice.entity.ts';
import { MAX_DELIVERY_FAILURES_PER_ACCOUNT, type NoticeRepository } from './notice.repository.ts';

/** The one partition holding this instance's changes of standing (a few per year). */
const STANDING_BUCKET = 'standing';

/**
 * The notices on Cassandra: delivery failures one partition per account, newest first (an insert deletes what lies
 * beyond the cap: it reads at most the cap plus one row); the changes of standing in one partition, newest first;
 * the dismissals one partition per account.
 */
export class CassandraNoticeRepository implements NoticeRepository {
  private readonly ctx: CassandraContext;
  private readonly q;

  constructor(ctx: CassandraContext) {
    this.ctx = ctx;
    const failures = ctx.table(TABLES.noticeDeliveryFailures);
    const standing = ctx.table(TABLES.noticeStandingChanges);
    const dismissals = ctx.table(TABLES.noticeDismissals);
    this.q = {
      addFailure: `INSERT INTO ${failures} (account_id, at, id, message_id, recipients) VALUES (?, ?, ?, ?, ?)`,
      failures: `SELECT id, at, message_id, recipients FROM ${failures} WHERE account_id = ?`,
      beyondCap: `SELECT at, id FROM ${failures} WHERE account_id = ? LIMIT ${MAX_DELIVERY_FAILURES_PER_ACCOUNT + 64}`,
      deleteFailure: `DELETE FROM ${failures} WHERE account_id = ? AND at = ? AND id = ?`,
      addStanding: `INSERT INTO ${standing} (bucket, at, id, change, status, reason) VALUES (?, ?, ?, ?, ?, ?)`,
      lastStanding: `SELECT at, id, change, status, reason FROM ${standing} WHERE bucket = ? LIMIT 1`,
      dismiss: `INSERT INTO ${dismissals} (account_id, notice_id, at) VALUES (?, ?, ?)`,
      dismissed: `SELECT notice_id FROM ${dismissals} WHERE account_id = ?`,
    };
  }

  async addDeliveryFailure(r: Omit<DeliveryFailureRecord, 'id'>): Promise<DeliveryFailureRecord> {
    const record = { ...r, id: randomUUID() };
    await this.ctx.write(this.q.addFailure, [r.accountId, r.at, record.id, r.messageId, JSON.stringify(r.recipients)]);
    const rows = await this.ctx.rows(this.q.beyondCap, [r.accountId]);
    for (const row of rows.slice(MAX_DELIVERY_FAILURES_PER_ACCOUNT))
      await this.ctx.write(this.q.deleteFailure, [r.accountId, row.get('at'), row.get('id')]);
    return record;
  }

  async deliveryFailures(accountId: string): Promise<DeliveryFailureRecord[]> {
    const rows = await this.ctx.rows(this.q.failures, [accountId]);
    return rows.slice(0, MAX_DELIVERY_FAILURES_PER_ACCOUNT).map((row) => ({
      id: String(row.get('id')),
      accountId,
      messageId: String(row.get('message_id')),
      at: row.get('at') as Date,
      recipients: JSON.parse(String(row.get('recipients'))) as DeliveryFailureRecord['recipients'],
    }));
  }

  async addStandingChange(r: Omit<StandingChangeRecord, 'id'>): Promise<StandingChangeRecord> {
    const record = { ...r, id: randomUUID() };
    await this.ctx.write(this.q.addStanding, [STANDING_BUCKET, r.at, record.id, r.change, r.status, r.reason]);
    return record;
  }

  async lastStandingChange(): Promise<StandingChangeRecord | null> {
    const row = await this.ctx.one(this.q.lastStanding, [STANDING_BUCKET]);
    if (row === null) return null;
    return {
      id: String(row.get('id')),
      at: row.get('at') as Date,
      change: String(row.get('change')) as StandingChangeRecord['change'],
      status: String(row.get('status')),
      reason: textOrNull(row.get('reason')),
    };
  }

  async dismiss(accountId: string, noticeId: string, at: Date): Promise<void> {
    await this.ctx.write(this.q.dismiss, [accountId, noticeId, at]);
  }

  async dismissed(accountId: string): Promise<Set<string>> {
    const rows = await this.ctx.rows(this.q.dismissed, [accountId]);
    return new Set(rows.map((r) => String(r.get('notice_id'))));
  }
}
