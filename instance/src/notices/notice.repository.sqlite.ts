import { randomUUID } from 'node:crypto';
import type { SqliteDb } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import type { DeliveryFailureRecord, StandingChangeRecord } from './notice.entity.ts';
import { MAX_DELIVERY_FAILURES_PER_ACCOUNT, type NoticeRepository } from './notice.repository.ts';

interface FailureRow {
  id: string;
  account_id: string;
  message_id: string;
  at: number;
  recipients: string;
}

interface StandingRow {
  id: string;
  at: number;
  change: string;
  status: string;
  reason: string | null;
}

/** The notices in the instance's SQLite store (tables notice_delivery_failures, notice_standing_changes, notice_dismissals). */
export class SqliteNoticeRepository implements NoticeRepository {
  private readonly db: SqliteDb;
  private readonly q;

  constructor(db: SqliteDb) {
    this.db = db;
    this.q = {
      addFailure: db.prepare(
        'INSERT INTO notice_delivery_failures (id, account_id, message_id, at, recipients) VALUES (?, ?, ?, ?, ?)',
      ),
      trimFailures: db.prepare(
        `DELETE FROM notice_delivery_failures WHERE account_id = ? AND id NOT IN
           (SELECT id FROM notice_delivery_failures WHERE account_id = ? ORDER BY at DESC, id DESC LIMIT ?)`,
      ),
      failures: db.prepare(
        'SELECT id, account_id, message_id, at, recipients FROM notice_delivery_failures WHERE account_id = ? ORDER BY at DESC, id DESC',
      ),
      addStanding: db.prepare(
        'INSERT INTO notice_standing_changes (id, at, change, status, reason) VALUES (?, ?, ?, ?, ?)',
      ),
      lastStanding: db.prepare(
        'SELECT id, at, change, status, reason FROM notice_standing_changes ORDER BY at DESC, id DESC LIMIT 1',
      ),
      dismiss: db.prepare(
        'INSERT INTO notice_dismissals (account_id, notice_id, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
      ),
      dismissed: db.prepare('SELECT notice_id FROM notice_dismissals WHERE account_id = ?'),
    };
  }

  async addDeliveryFailure(r: Omit<DeliveryFailureRecord, 'id'>): Promise<DeliveryFailureRecord> {
    const record = { ...r, id: randomUUID() };
    this.db.transaction(() => {
      this.q.addFailure.run(record.id, r.accountId, r.messageId, r.at.getTime(), JSON.stringify(r.recipients));
      this.q.trimFailures.run(r.accountId, r.accountId, MAX_DELIVERY_FAILURES_PER_ACCOUNT);
    })();
    return record;
  }

  async deliveryFailures(accountId: string): Promise<DeliveryFailureRecord[]> {
    return (this.q.failures.all(accountId) as FailureRow[]).map((r) => ({
      id: r.id,
      accountId: r.account_id,
      messageId: r.message_id,
      at: new Date(r.at),
      recipients: JSON.parse(r.recipients) as DeliveryFailureRecord['recipients'],
    }));
  }

  async addStandingChange(r: Omit<StandingChangeRecord, 'id'>): Promise<StandingChangeRecord> {
    const record = { ...r, id: randomUUID() };
    this.q.addStanding.run(record.id, r.at.getTime(), r.change, r.status, r.reason);
    return record;
  }

  async lastStandingChange(): Promise<StandingChangeRecord | null> {
    const row = this.q.lastStanding.get() as StandingRow | undefined;
    if (row === undefined) return null;
    return {
      id: row.id,
      at: new Date(row.at),
      change: row.change as StandingChangeRecord['change'],
      status: row.status,
      reason: row.reason,
    };
  }

  async dismiss(accountId: string, noticeId: string, at: Date): Promise<void> {
    this.q.dismiss.run(accountId, noticeId, at.getTime());
  }

  async dismissed(accountId: string): Promise<Set<string>> {
    return new Set((this.q.dismissed.all(accountId) as { notice_id: string }[]).map((r) => r.notice_id));
  }
}
