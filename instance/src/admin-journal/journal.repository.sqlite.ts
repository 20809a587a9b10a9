import { join } from 'node:path';
import { migrateSqlite, openSqlite, type SqliteDb } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import type { Migration } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import type { JournalAction, StoredJournalEntry } from './journal.entity.ts';
import type { JournalQuery, JournalRepository } from './journal.repository.ts';

/**
 * The journal's own SQLite file (`<dataDir>/admin-journal.db`), apart from the mailbox store: its schema evolves on
 * its own, and a backup or an auditor's copy of it is the journal alone. Triggers refuse UPDATE and DELETE, so even a
 * bug elsewhere in the process cannot rewrite history (someone with the file can; the hash chain shows it).
 */
export const JOURNAL_SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'admin actions journal, append-only',
    sql: `
      CREATE TABLE journal (
        seq        INTEGER PRIMARY KEY,
        at         INTEGER NOT NULL,
        action     TEXT NOT NULL,
        actor_id   TEXT,
        subject_id TEXT,
        body       TEXT NOT NULL,
        hash       TEXT NOT NULL
      ) STRICT;
      CREATE INDEX journal_by_subject ON journal (subject_id, seq DESC) WHERE subject_id IS NOT NULL;
      CREATE INDEX journal_by_actor ON journal (actor_id, seq DESC) WHERE actor_id IS NOT NULL;
      CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
        BEGIN SELECT RAISE(ABORT, 'the admin journal is append-only'); END;
      CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
        BEGIN SELECT RAISE(ABORT, 'the admin journal is append-only'); END;
    `,
  },
];

interface Row {
  seq: number;
  at: number;
  action: string;
  actor_id: string | null;
  subject_id: string | null;
  body: string;
  hash: string;
}

const toEntry = (r: Row): StoredJournalEntry => ({
  seq: r.seq,
  at: new Date(r.at),
  action: r.action as JournalAction,
  actorId: r.actor_id,
  subjectId: r.subject_id,
  body: r.body,
  hash: r.hash,
});

export class SqliteJournalRepository implements JournalRepository {
  private readonly db: SqliteDb;

  private constructor(db: SqliteDb) {
    this.db = db;
  }

  static open(path: string): SqliteJournalRepository {
    const db = openSqlite(path);
    migrateSqlite(db, JOURNAL_SQLITE_MIGRATIONS, 'admin journal');
    return new SqliteJournalRepository(db);
  }

  static inDataDir(dataDir: string): SqliteJournalRepository {
    return SqliteJournalRepository.open(join(dataDir, 'admin-journal.db'));
  }

  async head(): Promise<{ seq: number; hash: string } | null> {
    const r = this.db.prepare('SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1').get() as
      | { seq: number; hash: string }
      | undefined;
    return r ?? null;
  }

  async append(e: StoredJournalEntry): Promise<boolean> {
    const info = this.db
      .prepare(
        `INSERT INTO journal (seq, at, action, actor_id, subject_id, body, hash)
         SELECT @seq, @at, @action, @actorId, @subjectId, @body, @hash
         WHERE @seq = coalesce((SELECT max(seq) FROM journal), 0) + 1
         ON CONFLICT (seq) DO NOTHING`,
      )
      .run({
        seq: e.seq,
        at: e.at.getTime(),
        action: e.action,
        actorId: e.actorId,
        subjectId: e.subjectId,
        body: e.body,
        hash: e.hash,
      });
    return info.changes === 1;
  }

  async list(q: JournalQuery): Promise<StoredJournalEntry[]> {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: q.limit };
    if (q.beforeSeq !== undefined) {
      where.push('seq < @beforeSeq');
      params.beforeSeq = q.beforeSeq;
    }
    if (q.action !== undefined) {
      where.push('action = @action');
      params.action = q.action;
    }
    if (q.actorId !== undefined) {
      where.push('actor_id = @actorId');
      params.actorId = q.actorId;
    }
    if (q.subjectId !== undefined) {
      where.push('subject_id = @subjectId');
      params.subjectId = q.subjectId;
    }
    if (q.since !== undefined) {
      where.push('at >= @since');
      params.since = q.since.getTime();
    }
    if (q.until !== undefined) {
      where.push('at < @until');
      params.until = q.until.getTime();
    }
    const sql = `SELECT * FROM journal ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT @limit`;
    return (this.db.prepare(sql).all(params) as Row[]).map(toEntry);
  }

  async range(fromSeq: number, limit: number): Promise<StoredJournalEntry[]> {
    return (
      this.db.prepare('SELECT * FROM journal WHERE seq >= ? ORDER BY seq LIMIT ?').all(fromSeq, limit) as Row[]
    ).map(toEntry);
  }

  /** For the tamper test only: the raw database (an attacker with the file can do this; the chain must tell). */
  get rawDb(): SqliteDb {
    return this.db;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
