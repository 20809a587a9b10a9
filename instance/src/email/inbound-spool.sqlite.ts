import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import {
  migrateSqlite,
  openSqlite,
  type Migration,
  type SqliteDb,
} from '@caliopen/platform/sqlite/sqlite.connection.ts';
import { SpoolAppender, type SpoolAppendOptions, SpoolWriterClient } from './inbound-spool.appender.ts';
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
 * here it waits on its own thread, so the SMTP sessions keep reading messages meanwhile — and those messages form the
 * next batch. It serves its parent and the channels handed to it (`appendChannel`: the SMTP thread's appends). Plain
 * JavaScript, evaluated as the thread's script (no loader needed).
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
const handle = (port, m) => {
  if (m.op === 'port') {
    // Another thread's channel to this writer (the SMTP thread's appends): served like the parent's messages.
    m.port.on('message', (n) => handle(m.port, n));
    return;
  }
  try {
    let result = null;
    if (m.op === 'append') result = appendAll(m.rows);
    else if (m.op === 'remove') removeAll(m.ids);
    else if (m.op === 'defer') defer.run(m.error, m.retryAt, m.dead, m.id);
    else if (m.op === 'close') db.close();
    port.postMessage({ seq: m.seq, ok: true, result });
  } catch (e) {
    port.postMessage({ seq: m.seq, ok: false, error: String(e && e.message || e) });
  }
};
parentPort.on('message', (m) => handle(parentPort, m));
`;

export type SqliteSpoolOptions = SpoolAppendOptions;

interface Row {
  id: number;
  received_at: number;
  mail_from: string;
  recipients: string;
  transport: string;
  raw: Buffer;
  attempts: number;
}

/**
 * The inbound spool on SQLite (`<dataDir>/spool.db`, WAL, `synchronous=FULL`). Appends from all SMTP sessions are
 * grouped into one transaction — one fsync acknowledges many messages, no per-message fsync storm — and each `append`
 * resolves only after the commit holding it returned (SpoolAppender). Commits run on a writer thread; reads (the drain
 * worker's) use a connection of the calling thread, which WAL lets read while the writer writes. The SMTP sessions
 * may run on a thread of their own (smtp-inbound.thread.ts): they append through a channel to the same writer
 * (`appendChannel`) and report each commit (`appendsCommitted`).
 */
export class SqliteInboundSpool implements InboundSpool {
  private closed = false;
  private readonly listeners: (() => void)[] = [];
  private readonly client: SpoolWriterClient;
  private readonly appender: SpoolAppender;
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
    this.client = new SpoolWriterClient(writer);
    this.appender = new SpoolAppender(this.client, options, (count) => this.appendsCommitted(count));
    writer.on('error', (e) => this.client.broken(e));
    writer.on('exit', () => this.client.broken(new Error('the spool writer thread stopped')));
  }

  static open(path: string, options: SqliteSpoolOptions = {}): SqliteInboundSpool {
    const db = openSqlite(path);
    migrateSqlite(db, SPOOL_MIGRATIONS, 'spool');
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const writer = new Worker(WRITER_SOURCE, { eval: true, workerData: { path, driver } });
    return new SqliteInboundSpool(db, writer, options);
  }

  append(entry: SpoolEntryInput): Promise<string> {
    if (this.closed) return Promise.reject(new Error('the inbound spool is closed'));
    return this.appender.append(entry);
  }

  /** A channel to the spool's writer, for appends made on another thread (a SpoolWriterClient at the other end). */
  appendChannel(): MessagePort {
    const { port1, port2 } = new MessageChannel();
    this.writer.postMessage({ op: 'port', port: port1 }, [port1]);
    return port2;
  }

  /** A commit of `count` appends returned (here or on another thread): counted, and the drain worker woken. */
  appendsCommitted(count: number): void {
    this.stats.commits++;
    this.stats.appended += count;
    for (const listener of this.listeners) listener();
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
    if (ids.length) await this.client.request({ op: 'remove', ids: ids.map(Number) });
  }

  async defer(id: string, error: string, retryAt: Date | null): Promise<void> {
    await this.client.request({
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
    await this.appender.drain();
    if (!this.client.failed) await this.client.request({ op: 'close' }).catch(() => {});
    await this.writer.terminate();
    this.db.close();
  }
}
