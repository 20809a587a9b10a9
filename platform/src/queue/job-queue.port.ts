/**
 * Port: durable background jobs. Adapters: job-queue.sqlite.ts (embedded default: jobs live in SQLite and survive a
 * restart or a SIGKILL) and job-queue.bullmq.ts (Redis + BullMQ, for several processes). Both pass
 * job-queue.conformance.ts.
 *
 * Delivery is at-least-once: a handler may run again for a job whose process died mid-run, so handlers must be
 * idempotent (ours are: they key their writes on ids carried in the payload).
 */
export interface EnqueueOptions {
  /** Run no earlier than this many milliseconds from now. */
  delayMs?: number;
  /** Total attempts before the job goes to the dead-letter set (default 5). */
  attempts?: number;
  /** Exponential backoff: the n-th retry waits baseDelayMs * 2^(n-1) (default 1000 ms). */
  backoff?: { type: 'exponential'; baseDelayMs: number };
  /** Idempotency key: enqueueing the same jobId twice on a queue keeps one job. */
  jobId?: string;
}

export interface JobInfo<P = unknown> {
  id: string;
  queue: string;
  name: string;
  payload: P;
  /** Attempts already made (0 before the first run; 1 inside the first run). */
  attemptsMade: number;
  maxAttempts: number;
  state: 'waiting' | 'delayed' | 'active' | 'completed' | 'dead';
  lastError: string | null;
}

export type JobHandler<P = unknown> = (job: JobInfo<P>) => Promise<void>;

export interface Worker {
  /** Stops taking new jobs and waits for the running ones to finish. */
  close(): Promise<void>;
}

export interface QueueCounts {
  waiting: number;
  delayed: number;
  active: number;
  completed: number;
  dead: number;
}

export interface JobQueue {
  readonly engine: 'sqlite' | 'bullmq';
  enqueue<P>(queue: string, name: string, payload: P, options?: EnqueueOptions): Promise<string>;
  /** Runs `handler` for jobs of `queue`, at most `concurrency` at a time. */
  process<P>(queue: string, handler: JobHandler<P>, options?: { concurrency?: number }): Worker;
  getJob<P = unknown>(queue: string, id: string): Promise<JobInfo<P> | null>;
  counts(queue: string): Promise<QueueCounts>;
  /** Jobs that exhausted their attempts, oldest first. */
  deadLetters<P = unknown>(queue: string, limit?: number): Promise<JobInfo<P>[]>;
  close(): Promise<void>;
}
