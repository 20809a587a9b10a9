import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import {
  migrateSqlite,
  openSqlite,
  type Migration,
  type SqliteDb,
} from '@caliopen/platform/sqlite/sqlite.connection.ts';
import type { InboundSpool, SpoolCounts, SpoolEntry, SpoolEntryInput } from './inbound-spool.port.ts';

/** Schema of `spool.db` (its own file, its own versions). Append; never edit a released migration. */
export const SPOOL_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'inbound spool',
    sql: `
      CREATE TABLE spool (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        received_at     INTEGER NOT NULL,
        mail_from       TEXT NOT NULL,
        recipients      TEXT NOT NULL,
        transport       TEXT NOT NULL,
        raw             BLOB NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL DEFAULT 0,
        last_error      TEXT,
        dead            INTEGER NOT NULL DEFAULT 0
      ) STRICT;
      CREATE INDEX spool_due ON spool (dead, next_attempt_at, id);
    `,
  },
];

/**
 * The writer thread: the only connection that writes `spool.db`. A commit with `synchronous=FULL` waits for the disk;
 * here it waits on its own thread, so the SMTP sessions on the main thread keep reading messages meanwhile — and
 * those messages form the next batch. Plain JavaScript, evaluated as the thread's script (no loader needed).
 */
const WRITER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = 5000');
const insert = db.prepare('INSERT INTO spool (received_at, mail_from, recipients, transport, raw) VALUES (?, ?, ?, ?, ?)');
const remove = db.prepare('DELETE FROM spool WHERE id = ?');
const defer = db.prepare('UPDATE spool SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?, dead = ? WHERE id = ?');
const appendAll = db.transaction((rows) => rows.map((r) =>
  Number(insert.run(r.receivedAt, r.mailFrom, r.recipients, r.transport, Buffer.from(r.raw.buffer, r.raw.byteOffset, r.raw.byteLength)).lastInsertRowid)));
const removeAll = db.transaction((ids) => { for (const id of ids) remove.run(id); });
parentPort.on('message', (m) => {
  try {
    let result = null;
    if (m.op === 'append') result = appendAll(m.rows);
    else if (m.op === 'remove') removeAll(m.ids);
    else if (m.op === 'defer') defer.run(m.error, m.retryAt, m.dead, m.id);
    else if (m.op === 'close') db.close();
    parentPort.postMessage({ seq: m.seq, ok: true, result });
  } catch (e) {
    parentPort.postMessage({ seq: m.seq, ok: false, error: String(e && e.message || e) });
  }
});
`;

export interface SqliteSpoolOptions {
  /**
   * How long an append waits for others to share its commit when the writer is idle (0, the default: it starts at
   * the end of the current event-loop turn). While a commit is under way, new appends wait for it anyway and share the
   * next one, so the batch size follows the load.
   */
  lingerMs?: number;
  /** A batch holds at most this many messages... */
  maxBatch?: number;
  /** ...or this many bytes. */
  maxBatchBytes?: number;
}

interface Pending {
  entry: SpoolEntryInput;
  resolve: (id: string) => void;
  reject: (e: Error) => void;
}

interface Row {
  id: number;
  received_at: number;
  mail_from: string;
  recipients: string;
  transport: string;
  raw: Buffer;
  attempts: number;
}

type WriterOp =
  | {
      op: 'append';
      rows: { receivedAt: number; mailFrom: string; recipients: string; transport: string; raw: Uint8Array }[];
    }
  | { op: 'remove'; ids: number[] }
  | { op: 'defer'; id: number; error: string; retryAt: number; dead: number }
  | { op: 'close' };

/**
 * The inbound spool on SQLite (`<dataDir>/spool.db`, WAL, `synchronous=FULL`). Appends from all SMTP sessions are
 * grouped into one transaction — one fsync acknowledges many messages, no per-message fsync storm — and each `append`
 * resolves only after the commit holding it returned. Commits run on a writer thread; reads (the drain worker's) use
 * a connection of the calling thread, which WAL lets read while the writer writes.
 */
export class SqliteInboundSpool implements InboundSpool {
  private readonly pending: Pending[] = [];
  private pendingBytes = 0;
  private scheduled = false;
  private appending = false;
  private closed = false;
  private failure: Error | null = null;
  private readonly listeners: (() => void)[] = [];
  private readonly replies = new Map<number, { resolve: (result: unknown) => void; reject: (e: Error) => void }>();
  private seq = 0;
  private readonly lingerMs: number;
  private readonly maxBatch: number;
  private readonly maxBatchBytes: number;
  /** Commits of appends so far and the messages they held (messages per fsync: the group-commit batch size). */
  readonly stats = { commits: 0, appended: 0 };
  /** The drain worker's reads, prepared once (it reads every entry). */
  private readonly reads;

  private constructor(
    private readonly db: SqliteDb,
    private readonly writer: Worker,
    options: SqliteSpoolOptions,
  ) {
    this.reads = {
      due: db.prepare(
        'SELECT id FROM spool WHERE dead = 0 AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?',
      ),
      nextDue: db.prepare('SELECT MIN(next_attempt_at) AS at FROM spool WHERE dead = 0'),
      one: db.prepare('SELECT * FROM spool WHERE id = ?'),
    };
    this.lingerMs = options.lingerMs ?? 0;
    this.maxBatch = options.maxBatch ?? 256;
    this.maxBatchBytes = options.maxBatchBytes ?? 64 * 1024 * 1024;
    writer.on('message', (m: { seq: number; ok: boolean; result?: unknown; error?: string }) => {
      const waiter = this.replies.get(m.seq);
      this.replies.delete(m.seq);
      if (m.ok) waiter?.resolve(m.result);
      else waiter?.reject(new Error(`spool write failed: ${m.error}`));
    });
    const broken = (e: Error) => {
      this.failure ??= e;
      for (const waiter of this.replies.values()) waiter.reject(e);
      this.replies.clear();
    };
    writer.on('error', broken);
    writer.on('exit', () => broken(new Error('the spool writer thread stopped')));
  }

  static open(path: string, options: SqliteSpoolOptions = {}): SqliteInboundSpool {
    const db = openSqlite(path);
    migrateSqlite(db, SPOOL_MIGRATIONS, 'spool');
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const writer = new Worker(WRITER_SOURCE, { eval: true, workerData: { path, driver } });
    return new SqliteInboundSpool(db, writer, options);
  }

  private write(op: WriterOp): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      this.replies.set(seq, { resolve, reject });
      this.writer.postMessage({ ...op, seq });
    });
  }

  append(entry: SpoolEntryInput): Promise<string> {
    if (this.closed) return Promise.reject(new Error('the inbound spool is closed'));
    return new Promise<string>((resolve, reject) => {
      this.pending.push({ entry, resolve, reject });
      this.pendingBytes += entry.raw.length;
      this.schedule();
    });
  }

  /** Starts a commit unless one is under way (its end starts the next) or the linger window is still open. */
  private schedule(): void {
    if (this.appending || this.pending.length === 0) return;
    if (this.pending.length >= this.maxBatch || this.pendingBytes >= this.maxBatchBytes) {
      void this.commit();
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    const fire = () => {
      this.scheduled = false;
      void this.commit();
    };
    if (this.lingerMs > 0) setTimeout(fire, this.lingerMs);
    else setImmediate(fire);
  }

  /** Commits the pending appends (up to the batch bounds) in one transaction, then settles them. */
  private async commit(): Promise<void> {
    if (this.appending || this.pending.length === 0) return;
    this.appending = true;
    let count = 0;
    let bytes = 0;
    while (
      count < this.pending.length &&
      count < this.maxBatch &&
      (count === 0 || bytes + this.pending[count]!.entry.raw.length <= this.maxBatchBytes)
    ) {
      bytes += this.pending[count]!.entry.raw.length;
      count++;
    }
    const batch = this.pending.splice(0, count);
    this.pendingBytes -= bytes;
    try {
      const ids = (await this.write({
        op: 'append',
        rows: batch.map(({ entry }) => ({
          receivedAt: entry.receivedAt.getTime(),
          mailFrom: entry.mailFrom,
          recipients: JSON.stringify(entry.recipients),
          transport: JSON.stringify(entry.transport),
          raw: entry.raw,
        })),
      })) as number[];
      this.stats.commits++;
      this.stats.appended += batch.length;
      batch.forEach((p, i) => {
        p.resolve(String(ids[i]));
      });
      for (const listener of this.listeners) listener();
    } catch (e) {
      for (const p of batch) p.reject(e as Error);
    } finally {
      this.appending = false;
      this.schedule();
    }
  }

  async due(now: Date, limit: number, exclude: ReadonlySet<string>): Promise<string[]> {
    const rows = this.reads.due.all(now.getTime(), limit + exclude.size) as { id: number }[];
    return rows
      .map((r) => String(r.id))
      .filter((id) => !exclude.has(id))
      .slice(0, limit);
  }

  async nextDueAt(): Promise<Date | null> {
    const row = this.reads.nextDue.get() as {
      at: number | null;
    };
    return row.at === null ? null : new Date(row.at);
  }

  async get(id: string): Promise<SpoolEntry | null> {
    const row = this.reads.one.get(Number(id)) as Row | undefined;
    if (!row) return null;
    return {
      id: String(row.id),
      receivedAt: new Date(row.received_at),
      mailFrom: row.mail_from,
      recipients: JSON.parse(row.recipients) as SpoolEntry['recipients'],
      transport: JSON.parse(row.transport) as SpoolEntry['transport'],
      raw: row.raw,
      attempts: row.attempts,
    };
  }

  async remove(ids: readonly string[]): Promise<void> {
    if (ids.length) await this.write({ op: 'remove', ids: ids.map(Number) });
  }

  async defer(id: string, error: string, retryAt: Date | null): Promise<void> {
    await this.write({
      op: 'defer',
      id: Number(id),
      error: error.slice(0, 500),
      retryAt: retryAt ? retryAt.getTime() : 0,
      dead: retryAt ? 0 : 1,
    });
  }

  /**
   * The counts of the spool file at `path`, read through a read-only connection beside the running writer (WAL lets
   * it): the operator's console. null when there is no spool file (inbound SMTP never ran).
   */
  static countsAt(path: string): (SpoolCounts & { oldestQueuedAt: Date | null }) | null {
    if (!existsSync(path)) return null;
    const db = openSqlite(path, { readonly: true });
    try {
      const row = db
        .prepare(
          'SELECT SUM(dead = 0) AS queued, SUM(dead = 1) AS dead, MIN(CASE WHEN dead = 0 THEN received_at END) AS oldest FROM spool',
        )
        .get() as { queued: number | null; dead: number | null; oldest: number | null };
      return {
        queued: row.queued ?? 0,
        dead: row.dead ?? 0,
        oldestQueuedAt: row.oldest === null ? null : new Date(row.oldest),
      };
    } finally {
      db.close();
    }
  }

  async counts(): Promise<SpoolCounts> {
    const row = this.db.prepare('SELECT SUM(dead = 0) AS queued, SUM(dead = 1) AS dead FROM spool').get() as {
      queued: number | null;
      dead: number | null;
    };
    return { queued: row.queued ?? 0, dead: row.dead ?? 0 };
  }

  /** When the oldest message still waiting for delivery into mailboxes was accepted (null: none waits). */
  async oldestQueuedAt(): Promise<Date | null> {
    const row = this.db.prepare('SELECT MIN(received_at) AS oldest FROM spool WHERE dead = 0').get() as {
      oldest: number | null;
    };
    return row.oldest === null ? null : new Date(row.oldest);
  }

  onAppend(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Commits what is pending, closes the writer, then the reading connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.pending.length || this.appending) {
      if (!this.appending) await this.commit();
      else await new Promise((r) => setImmediate(r));
    }
    if (!this.failure) await this.write({ op: 'close' }).catch(() => {});
    await this.writer.terminate();
    this.db.close();
  }
}
