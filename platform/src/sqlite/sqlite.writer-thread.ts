import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * The thread source: one connection (WAL, `synchronous=FULL`), the statements named at opening prepared once, and
 * one transaction per request. Plain JavaScript, evaluated as the thread's script (no loader needed).
 */
const WRITER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = 5000');
for (const p of workerData.pragmas) db.pragma(p);
const statements = new Map(Object.entries(workerData.statements).map(([name, sql]) => [name, db.prepare(sql)]));
const runAll = db.transaction((ops) => ops.map((op) => statements.get(op.run).run(...op.params).changes));
parentPort.on('message', (m) => {
  try {
    let result = null;
    if (m.ops) result = runAll(m.ops);
    else if (m.pragma) result = db.pragma(m.pragma);
    else if (m.close) {
      db.close();
      parentPort.postMessage({ seq: m.seq, ok: true, result });
      parentPort.close(); // nothing left to wait for: the thread ends
      return;
    }
    parentPort.postMessage({ seq: m.seq, ok: true, result });
  } catch (e) {
    parentPort.postMessage({ seq: m.seq, ok: false, error: String((e && e.message) || e) });
  }
});
`;

/** One statement run: its name (a key of `statements` given at opening) and its parameters. */
export interface WriterOp {
  run: string;
  params: readonly unknown[];
}

export interface WriterThreadOptions {
  /** Names the writer in errors and in the thread's name. */
  label: string;
  /** The statements the writer prepares, by name. */
  statements: Record<string, string>;
  /** Extra pragmas of the writer's connection (`secure_delete = ON`...). */
  pragmas?: readonly string[];
  /**
   * The thread starts with the first write and stops after this long without any (default 30 s), so an idle process
   * holds no thread (a thread costs ~10 MiB).
   */
  idleMs?: number;
}

/**
 * The one connection that writes an SQLite file, on a thread of its own: a commit with `synchronous=FULL` waits for
 * the disk there, not on the caller's event loop. Each `transaction` is one transaction (one fsync) on that thread;
 * the caller reads through its own connection beside it (WAL lets readers and the writer work at once). Parameters
 * are copied to the thread (structured clone); byte arrays stay byte arrays.
 */
export class SqliteWriterThread {
  private readonly replies = new Map<number, { resolve: (result: unknown) => void; reject: (e: Error) => void }>();
  private seq = 0;
  private worker: Worker | null = null;
  /** The previous thread, stopping (after idleness or a failure): a new one starts once it is gone. */
  private stopping: Promise<void> = Promise.resolve();
  private idleTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Writes sent and not answered yet (close waits for them). */
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly idleMs: number;
  /** Threads started so far (for tests). */
  started = 0;

  private constructor(
    private readonly path: string,
    private readonly options: WriterThreadOptions,
  ) {
    this.idleMs = options.idleMs ?? 30_000;
  }

  /**
   * The writer of the (already migrated) database at `path`, with its statements by name; its thread starts with the
   * first write.
   */
  static open(path: string, options: WriterThreadOptions): SqliteWriterThread {
    return new SqliteWriterThread(path, options);
  }

  private start(): Worker {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const { label, statements, pragmas } = this.options;
    const worker = new Worker(WRITER_SOURCE, {
      eval: true,
      name: `${label} writer`,
      workerData: { path: this.path, driver, statements, pragmas: pragmas ?? [] },
    });
    this.started++;
    worker.on('message', (m: { seq: number; ok: boolean; result?: unknown; error?: string }) => {
      const waiter = this.replies.get(m.seq);
      this.replies.delete(m.seq);
      if (m.ok) waiter?.resolve(m.result);
      else waiter?.reject(new Error(`${label} write failed: ${m.error}`));
      this.armIdle();
    });
    const broken = (e: Error) => {
      if (this.worker !== worker) return;
      this.worker = null;
      // What was sent to this thread and not answered fails; the next write starts a new thread.
      for (const waiter of this.replies.values()) waiter.reject(e);
      this.replies.clear();
    };
    worker.on('error', broken);
    worker.on('exit', () => broken(new Error(`the ${label} writer thread stopped`)));
    return worker;
  }

  /** Once nothing is waiting for an answer, the thread stops after `idleMs` unless another write comes. */
  private armIdle(): void {
    if (this.replies.size > 0 || this.closed) return;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.replies.size === 0) this.stop();
    }, this.idleMs);
    this.idleTimer.unref();
  }

  /** Closes the thread's connection (the log is checkpointed), then ends the thread. */
  private stop(): void {
    const worker = this.worker;
    if (!worker) return;
    this.worker = null;
    this.stopping = new Promise<void>((resolve) => {
      worker.once('exit', () => resolve());
      worker.postMessage({ seq: 0, close: true });
    }).then(() => undefined);
  }

  private async send(message: Record<string, unknown>): Promise<unknown> {
    if (this.closed) throw new Error(`the ${this.options.label} is closed`);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    if (!this.worker) {
      await this.stopping;
      this.worker ??= this.start();
    }
    const worker = this.worker;
    const seq = ++this.seq;
    const reply = new Promise((resolve, reject) => {
      this.replies.set(seq, { resolve, reject });
      worker.postMessage({ ...message, seq });
    });
    this.inFlight.add(reply);
    void reply.then(
      () => this.inFlight.delete(reply),
      () => this.inFlight.delete(reply),
    );
    return reply;
  }

  /** Runs the statements in order, in one transaction; resolves each one's count of changed rows once committed. */
  async transaction(ops: readonly WriterOp[]): Promise<number[]> {
    if (ops.length === 0) return [];
    return (await this.send({ ops })) as number[];
  }

  /** Runs a pragma on the writer's connection (`wal_checkpoint(TRUNCATE)`...); resolves its rows. */
  pragma(pragma: string): Promise<unknown> {
    return this.send({ pragma });
  }

  /** Waits for what is under way, closes the connection and stops the thread; later writes are refused. */
  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.allSettled(this.inFlight);
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.stop();
    await this.stopping;
  }
}
