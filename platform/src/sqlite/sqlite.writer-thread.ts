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
    else if (m.close) db.close();
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

/**
 * The one connection that writes an SQLite file, on a thread of its own: a commit with `synchronous=FULL` waits for
 * the disk there, not on the caller's event loop. Each `transaction` is one transaction (one fsync) on that thread;
 * the caller reads through its own connection beside it (WAL lets readers and the writer work at once). Parameters
 * are copied to the thread (structured clone); byte arrays stay byte arrays.
 */
export class SqliteWriterThread {
  private readonly replies = new Map<number, { resolve: (result: unknown) => void; reject: (e: Error) => void }>();
  private seq = 0;
  private failure: Error | null = null;

  private constructor(
    private readonly worker: Worker,
    private readonly label: string,
  ) {
    worker.on('message', (m: { seq: number; ok: boolean; result?: unknown; error?: string }) => {
      const waiter = this.replies.get(m.seq);
      this.replies.delete(m.seq);
      if (m.ok) waiter?.resolve(m.result);
      else waiter?.reject(new Error(`${label} write failed: ${m.error}`));
    });
    const broken = (e: Error) => {
      this.failure ??= e;
      for (const waiter of this.replies.values()) waiter.reject(e);
      this.replies.clear();
    };
    worker.on('error', broken);
    worker.on('exit', () => broken(new Error(`the ${label} writer thread stopped`)));
  }

  /**
   * Starts the writer of the (already migrated) database at `path`, with its statements by name and extra pragmas
   * (`secure_delete = ON`...). `label` names it in errors.
   */
  static open(
    path: string,
    options: { label: string; statements: Record<string, string>; pragmas?: readonly string[] },
  ): SqliteWriterThread {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(WRITER_SOURCE, {
      eval: true,
      name: `${options.label} writer`,
      workerData: { path, driver, statements: options.statements, pragmas: options.pragmas ?? [] },
    });
    return new SqliteWriterThread(worker, options.label);
  }

  private send(message: Record<string, unknown>): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      this.replies.set(seq, { resolve, reject });
      this.worker.postMessage({ ...message, seq });
    });
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

  /** Closes the connection, then stops the thread. */
  async close(): Promise<void> {
    if (!this.failure) await this.send({ close: true }).catch(() => undefined);
    await this.worker.terminate();
  }
}
