import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import {
  type Migration,
  migrateSqlite,
  openSqlite,
  type SqliteDb,
} from '@caliopen/platform/sqlite/sqlite.connection.ts';
import type { DeliveryFailureRecord, NoticeStore, StandingChangeRecord } from './notice.entity.ts';

/** The schema of `<dataDir>/notices.db`. */
export const NOTICE_SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'notices',
    sql: `
            CREATE TABLE delivery_failure (
              id TEXT PRIMARY KEY, account_id TEXT NOT NULL, message_id TEXT NOT NULL, at INTEGER NOT NULL,
              recipients TEXT NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX delivery_failure_account ON delivery_failure (account_id, at);
            CREATE TABLE standing_change (
              id TEXT PRIMARY KEY, at INTEGER NOT NULL, change TEXT NOT NULL, status TEXT NOT NULL, reason TEXT
            ) WITHOUT ROWID;
            CREATE TABLE dismissed (
              account_id TEXT NOT NULL, notice_id TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (account_id, notice_id)
            ) WITHOUT ROWID;`,
  },
];

/** Delivery failures kept per account (the oldest beyond this are forgotten). */
export const MAX_DELIVERY_FAILURES_PER_ACCOUNT = 200;

/**
 * The users' notices, durable in `<dataDir>/notices.db`: delivery failures of their sent messages (from the delivery
 * domain's `delivery.failed`), this instance's changes of standing (instance-wide), and which notice each account
 * dismissed. Holds addresses and status lines only, never a message's content.
 */
export class SqliteNoticeStore implements NoticeStore {
  private readonly db: SqliteDb;

  constructor(dataDir: string) {
    this.db = openSqlite(join(dataDir, 'notices.db'));
    migrateSqlite(this.db, NOTICE_SQLITE_MIGRATIONS, 'notices store');
  }

  addDeliveryFailure(r: Omit<DeliveryFailureRecord, 'id'>): DeliveryFailureRecord {
    const record = { ...r, id: randomUUID() };
    this.db
      .prepare('INSERT INTO delivery_failure (id, account_id, message_id, at, recipients) VALUES (?, ?, ?, ?, ?)')
      .run(record.id, r.accountId, r.messageId, r.at.getTime(), JSON.stringify(r.recipients));
    this.db
      .prepare(
        'DELETE FROM delivery_failure WHERE account_id = ? AND id NOT IN (SELECT id FROM delivery_failure WHERE account_id = ? ORDER BY at DESC LIMIT ?)',
      )
      .run(r.accountId, r.accountId, MAX_DELIVERY_FAILURES_PER_ACCOUNT);
    return record;
  }

  deliveryFailures(accountId: string): DeliveryFailureRecord[] {
    const rows = this.db
      .prepare(
        'SELECT id, account_id, message_id, at, recipients FROM delivery_failure WHERE account_id = ? ORDER BY at DESC',
      )
      .all(accountId) as { id: string; account_id: string; message_id: string; at: number; recipients: string }[];
    return rows.map((r) => ({
      id: r.id,
      accountId: r.account_id,
      messageId: r.message_id,
      at: new Date(r.at),
      recipients: JSON.parse(r.recipients) as DeliveryFailureRecord['recipients'],
    }));
  }

  addStandingChange(r: Omit<StandingChangeRecord, 'id'>): StandingChangeRecord {
    const record = { ...r, id: randomUUID() };
    this.db
      .prepare('INSERT INTO standing_change (id, at, change, status, reason) VALUES (?, ?, ?, ?, ?)')
      .run(record.id, r.at.getTime(), r.change, r.status, r.reason);
    return record;
  }

  /** The most recent change of standing (older ones are superseded by it). */
  lastStandingChange(): StandingChangeRecord | null {
    const row = this.db
      .prepare('SELECT id, at, change, status, reason FROM standing_change ORDER BY at DESC LIMIT 1')
      .get() as { id: string; at: number; change: string; status: string; reason: string | null } | undefined;
    if (row === undefined) return null;
    return {
      id: row.id,
      at: new Date(row.at),
      change: row.change as StandingChangeRecord['change'],
      status: row.status,
      reason: row.reason,
    };
  }

  dismiss(accountId: string, noticeId: string, at: Date): void {
    this.db
      .prepare('INSERT INTO dismissed (account_id, notice_id, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING')
      .run(accountId, noticeId, at.getTime());
  }

  dismissed(accountId: string): Set<string> {
    const rows = this.db.prepare('SELECT notice_id FROM dismissed WHERE account_id = ?').all(accountId) as {
      notice_id: string;
    }[];
    return new Set(rows.map((r) => r.notice_id));
  }

  close(): void {
    this.db.close();
  }
}
