import type { CqlMigration } from '@caliopen/platform/cassandra/cassandra.schema.ts';
import type { CassandraContext, CassandraOptions, Row } from '@caliopen/platform/cassandra/cassandra.context.ts';
import { migrateKeyspace } from '@caliopen/platform/cassandra/cassandra.migrator.ts';
import type { JournalAction, StoredJournalEntry } from './journal.entity.ts';
import type { JournalQuery, JournalRepository } from './journal.repository.ts';

/** Entries per partition of `admin_journal` (admin actions are few: a partition holds months or years of them). */
const BUCKET = 1000;
const bucketOf = (seq: number) => Math.floor(seq / BUCKET);

const T = { entries: 'admin_journal', bySubject: 'admin_journal_by_subject', head: 'admin_journal_head' } as const;

/**
 * The journal's tables, a component of its own in the instance keyspace (its own line in the migration ledger):
 * - `admin_journal`: every entry, partitioned by seq / 1000, newest first; a position is claimed with
 *   `INSERT ... IF NOT EXISTS` (LWT), so two processes appending at once cannot both take it;
 * - `admin_journal_by_subject`: a copy of each entry under the account it concerns (GET /api/v1/me/journal);
 * - `admin_journal_head`: one row, the newest seq and hash, only ever written by LWT.
 */
export const JOURNAL_CASSANDRA_MIGRATIONS: readonly CqlMigration[] = [
  {
    version: 1,
    name: 'admin actions journal',
    statements: (ks) => [
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.entries} (
         bucket int, seq int, at timestamp, action text, actor_id text, subject_id text, body text, hash text,
         PRIMARY KEY (bucket, seq)
       ) WITH CLUSTERING ORDER BY (seq DESC)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.bySubject} (
         subject_id text, seq int, at timestamp, action text, actor_id text, body text, hash text,
         PRIMARY KEY (subject_id, seq)
       ) WITH CLUSTERING ORDER BY (seq DESC)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.head} (id int PRIMARY KEY, seq int, hash text)`,
    ],
  },
];

export async function migrateJournalKeyspace(
  client: Parameters<typeof migrateKeyspace>[0],
  context: CassandraContext,
  options: Pick<CassandraOptions, 'localDataCenter' | 'replication'>,
): Promise<number> {
  return migrateKeyspace(client, context, options, {
    component: 'admin-journal',
    migrations: JOURNAL_CASSANDRA_MIGRATIONS,
  });
}

const text = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

function toEntry(r: Row, subjectId?: string): StoredJournalEntry {
  return {
    seq: r.get('seq') as number,
    at: r.get('at') as Date,
    action: r.get('action') as JournalAction,
    actorId: text(r.get('actor_id')),
    subjectId: subjectId ?? text(r.get('subject_id')),
    body: r.get('body') as string,
    hash: r.get('hash') as string,
  };
}

function matches(e: StoredJournalEntry, q: JournalQuery): boolean {
  return (
    (q.beforeSeq === undefined || e.seq < q.beforeSeq) &&
    (q.action === undefined || e.action === q.action) &&
    (q.actorId === undefined || e.actorId === q.actorId) &&
    (q.subjectId === undefined || e.subjectId === q.subjectId) &&
    (q.since === undefined || e.at.getTime() >= q.since.getTime()) &&
    (q.until === undefined || e.at.getTime() < q.until.getTime())
  );
}

export class CassandraJournalRepository implements JournalRepository {
  private readonly q;

  constructor(private readonly ctx: CassandraContext) {
    const e = ctx.table(T.entries);
    const s = ctx.table(T.bySubject);
    const h = ctx.table(T.head);
    const cols = 'seq, at, action, actor_id, subject_id, body, hash';
    this.q = {
      claim: `INSERT INTO ${e} (bucket, seq, at, action, actor_id, subject_id, body, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS`,
      one: `SELECT ${cols} FROM ${e} WHERE bucket = ? AND seq = ?`,
      bucketDesc: `SELECT ${cols} FROM ${e} WHERE bucket = ? AND seq < ? LIMIT ?`,
      bucketAsc: `SELECT ${cols} FROM ${e} WHERE bucket = ? AND seq >= ? ORDER BY seq ASC LIMIT ?`,
      subject: `INSERT INTO ${s} (subject_id, seq, at, action, actor_id, body, hash) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      subjectDesc: `SELECT seq, at, action, actor_id, body, hash FROM ${s} WHERE subject_id = ? AND seq < ? LIMIT ?`,
      head: `SELECT seq, hash FROM ${h} WHERE id = 0`,
      headFirst: `INSERT INTO ${h} (id, seq, hash) VALUES (0, ?, ?) IF NOT EXISTS`,
      headMove: `UPDATE ${h} SET seq = ?, hash = ? WHERE id = 0 IF seq = ?`,
    };
  }

  private async entryAt(seq: number): Promise<StoredJournalEntry | null> {
    const r = await this.ctx.serialOne(this.q.one, [bucketOf(seq), seq]);
    return r ? toEntry(r) : null;
  }

  /** Moves the head row from `from` to the entry `e` (a no-op when another writer moved it already). */
  private async advance(from: number, e: StoredJournalEntry): Promise<void> {
    if (e.subjectId !== null)
      await this.ctx.write(this.q.subject, [e.subjectId, e.seq, e.at, e.action, e.actorId, e.body, e.hash]);
    if (from === 0) await this.ctx.lwt(this.q.headFirst, [e.seq, e.hash]);
    else await this.ctx.lwt(this.q.headMove, [e.seq, e.hash, from]);
  }

  async head(): Promise<{ seq: number; hash: string } | null> {
    const r = await this.ctx.serialOne(this.q.head, []);
    let head = r ? { seq: r.get('seq') as number, hash: r.get('hash') as string } : null;
    // A writer that claimed a position and stopped before moving the head: finish its work, then look further.
    for (;;) {
      const next = await this.entryAt((head?.seq ?? 0) + 1);
      if (next === null) return head;
      await this.advance(head?.seq ?? 0, next);
      head = { seq: next.seq, hash: next.hash };
    }
  }

  async append(e: StoredJournalEntry): Promise<boolean> {
    // Positions are taken in order: the one before must be there (entries are never removed, so once seen it stays).
    if (e.seq > 1 && (await this.entryAt(e.seq - 1)) === null) return false;
    const claimed = await this.ctx.lwt(this.q.claim, [
      bucketOf(e.seq),
      e.seq,
      e.at,
      e.action,
      e.actorId,
      e.subjectId,
      e.body,
      e.hash,
    ]);
    if (!claimed.applied) return false;
    await this.advance(e.seq - 1, e);
    return true;
  }

  async list(q: JournalQuery): Promise<StoredJournalEntry[]> {
    const before = q.beforeSeq ?? Number.MAX_SAFE_INTEGER;
    const out: StoredJournalEntry[] = [];
    if (q.subjectId !== undefined) {
      // One partition per account; the other filters apply in memory (an account has few entries).
      const rows = await this.ctx.rows(this.q.subjectDesc, [q.subjectId, Math.min(before, 2 ** 31 - 1), 100_000]);
      for (const r of rows) {
        const e = toEntry(r, q.subjectId);
        if (matches(e, q)) out.push(e);
        if (out.length === q.limit) break;
      }
      return out;
    }
    const head = await this.head();
    if (head === null) return out;
    const top = Math.min(before - 1, head.seq);
    // Walk the buckets newest first; the filters apply in memory.
    for (let b = bucketOf(top); b >= 0 && out.length < q.limit; b--) {
      const rows = await this.ctx.rows(this.q.bucketDesc, [b, top + 1, BUCKET]);
      for (const r of rows) {
        const e = toEntry(r);
        if (matches(e, q)) out.push(e);
        if (out.length === q.limit) break;
      }
      if (q.since !== undefined && rows.length > 0 && (rows.at(-1)!.get('at') as Date) < q.since) break;
    }
    return out;
  }

  async range(fromSeq: number, limit: number): Promise<StoredJournalEntry[]> {
    const out: StoredJournalEntry[] = [];
    const head = await this.head();
    if (head === null) return out;
    for (let b = bucketOf(fromSeq); b <= bucketOf(head.seq) && out.length < limit; b++) {
      const rows = await this.ctx.rows(this.q.bucketAsc, [b, fromSeq, limit - out.length]);
      for (const r of rows) out.push(toEntry(r));
    }
    return out;
  }

  async close(): Promise<void> {}
}
