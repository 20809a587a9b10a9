import { randomUUID } from 'node:crypto';
import { Queue, Worker as BullWorker } from 'bullmq';
import type { RedisOptions as BullmqRedisOptions, Job, JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import type { EnqueueOptions, JobHandler, JobInfo, JobQueue, QueueCounts, Worker } from './job-queue.port.ts';

/** pino's logger fits; so does `console`. */
export interface QueueLogger {
  warn(details: Record<string, unknown>, message: string): void;
}

export interface BullmqJobQueueOptions {
  /** A `redis://` URL, or ioredis options. */
  connection: string | RedisOptions;
  /** Namespaces every key, so several instances (or test runs) can share one Redis (default 'caliopen'). */
  prefix?: string;
  /** Completed jobs are kept so getJob can report them, then pruned (defaults: 24 h, 10 000 per queue). */
  keepCompleted?: { maxAgeMs?: number; maxCount?: number };
  /** How long a running job stays locked to its worker; renewed while the handler runs (default 30 s). */
  lockDurationMs?: number;
  /** How often workers look for jobs whose lock lapsed (their process died) to run them again (default 30 s). */
  stalledIntervalMs?: number;
  /** How many times a job may stall and run again before it is dead-lettered (default 5). */
  maxStalls?: number;
  logger?: QueueLogger;
}

const DEFAULT_ATTEMPTS = 5;
const DEFAULT_BACKOFF_MS = 1000;
const DEFAULT_DEAD_LETTER_LIMIT = 100;

/**
 * Redis + BullMQ, for instances scaled out over several processes. Resolves once Redis answers, so a wrong URL fails
 * at start rather than on the first enqueue.
 */
export async function openBullmqJobQueue(options: BullmqJobQueueOptions): Promise<JobQueue> {
  const { url, redisOptions } =
    typeof options.connection === 'string'
      ? { url: options.connection, redisOptions: {} }
      : { url: undefined, redisOptions: options.connection };
  // Producers share one connection and fail fast; BullMQ gives each worker its own, blocking, connections.
  const client = url === undefined ? new Redis(redisOptions) : new Redis(url, redisOptions);
  const logger = options.logger ?? console;
  client.on('error', (err: unknown) => logger.warn({ err }, 'job queue: Redis connection error'));
  try {
    await client.ping();
  } catch (err) {
    client.disconnect();
    throw new Error(`job queue: cannot reach Redis (${url ?? 'connection options'}): ${String(err)}`);
  }
  return new BullmqJobQueue(client, workerConnection(url, redisOptions), options, logger);
}

/**
 * BullMQ creates (and closes) each worker's connections from these options; its blocking commands need
 * `maxRetriesPerRequest: null`.
 */
function workerConnection(url: string | undefined, redisOptions: RedisOptions): BullmqRedisOptions {
  const { retryStrategy, ...rest } = redisOptions;
  return { ...rest, ...(url ? { url } : {}), ...(retryStrategy ? { retryStrategy } : {}), maxRetriesPerRequest: null };
}

class BullmqJobQueue implements JobQueue {
  readonly engine = 'bullmq' as const;
  private readonly queues = new Map<string, Queue>();
  private readonly workers = new Set<BullWorker>();
  private readonly prefix: string;
  private readonly keepCompleted: { age: number; count: number };
  private closing: Promise<void> | undefined;

  constructor(
    private readonly client: Redis,
    private readonly workerConnection: BullmqRedisOptions,
    private readonly options: BullmqJobQueueOptions,
    private readonly logger: QueueLogger,
  ) {
    this.prefix = options.prefix ?? 'caliopen';
    this.keepCompleted = {
      age: Math.ceil(nonNegative(options.keepCompleted?.maxAgeMs ?? 24 * 3600_000, 'keepCompleted.maxAgeMs') / 1000),
      count: nonNegative(options.keepCompleted?.maxCount ?? 10_000, 'keepCompleted.maxCount'),
    };
  }

  async enqueue<P>(queue: string, name: string, payload: P, options: EnqueueOptions = {}): Promise<string> {
    this.assertOpen();
    if (options.jobId === '') throw new RangeError('jobId must not be empty');
    const id = options.jobId ?? randomUUID();
    const jobOptions: JobsOptions = {
      jobId: encodeKey(id),
      delay: nonNegative(options.delayMs ?? 0, 'delayMs'),
      attempts: atLeastOne(options.attempts ?? DEFAULT_ATTEMPTS, 'attempts'),
      backoff: {
        type: 'exponential',
        delay: nonNegative(options.backoff?.baseDelayMs ?? DEFAULT_BACKOFF_MS, 'backoff.baseDelayMs'),
      },
      removeOnComplete: this.keepCompleted,
      // Failed jobs are our dead letters: keep them until someone looks.
      removeOnFail: false,
    };
    // With an existing jobId BullMQ keeps the job it has and ignores this one: our idempotency.
    await this.queue(queue).add(name, payload, jobOptions);
    return id;
  }

  process<P>(queue: string, handler: JobHandler<P>, options: { concurrency?: number } = {}): Worker {
    this.assertOpen();
    const worker = new BullWorker(
      encodeKey(queue),
      async (job: Job) => {
        try {
          await handler(toJobInfo<P>(queue, job, 'active'));
        } catch (err) {
          // BullMQ records err.message as the failed reason: make sure there is one.
          throw err instanceof Error ? err : new Error(String(err));
        }
      },
      {
        connection: this.workerConnection,
        prefix: this.prefix,
        concurrency: atLeastOne(options.concurrency ?? 1, 'concurrency'),
        lockDuration: this.options.lockDurationMs ?? 30_000,
        stalledInterval: this.options.stalledIntervalMs ?? 30_000,
        maxStalledCount: this.options.maxStalls ?? 5,
      },
    );
    worker.on('error', (err) => this.logger.warn({ err, queue }, 'job queue worker error'));
    this.workers.add(worker);
    return {
      close: async () => {
        await worker.close();
        this.workers.delete(worker);
      },
    };
  }

  async getJob<P = unknown>(queue: string, id: string): Promise<JobInfo<P> | null> {
    this.assertOpen();
    const job = await this.queue(queue).getJob(encodeKey(id));
    if (!job) return null;
    const state = portState(await job.getState());
    return state ? toJobInfo<P>(queue, job, state) : null;
  }

  async counts(queue: string): Promise<QueueCounts> {
    this.assertOpen();
    const c = await this.queue(queue).getJobCounts(
      'wait',
      'prioritized',
      'waiting-children',
      'delayed',
      'active',
      'completed',
      'failed',
    );
    return {
      waiting: (c.wait ?? 0) + (c.prioritized ?? 0) + (c['waiting-children'] ?? 0),
      delayed: c.delayed ?? 0,
      active: c.active ?? 0,
      completed: c.completed ?? 0,
      dead: c.failed ?? 0,
    };
  }

  async deadLetters<P = unknown>(queue: string, limit = DEFAULT_DEAD_LETTER_LIMIT): Promise<JobInfo<P>[]> {
    this.assertOpen();
    const jobs = await this.queue(queue).getJobs(['failed'], 0, limit - 1, true);
    return jobs.map((job) => toJobInfo<P>(queue, job, 'dead'));
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.workers].map((w) => w.close()));
      await Promise.all([...this.queues.values()].map((q) => q.close()));
      await this.client.quit().catch(() => this.client.disconnect());
    })();
    return this.closing;
  }

  /** One BullMQ Queue per queue name, on the shared producer connection (BullMQ leaves it open on close). */
  private queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(encodeKey(name), { connection: this.client, prefix: this.prefix });
      queue.on('error', (err) => this.logger.warn({ err, queue: name }, 'job queue error'));
      this.queues.set(name, queue);
    }
    return queue;
  }

  private assertOpen(): void {
    if (this.closing) throw new Error('the job queue is closed');
  }
}

function toJobInfo<P>(queue: string, job: Job, state: JobInfo['state']): JobInfo<P> {
  return {
    id: decodeKey(job.id ?? ''),
    queue,
    name: job.name,
    payload: job.data as P,
    // BullMQ counts an attempt once it has an outcome; the port counts the running one too.
    attemptsMade: job.attemptsMade + (state === 'active' ? 1 : 0),
    maxAttempts: job.opts.attempts ?? 1,
    state,
    lastError: job.failedReason || null,
  };
}

function portState(state: string): JobInfo['state'] | null {
  switch (state) {
    case 'waiting':
    case 'prioritized':
    case 'waiting-children':
      return 'waiting';
    case 'delayed':
    case 'active':
    case 'completed':
      return state;
    case 'failed':
      return 'dead';
    default:
      return null; // 'unknown': removed meanwhile
  }
}

/**
 * BullMQ refuses ':' in job ids and queue names (its key separator) and integer-looking custom job ids (its own
 * auto ids). Percent-escape '%' and ':', and the first character of an integer-looking id; decoding is exact because
 * '%' is always escaped.
 */
export function encodeKey(key: string): string {
  const escaped = key.replace(/[%:]/g, (c) => (c === '%' ? '%25' : '%3A'));
  if (`${parseInt(escaped, 10)}` !== escaped) return escaped;
  return `%${escaped.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}${escaped.slice(1)}`;
}

export function decodeKey(encoded: string): string {
  return encoded.replace(/%([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

function nonNegative(value: number, name: string): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a finite number >= 0, got ${value}`);
  return Math.floor(value);
}

function atLeastOne(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be an integer >= 1, got ${value}`);
  return value;
}
