import { type FileHandle, open } from 'node:fs/promises';
import type { SqliteDb } from './sqlite.connection.ts';

/**
 * Durable commits without blocking the event loop (ADR 0028). better-sqlite3 is synchronous: a commit under
 * `synchronous=FULL` holds the calling thread for the disk's fsync. A connection at `synchronous=NORMAL` (WAL mode)
 * writes its commit to the write-ahead log and returns without syncing; `WalSync.sync()` then makes the log durable
 * with an `fdatasync` of the `-wal` file on libuv's thread pool, and resolves once it is on disk. A commit is durable
 * when its frames in the log are (SQLite replays the log's committed frames at the next open); SQLite itself syncs
 * the log before each checkpoint and the database after it under NORMAL, so nothing a checkpoint moves is at risk.
 *
 * Calls that arrive while a sync runs share the next one (a group commit): one fdatasync for all the commits written
 * meanwhile. A caller that acknowledges something to the outside (an enqueued job, a filed batch, an index write
 * its job's completion depends on) awaits `sync()` after its commit, as it awaited the commit before.
 */
export class WalSync {
  private handle: FileHandle | null = null;
  private running: Promise<void> | null = null;
  private next: Promise<void> | null = null;
  /** Log syncs so far (for tests and figures). */
  syncs = 0;

  /** For the database file at `path` (':memory:' has no log: sync() resolves at once). */
  constructor(private readonly path: string) {}

  /** Resolves once everything this process committed to the log before the call is on disk. */
  sync(): Promise<void> {
    if (this.path === ':memory:') return Promise.resolve();
    // A sync under way may have started before the caller's commit: the caller needs the one after it.
    if (this.next) return this.next;
    if (!this.running) return this.start();
    this.next = this.running
      .catch(() => undefined)
      .then(() => {
        this.next = null;
        return this.start();
      });
    return this.next;
  }

  private start(): Promise<void> {
    const run = this.syncOnce().finally(() => {
      if (this.running === run) this.running = null;
    });
    this.running = run;
    return run;
  }

  private async syncOnce(): Promise<void> {
    this.syncs++;
    if (!this.handle) {
      try {
        this.handle = await open(`${this.path}-wal`, 'r');
      } catch (e) {
        // No log: the last connection closed and checkpointed it into the database, synced. Nothing to do.
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw e;
      }
    }
    await this.handle.datasync();
  }

  async close(): Promise<void> {
    await this.running?.catch(() => undefined);
    await this.next?.catch(() => undefined);
    const handle = this.handle;
    this.handle = null;
    await handle?.close();
  }
}

/**
 * The commits of one `synchronous=FULL` connection that should not hold the event loop for the disk: `durably(write)`
 * runs a statement or a synchronous transaction at `synchronous=NORMAL` and resolves once the log is synced
 * (WalSync). A unit held across awaits uses the parts: `relax()` before its BEGIN (SQLite refuses the pragma inside a
 * transaction), `restore()` after its COMMIT or ROLLBACK, then `sync()`. Every other commit keeps FULL.
 */
export class WalCommits {
  private readonly unsynced;
  private readonly synced;
  private readonly log: WalSync;

  /** For the connection `db` to the database file at `path`. */
  constructor(
    private readonly db: SqliteDb,
    path: string,
  ) {
    this.log = new WalSync(path);
    // Prepared once: a pragma string is parsed again at each call.
    this.unsynced = db.prepare('PRAGMA synchronous = NORMAL');
    this.synced = db.prepare('PRAGMA synchronous = FULL');
  }

  relax(): void {
    this.unsynced.run();
  }

  restore(): void {
    this.synced.run();
  }

  sync(): Promise<void> {
    return this.log.sync();
  }

  /**
   * Runs `write` with its commit written to the log without waiting for the disk, then resolves once the log is on
   * disk: durable when it resolves, as under FULL. Inside an open transaction (a unit of work's) the write joins it and
   * commits with it, as any statement does there.
   */
  async durably<T>(write: () => T): Promise<T> {
    if (this.db.inTransaction) return write();
    this.relax();
    let result: T;
    try {
      result = write();
    } finally {
      this.restore();
    }
    await this.log.sync();
    return result;
  }

  close(): Promise<void> {
    return this.log.close();
  }
}
