import type { MessagePort, Worker } from 'node:worker_threads';
import type { SpoolEntryInput } from './inbound-spool.port.ts';

/**
 * The append half of the SQLite spool (inbound-spool.sqlite.ts): appends are grouped into one commit of the spool's
 * writer thread — one fsync acknowledges many messages — and each resolves once the commit holding it returned. The
 * same on whichever thread the SMTP sessions run: the main thread (SqliteInboundSpool) or the SMTP thread
 * (smtp-inbound.thread.ts), which reaches the one writer through a channel of its own.
 */

export interface SpoolAppendOptions {
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

/** A spool row as the writer thread inserts it. */
export interface SpoolRow {
  receivedAt: number;
  mailFrom: string;
  recipients: string;
  transport: string;
  raw: Uint8Array;
}

export type SpoolWriterOp =
  | { op: 'append'; rows: SpoolRow[] }
  | { op: 'remove'; ids: number[] }
  | { op: 'defer'; id: number; error: string; retryAt: number; dead: number }
  | { op: 'close' };

type Reply = { seq: number; ok: boolean; result?: unknown; error?: string };

/** Requests to the spool's writer thread, over the thread itself or a channel to it; each answered in turn. */
export class SpoolWriterClient {
  private readonly replies = new Map<number, { resolve: (result: unknown) => void; reject: (e: Error) => void }>();
  private seq = 0;
  private failure: Error | null = null;

  constructor(private readonly port: Worker | MessagePort) {
    port.on('message', (m: Reply) => {
      const waiter = this.replies.get(m.seq);
      this.replies.delete(m.seq);
      if (m.ok) waiter?.resolve(m.result);
      else waiter?.reject(new Error(`spool write failed: ${m.error}`));
    });
  }

  /** Every request waiting, and every later one, fails with `e` (the writer thread stopped). */
  broken(e: Error): void {
    this.failure ??= e;
    for (const waiter of this.replies.values()) waiter.reject(e);
    this.replies.clear();
  }

  get failed(): boolean {
    return this.failure !== null;
  }

  request(op: SpoolWriterOp): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      this.replies.set(seq, { resolve, reject });
      this.port.postMessage({ ...op, seq });
    });
  }
}

interface Pending {
  entry: SpoolEntryInput;
  resolve: (id: string) => void;
  reject: (e: Error) => void;
}

/** Group commit of appends: what arrives while a commit is under way shares the next one. */
export class SpoolAppender {
  private readonly pending: Pending[] = [];
  private pendingBytes = 0;
  private scheduled = false;
  private appending = false;
  private readonly lingerMs: number;
  private readonly maxBatch: number;
  private readonly maxBatchBytes: number;

  constructor(
    private readonly writer: SpoolWriterClient,
    options: SpoolAppendOptions,
    /** After each commit, with the number of messages it held. */
    private readonly committed: (count: number) => void,
  ) {
    this.lingerMs = options.lingerMs ?? 0;
    this.maxBatch = options.maxBatch ?? 256;
    this.maxBatchBytes = options.maxBatchBytes ?? 64 * 1024 * 1024;
  }

  append(entry: SpoolEntryInput): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      this.pending.push({ entry, resolve, reject });
      this.pendingBytes += entry.raw.length;
      this.schedule();
    });
  }

  /** Resolves once nothing is pending or being committed. */
  async drain(): Promise<void> {
    while (this.pending.length || this.appending) {
      if (!this.appending) await this.commit();
      else await new Promise((r) => setImmediate(r));
    }
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
      const ids = (await this.writer.request({
        op: 'append',
        rows: batch.map(({ entry }) => ({
          receivedAt: entry.receivedAt.getTime(),
          mailFrom: entry.mailFrom,
          recipients: JSON.stringify(entry.recipients),
          transport: JSON.stringify(entry.transport),
          raw: entry.raw,
        })),
      })) as number[];
      batch.forEach((p, i) => {
        p.resolve(String(ids[i]));
      });
      this.committed(batch.length);
    } catch (e) {
      for (const p of batch) p.reject(e as Error);
    } finally {
      this.appending = false;
      this.schedule();
    }
  }
}
