import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import { migrateSqlite, openSqlite } from '../sqlite/sqlite.connection.ts';
import type { Migration, SqliteDb } from '../sqlite/sqlite.connection.ts';
import { WalSync } from '../sqlite/sqlite.wal-sync.ts';
import type { EnqueueOptions, JobHandler, JobInfo, JobQueue, QueueCounts, Worker } from './job-queue.port.ts';

/** pino's logger fits; so does `console`. */
export interface QueueLogger {
  warn(details: Record<string, unknown>, message: string): void;
}

export interface SqliteJobQueueOptions {
  /**
   * How long a claimed job stays leased to its worker (default 30 s). The lease is renewed while the handler runs;
   * when the process dies, the job becomes runnable again once the lease lapses, so this bounds the recovery delay.
   */
  leaseMs?: number;
  /**
   * Only when another process enqueues into the same file: the longest pause between two looks for its work. Unset
   * (the default, one process per file as an instance runs it), a worker never polls: it sleeps until a job is
   * enqueued in this process, the next delayed job or retry is due, or the earliest lease lapses, and an idle queue
   * costs no CPU at all.
   */
  pollIntervalMs?: number;
  /** Completed jobs are kept so getJob can report them, then pruned (defaults: 24 h, 10 000 per queue). */
  keepCompleted?: { maxAgeMs?: number; maxCount?: number };
  /**
   * How many times a job may lose its lease (its process died or stalled) and run again; one more and it is
   * dead-lettered, so a job that crashes its process every time cannot loop forever (default 5).
   */
  maxStalls?: number;
  logger?: QueueLogger;
}

const DEFAULT_ATTEMPTS = 5;
const DEFAULT_BACKOFF_MS = 1000;
const DEFAULT_DEAD_LETTER_LIMIT = 100;
/** The longest delay setTimeout honours (2^31 - 1 ms, about 24.8 days); a longer one fires at once. */
const MAX_TIMER_MS = 2_147_483_647;
/** After a failed look-up (disk full, database locked too long), the next try. */
const RETRY_AFTER_ERROR_MS = 1000;
/** Pruning needs an index scan over the completed jobs of a queue: once a second is plenty. */
const PRUNE_EVERY_MS = 1000;

export const JOB_QUEUE_SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'jobs',
    // `state` is 'queued' | 'active' | 'completed' | 'dead'; 'waiting' and 'delayed' are derived from run_at at read
    // time, so a job never needs a write just because its delay elapsed. The rowid orders jobs due at the same time.
    sql: `
      CREATE TABLE jobs (
        queue         TEXT    NOT NULL,
        id            TEXT    NOT NULL,
        name          TEXT    NOT NULL,
        payload       TEXT    NOT NULL,
        state         TEXT    NOT NULL CHECK (state IN ('queued', 'active', 'completed', 'dead')),
        run_at        INTEGER NOT NULL,
        locked_until  INTEGER,
        lease_token   TEXT,
        attempts_made INTEGER NOT NULL DEFAULT 0,
        max_attempts  INTEGER NOT NULL,
        backoff_ms    INTEGER NOT NULL,
        stalls        INTEGER NOT NULL DEFAULT 0,
        last_error    TEXT,
        created_at    INTEGER NOT NULL,
        finished_at   INTEGER,
        PRIMARY KEY (queue, id)
      );
      CREATE INDEX jobs_by_due ON jobs (queue, state, run_at);
      CREATE INDEX jobs_by_finish ON jobs (queue, state, finished_at);
    `,
  },
];

interface JobRow {
  queue: string;
  id: string;
  name: string;
  payload: string;
  state: 'queued' | 'active' | 'completed' | 'dead';
  run_at: number;
  locked_until: number | null;
  lease_token: string | null;
  attempts_made: number;
  max_attempts: number;
  backoff_ms: number;
  stalls: number;
  last_error: string | null;
  created_at: number;
  finished_at: number | null;
}

/**
 * The embedded default queue: jobs live in their own SQLite file, so they survive a restart or a SIGKILL, and several
 * processes may work the same file (claims are single write transactions, serialised by SQLite).
 */
export function openSqliteJobQueue(path: string, options: SqliteJobQueueOptions = {}): JobQueue {
  const db = openSqlite(path);
  try {
    migrateSqlite(db, JOB_QUEUE_SQLITE_MIGRATIONS, 'job queue');
  } catch (err) {
    db.close();
    throw err;
  }
  // Commits write the log without waiting for the disk; an enqueue resolves after the log's sync (WalSync, ADR 0028),
  // the bookkeeping (claims, renewals, outcomes, prunings) does not wait for it at all.
  db.pragma('synchronous = NORMAL');
  return new SqliteJobQueue(new JobStore(db, options), new WalSync(path), options);
}

type Statements = ReturnType<typeof prepareStatements>;

function prepareStatements(db: SqliteDb) {
  return {
    insert: db.prepare(`
      INSERT INTO jobs (queue, id, name, payload, state, run_at, max_attempts, backoff_ms, created_at)
      VALUES (@queue, @id, @name, @payload, 'queued', @runAt, @maxAttempts, @backoffMs, @now)
      ON CONFLICT (queue, id) DO NOTHING`),
    // A lapsed lease means the process running the job died (or stalled): the attempt never reached an outcome,
    // so it is given back, and the job runs again unless it has stalled too often.
    reclaim: db.prepare(`
      UPDATE jobs SET
        stalls = stalls + 1,
        attempts_made = attempts_made - 1,
        state = CASE WHEN stalls >= @maxStalls THEN 'dead' ELSE 'queued' END,
        finished_at = CASE WHEN stalls >= @maxStalls THEN @now ELSE NULL END,
        last_error = CASE WHEN stalls >= @maxStalls
          THEN 'lease expired ' || (stalls + 1) || ' times: the process running this job died or stalled'
          ELSE last_error END,
        run_at = @now, locked_until = NULL, lease_token = NULL
      WHERE queue = @queue AND state = 'active' AND locked_until <= @now`),
    claim: db.prepare(`
      UPDATE jobs SET state = 'active', attempts_made = attempts_made + 1, locked_until = @lockedUntil,
        lease_token = @token
      WHERE rowid IN (
        SELECT rowid FROM jobs WHERE queue = @queue AND state = 'queued' AND run_at <= @now
        ORDER BY run_at, rowid LIMIT @limit)
      RETURNING *`),
    // Read before taking the write lock: most looks (a job finished, a slot is free) find nothing to claim.
    anyDue: db.prepare(`
      SELECT EXISTS (SELECT 1 FROM jobs WHERE queue = @queue AND state = 'queued' AND run_at <= @now)
          OR EXISTS (SELECT 1 FROM jobs WHERE queue = @queue AND state = 'active' AND locked_until <= @now) AS due`),
    renew: db.prepare(`
      UPDATE jobs SET locked_until = @lockedUntil
      WHERE queue = @queue AND id = @id AND lease_token = @token AND state = 'active'`),
    complete: db.prepare(`
      UPDATE jobs SET state = 'completed', finished_at = @now, locked_until = NULL, lease_token = NULL
      WHERE queue = @queue AND id = @id AND lease_token = @token AND state = 'active'`),
    fail: db.prepare(`
      UPDATE jobs SET
        state = CASE WHEN attempts_made >= max_attempts THEN 'dead' ELSE 'queued' END,
        finished_at = CASE WHEN attempts_made >= max_attempts THEN @now ELSE NULL END,
        run_at = CASE WHEN attempts_made >= max_attempts THEN run_at
          ELSE @now + backoff_ms * (1 << MIN(attempts_made - 1, 30)) END,
        last_error = @error, locked_until = NULL, lease_token = NULL
      WHERE queue = @queue AND id = @id AND lease_token = @token AND state = 'active'`),
    nextDue: db.prepare(`SELECT MIN(run_at) AS at FROM jobs WHERE queue = ? AND state = 'queued'`),
    nextLapse: db.prepare(`SELECT MIN(locked_until) AS at FROM jobs WHERE queue = ? AND state = 'active'`),
    get: db.prepare(`SELECT * FROM jobs WHERE queue = ? AND id = ?`),
    counts: db.prepare(`
      SELECT state, run_at <= @now AS due, COUNT(*) AS n FROM jobs WHERE queue = @queue GROUP BY state, due`),
    dead: db.prepare(`
      SELECT * FROM jobs WHERE queue = ? AND state = 'dead' ORDER BY finished_at, rowid LIMIT ?`),
    pruneByAge: db.prepare(`
      DELETE FROM jobs WHERE queue = ? AND state = 'completed' AND finished_at < ?`),
    pruneByCount: db.prepare(`
      DELETE FROM jobs WHERE rowid IN (
        SELECT rowid FROM jobs WHERE queue = @queue AND state = 'completed'
        ORDER BY finished_at DESC LIMIT -1 OFFSET @keep)`),
  };
}

/** A job as `insert` writes it. */
interface InsertRow {
  queue: string;
  id: string;
  name: string;
  payload: string;
  runAt: number;
  maxAttempts: number;
  backoffMs: number;
  now: number;
}

/**
 * All SQL lives here; everything else deals in rows. The connection commits at `synchronous=NORMAL`: claims, lease
 * renewals, outcomes and prunings never wait for the disk — their loss in a power failure costs nothing but a job run
 * again, and delivery is at-least-once anyway (a job whose lease lapses runs again); the next enqueue's log sync makes
 * them durable with it, the log being sequential. Only an enqueue waits for its job to be on disk
 * (SqliteJobQueue.flush).
 */
class JobStore {
  private readonly leaseMs: number;
  private readonly maxStalls: number;
  private readonly keepAgeMs: number;
  private readonly keepCount: number;
  private readonly lastPrune = new Map<string, number>();
  private readonly completedSincePrune = new Set<string>();
  private readonly stmts: Statements;
  private readonly claimTx: Database.Transaction<(queue: string, limit: number) => JobRow[]>;
  private readonly insertTx: Database.Transaction<(rows: readonly InsertRow[]) => void>;

  constructor(
    readonly db: SqliteDb,
    options: SqliteJobQueueOptions,
  ) {
    this.leaseMs = positive(options.leaseMs ?? 30_000, 'leaseMs');
    this.maxStalls = nonNegative(options.maxStalls ?? 5, 'maxStalls');
    this.keepAgeMs = nonNegative(options.keepCompleted?.maxAgeMs ?? 24 * 3600_000, 'keepCompleted.maxAgeMs');
    this.keepCount = nonNegative(options.keepCompleted?.maxCount ?? 10_000, 'keepCompleted.maxCount');
    this.stmts = prepareStatements(db);
    this.insertTx = db.transaction((rows: readonly InsertRow[]) => {
      for (const row of rows) this.stmts.insert.run(row);
    });
    this.claimTx = db.transaction((queue: string, limit: number): JobRow[] => {
      const now = Date.now();
      this.stmts.reclaim.run({ queue, now, maxStalls: this.maxStalls });
      const token = randomUUID();
      return this.stmts.claim.all({ queue, now, limit, token, lockedUntil: now + this.leaseMs }) as JobRow[];
    });
  }

  get renewEveryMs(): number {
    return Math.max(10, Math.floor(this.leaseMs / 3));
  }

  /** The row of a job to insert; throws (RangeError) on bad options, before anything is written. */
  row(queue: string, id: string, name: string, payload: unknown, options: EnqueueOptions): InsertRow {
    const now = Date.now();
    return {
      queue,
      id,
      name,
      payload: JSON.stringify(payload) ?? 'null',
      runAt: now + nonNegative(options.delayMs ?? 0, 'delayMs'),
      maxAttempts: atLeastOne(options.attempts ?? DEFAULT_ATTEMPTS, 'attempts'),
      backoffMs: nonNegative(options.backoff?.baseDelayMs ?? DEFAULT_BACKOFF_MS, 'backoff.baseDelayMs'),
      now,
    };
  }

  /** Inserts the rows in one transaction: one commit (one fsync under `synchronous=FULL`) for them all. */
  insertMany(rows: readonly InsertRow[]): void {
    if (rows.length === 1) this.stmts.insert.run(rows[0]);
    else this.insertTx(rows);
  }

  /**
   * BEGIN IMMEDIATE takes the write lock before reading, so two processes can never claim the same row. A read first
   * skips the write transaction when nothing is due (a snapshot: what another process enqueues meanwhile is found at
   * the next look, as when a claim comes back empty).
   */
  claim(queue: string, limit: number): JobRow[] {
    const { due } = this.stmts.anyDue.get({ queue, now: Date.now() }) as { due: 0 | 1 };
    if (!due) return [];
    return this.claimTx.immediate(queue, limit);
  }

  /** Returns false when the lease was lost (another worker reclaimed the job after it lapsed). */
  renew(row: JobRow): boolean {
    const lockedUntil = Date.now() + this.leaseMs;
    return this.stmts.renew.run({ queue: row.queue, id: row.id, token: row.lease_token, lockedUntil }).changes > 0;
  }

  complete(row: JobRow): boolean {
    const params = { queue: row.queue, id: row.id, token: row.lease_token, now: Date.now() };
    this.completedSincePrune.add(row.queue);
    return this.stmts.complete.run(params).changes > 0;
  }

  fail(row: JobRow, error: string): boolean {
    const params = { queue: row.queue, id: row.id, token: row.lease_token, now: Date.now(), error };
    return this.stmts.fail.run(params).changes > 0;
  }

  /**
   * Milliseconds until something in `queue` may need this worker: the next queued job falls due, or the earliest
   * lease lapses (its process died: the job must be reclaimed). Null when neither can happen.
   */
  nextWakeIn(queue: string): number | null {
    const { at: due } = this.stmts.nextDue.get(queue) as { at: number | null };
    const { at: lapse } = this.stmts.nextLapse.get(queue) as { at: number | null };
    const at = due === null ? lapse : lapse === null ? due : Math.min(due, lapse);
    return at === null ? null : Math.max(0, at - Date.now());
  }

  get(queue: string, id: string): JobRow | undefined {
    return this.stmts.get.get(queue, id) as JobRow | undefined;
  }

  counts(queue: string): QueueCounts {
    const counts: QueueCounts = { waiting: 0, delayed: 0, active: 0, completed: 0, dead: 0 };
    type Row = { state: JobRow['state']; due: 0 | 1; n: number };
    const rows = this.stmts.counts.all({ queue, now: Date.now() }) as Row[];
    for (const { state, due, n } of rows) {
      if (state === 'queued') counts[due ? 'waiting' : 'delayed'] += n;
      else counts[state] += n;
    }
    return counts;
  }

  dead(queue: string, limit: number): JobRow[] {
    return this.stmts.dead.all(queue, limit) as JobRow[];
  }

  /**
   * Prunes completed jobs of `queue` when some completed since the last pruning and it is not too soon. Returns the
   * milliseconds until a pruning still owed may run, or null when none is owed (so an idle worker need not wake).
   */
  pruneIfDue(queue: string): number | null {
    if (!this.completedSincePrune.has(queue)) return null;
    const now = Date.now();
    const wait = (this.lastPrune.get(queue) ?? 0) + PRUNE_EVERY_MS - now;
    if (wait > 0) return wait;
    this.lastPrune.set(queue, now);
    this.completedSincePrune.delete(queue);
    this.stmts.pruneByAge.run(queue, now - this.keepAgeMs);
    this.stmts.pruneByCount.run({ queue, keep: this.keepCount });
    return null;
  }
}

class SqliteJobQueue implements JobQueue {
  readonly engine = 'sqlite' as const;
  private readonly workers = new Set<SqliteWorker>();
  /** Wakes this process's workers as soon as a job is enqueued here, instead of at their next poll. */
  private readonly wakeUps = new WakeUps();
  private readonly pollIntervalMs: number | null;
  private readonly logger: QueueLogger;
  private closing: Promise<void> | undefined;
  /** Jobs enqueued, not yet inserted (see enqueue). */
  private pending: { row: InsertRow; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly store: JobStore,
    private readonly walSync: WalSync,
    options: SqliteJobQueueOptions,
  ) {
    this.pollIntervalMs =
      options.pollIntervalMs === undefined ? null : positive(options.pollIntervalMs, 'pollIntervalMs');
    this.logger = options.logger ?? console;
  }

  /**
   * Jobs enqueued together (a burst of composes, an ingest batch and the deliveries it unblocks...) are inserted as
   * one transaction, like a group commit: one log sync for all instead of one each, on libuv's pool rather than the
   * event loop (WalSync). Each caller's promise resolves once its job is durable; a batch that fails is retried one
   * job at a time, so one bad insert never fails the others.
   */
  async enqueue<P>(queue: string, name: string, payload: P, options: EnqueueOptions = {}): Promise<string> {
    this.assertOpen();
    if (options.jobId === '') throw new RangeError('jobId must not be empty');
    const id = options.jobId ?? randomUUID();
    const row = this.store.row(queue, id, name, payload, options);
    return new Promise<string>((resolve, reject) => {
      this.pending.push({ row, resolve: () => resolve(id), reject });
      this.flushing ??= new Promise<void>((done) => setImmediate(done)).then(() => this.flush());
    });
  }

  /** Syncs of the log still running (close waits for them). */
  private readonly syncing = new Set<Promise<void>>();

  /**
   * Inserts what was enqueued since the last flush; once the log is on disk, resolves the callers and wakes the
   * workers of those queues (so no job has effects before it is durable).
   */
  private flush(): void {
    this.flushing = null;
    const group = this.pending.splice(0);
    const inserted: typeof group = [];
    try {
      this.store.insertMany(group.map((g) => g.row));
      inserted.push(...group);
    } catch {
      for (const g of group) {
        try {
          this.store.insertMany([g.row]);
          inserted.push(g);
        } catch (e) {
          g.reject(e);
        }
      }
    }
    if (inserted.length === 0) return;
    const synced = this.walSync.sync().then(
      () => {
        for (const g of inserted) g.resolve();
        for (const queue of new Set(inserted.map((g) => g.row.queue))) this.wakeUps.notify(queue);
      },
      (e: unknown) => {
        for (const g of inserted) g.reject(e);
      },
    );
    this.syncing.add(synced);
    void synced.finally(() => this.syncing.delete(synced));
  }

  process<P>(queue: string, handler: JobHandler<P>, options: { concurrency?: number } = {}): Worker {
    this.assertOpen();
    const worker = new SqliteWorker({
      store: this.store,
      queue,
      handler: handler as JobHandler,
      concurrency: atLeastOne(options.concurrency ?? 1, 'concurrency'),
      pollIntervalMs: this.pollIntervalMs,
      logger: this.logger,
      wakeUps: this.wakeUps,
      onClosed: () => this.workers.delete(worker),
    });
    this.workers.add(worker);
    return worker;
  }

  async getJob<P = unknown>(queue: string, id: string): Promise<JobInfo<P> | null> {
    this.assertOpen();
    const row = this.store.get(queue, id);
    return row ? toJobInfo<P>(row) : null;
  }

  async counts(queue: string): Promise<QueueCounts> {
    this.assertOpen();
    return this.store.counts(queue);
  }

  async deadLetters<P = unknown>(queue: string, limit = DEFAULT_DEAD_LETTER_LIMIT): Promise<JobInfo<P>[]> {
    this.assertOpen();
    return this.store.dead(queue, limit).map((row) => toJobInfo<P>(row));
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      // Jobs enqueued before close are inserted before the file is closed.
      await this.flushing;
      await Promise.all([...this.syncing]);
      await Promise.all([...this.workers].map((w) => w.close()));
      this.store.db.close();
      await this.walSync.close();
    })();
    return this.closing;
  }

  private assertOpen(): void {
    if (this.closing) throw new Error('the job queue is closed');
  }
}

/** Per-queue wake-up callbacks (a plain map: an EventEmitter would throw on a queue named 'error'). */
class WakeUps {
  private readonly byQueue = new Map<string, Set<() => void>>();

  add(queue: string, wake: () => void): void {
    let set = this.byQueue.get(queue);
    if (!set) this.byQueue.set(queue, (set = new Set()));
    set.add(wake);
  }

  remove(queue: string, wake: () => void): void {
    const set = this.byQueue.get(queue);
    set?.delete(wake);
    if (set?.size === 0) this.byQueue.delete(queue);
  }

  notify(queue: string): void {
    for (const wake of this.byQueue.get(queue) ?? []) wake();
  }
}

interface WorkerDeps {
  store: JobStore;
  queue: string;
  handler: JobHandler;
  concurrency: number;
  pollIntervalMs: number | null;
  logger: QueueLogger;
  wakeUps: WakeUps;
  onClosed: () => void;
}

/**
 * Claims only as many jobs as it has free slots, so nothing sits leased to a busy worker while another is idle.
 * Sleeps until the next delayed job is due, a lease lapses, a same-process enqueue, a slot frees up, or (only when
 * configured for several processes) the poll interval.
 */
class SqliteWorker implements Worker {
  private readonly running = new Map<JobRow, Promise<void>>();
  /** Renews the leases of the running jobs; only exists while some run, so an idle worker has no timer at all. */
  private renewTimer: NodeJS.Timeout | undefined;
  private readonly wake = () => this.schedule(0);
  private timer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly deps: WorkerDeps) {
    deps.wakeUps.add(deps.queue, this.wake);
    this.schedule(0);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      clearTimeout(this.timer);
      this.deps.wakeUps.remove(this.deps.queue, this.wake);
      await Promise.all(this.running.values());
      clearInterval(this.renewTimer);
      this.deps.onClosed();
    })();
    return this.closing;
  }

  private schedule(ms: number): void {
    if (this.closing) return;
    clearTimeout(this.timer);
    // A job delayed by weeks: sleep as long as a timer can (longer would fire at once), then look again.
    this.timer = setTimeout(() => this.tick(), Math.min(ms, MAX_TIMER_MS));
  }

  private tick(): void {
    this.timer = undefined;
    if (this.closing) return;
    const { store, queue, concurrency, pollIntervalMs } = this.deps;
    let sleepMs: number | null = pollIntervalMs;
    try {
      const free = concurrency - this.running.size;
      if (free > 0) {
        const claimed = store.claim(queue, free);
        for (const row of claimed) this.start(row);
        if (claimed.length < free) sleepMs = earliest(pollIntervalMs, store.nextWakeIn(queue));
      }
      sleepMs = earliest(sleepMs, store.pruneIfDue(queue));
    } catch (err) {
      sleepMs = pollIntervalMs ?? RETRY_AFTER_ERROR_MS;
      this.deps.logger.warn({ err, queue, retryInMs: sleepMs }, 'job queue look-up failed; trying again');
    }
    // When every slot is busy, a finishing job wakes the worker instead; with nothing due, an enqueue does.
    if (this.running.size < concurrency && sleepMs !== null) this.schedule(sleepMs);
  }

  private start(row: JobRow): void {
    const run = this.run(row).finally(() => {
      this.running.delete(row);
      if (this.running.size === 0) {
        clearInterval(this.renewTimer);
        this.renewTimer = undefined;
      }
      this.schedule(0);
    });
    this.running.set(row, run);
    this.renewTimer ??= setInterval(() => this.renewLeases(), this.deps.store.renewEveryMs).unref();
  }

  private async run(row: JobRow): Promise<void> {
    let error: unknown;
    let failed = false;
    try {
      await this.deps.handler(toJobInfo(row));
    } catch (err) {
      failed = true;
      error = err;
    }
    try {
      const recorded = failed ? this.deps.store.fail(row, errorMessage(error)) : this.deps.store.complete(row);
      if (!recorded) this.leaseLost(row);
    } catch (err) {
      this.deps.logger.warn(
        { err, queue: row.queue, jobId: row.id },
        'could not record the outcome of a job; it will run again once its lease lapses',
      );
    }
  }

  private renewLeases(): void {
    for (const row of this.running.keys()) {
      try {
        if (!this.deps.store.renew(row)) this.leaseLost(row);
      } catch (err) {
        this.deps.logger.warn({ err, queue: row.queue, jobId: row.id }, 'could not renew a job lease');
      }
    }
  }

  private leaseLost(row: JobRow): void {
    this.deps.logger.warn(
      { queue: row.queue, jobId: row.id },
      'lost the lease on a running job (event loop blocked longer than the lease?); another worker may run it again',
    );
  }
}

function earliest(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}

function toJobInfo<P>(row: JobRow): JobInfo<P> {
  return {
    id: row.id,
    queue: row.queue,
    name: row.name,
    payload: JSON.parse(row.payload) as P,
    attemptsMade: row.attempts_made,
    maxAttempts: row.max_attempts,
    state: row.state === 'queued' ? (row.run_at > Date.now() ? 'delayed' : 'waiting') : row.state,
    lastError: row.last_error,
  };
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

function nonNegative(value: number, name: string): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a finite number >= 0, got ${value}`);
  return Math.floor(value);
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a finite number > 0, got ${value}`);
  return value;
}

function atLeastOne(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be an integer >= 1, got ${value}`);
  return value;
}
