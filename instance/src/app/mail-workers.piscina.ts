import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { Logger } from 'pino';
import {
  systemDnsResolver,
  verifyAuthentication,
  type AuthenticationInput,
} from '../email/smtp-inbound.authentication.ts';
import type { AuthenticationFacts } from '../mail/message.facts.ts';
import { headersOnly, parseMessage, PARSE_LIMITS, type ParsedMessage } from '../mail/message.parser.ts';
import type { AuthenticateItem, AuthenticateOutcome, AuthenticateTask } from './mail-workers.tasks.ts';

/**
 * The CPU-bound reading of arriving mail — MIME parsing (mailparser) and SPF/DKIM/DMARC verification (mailauth) —
 * on worker threads (piscina), so that the thread serving SMTP, HTTP and the storage does only what needs the
 * mailbox, and the other cores do the rest (issue 14, P1). Threads start when work arrives and stop after
 * `idleTimeoutMs` without any: an idle instance holds none (P6).
 *
 * Calls made in the same turn of the event loop (a batch being filed) go to a thread as one task of at most
 * `maxBatch` messages: the exchange between threads costs about as much as a parse, so it is paid per batch.
 *
 * A task that does not end within `taskTimeoutMs` (a parse stuck in a loop, where the parser's own timeout cannot
 * fire) loses its thread, not the instance: the thread is replaced, the batch is tried again message by message, and
 * a message that fails alone is filed with what its headers say and the reason in `problem`. An authentication whose
 * thread failed is done again on the calling thread (its facts matter for trust, and DNS timeouts bound it). No heap
 * limit is set on the threads: V8 may abort the whole process, not just the thread, when one is reached.
 */
export interface MailWorkers {
  /** parseMessage (never throws). */
  parse(raw: Buffer): Promise<ParsedMessage>;
  /** verifyAuthentication; on the calling thread when `input.resolver` is given (a function cannot cross threads). */
  authenticate(raw: Buffer, input: AuthenticationInput): Promise<AuthenticationFacts>;
  /** Worker threads at most (0: everything on the calling thread). */
  readonly threads: number;
  /** Tasks sent to the threads and the messages they held since the start; threads running now. */
  stats(): { tasks: number; messages: number; runningThreads: number };
  close(): Promise<void>;
}

export interface MailWorkersOptions {
  /** Most worker threads; 0 runs everything on the calling thread. */
  threads: number;
  /** The DNS servers of SPF/DKIM/DMARC (smtp.dnsServers; empty: the system's). */
  dnsServers: readonly string[];
  logger: Logger;
  /** A thread with nothing to do stops after this long (default 30 s). */
  idleTimeoutMs?: number;
  /** A task that takes longer loses its thread (default: the parse timeout + 45 s). */
  taskTimeoutMs?: number;
  /** Most messages in one task (default 64). */
  maxBatch?: number;
}

/** One thread per core but one (left to the main thread), at least 1, at most 4. */
export function defaultMailWorkerThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

/**
 * The bytes of `raw` alone: a Buffer that views part of a larger one (an mbox file, Node's pool of small buffers)
 * would otherwise send the whole of that one to the thread.
 */
function own(raw: Buffer): Uint8Array {
  return raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength ? raw : new Uint8Array(raw);
}

function inlineWorkers(dnsServers: readonly string[]): MailWorkers {
  const resolver = systemDnsResolver(dnsServers);
  return {
    threads: 0,
    parse: (raw) => parseMessage(raw),
    authenticate: (raw, input) => verifyAuthentication(raw, { resolver, ...input }),
    stats: () => ({ tasks: 0, messages: 0, runningThreads: 0 }),
    close: async () => undefined,
  };
}

/** Gathers the calls of one turn of the event loop into batches of at most `max`, each handled by `run`. */
class Gatherer<I, O> {
  private waiting: { input: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;

  constructor(
    private readonly max: number,
    private readonly run: (inputs: I[]) => Promise<O[]>,
  ) {}

  add(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.waiting.push({ input, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        const all = this.waiting;
        this.waiting = [];
        for (let i = 0; i < all.length; i += this.max) {
          const group = all.slice(i, i + this.max);
          this.run(group.map((g) => g.input)).then(
            (outs) => {
              for (const [n, g] of group.entries()) g.resolve(outs[n] as O);
            },
            (e: unknown) => {
              for (const g of group) g.reject(e);
            },
          );
        }
      });
    });
  }
}

export function startMailWorkers(options: MailWorkersOptions): MailWorkers {
  const inline = inlineWorkers(options.dnsServers);
  if (options.threads <= 0) return inline;
  const log = options.logger.child({ component: 'mail-workers' });
  const pool = new Piscina({
    filename: new URL('./mail-workers.entry.mjs', import.meta.url).href,
    minThreads: 0,
    maxThreads: options.threads,
    idleTimeout: options.idleTimeoutMs ?? 30_000,
    // A few batches per thread: an authentication mostly waits for DNS, a parse for its stream's next turn.
    concurrentTasksPerWorker: 4,
    // piscina's default blocks a thread's event loop (Atomics.wait) between tasks, which would stall the ones
    // waiting for DNS: tasks come by message only.
    atomics: 'disabled',
  });
  // A thread that dies (an error outside any task, terminated after a timeout) is reported here as well as to its task.
  pool.on('error', (e: Error) => log.warn({ error: e.message }, 'mail worker thread failed'));
  const taskTimeoutMs = options.taskTimeoutMs ?? PARSE_LIMITS.parseTimeoutMs + 45_000;
  const counts = { tasks: 0, messages: 0 };
  const run = <T>(task: unknown, name: string, messages: number): Promise<T> => {
    counts.tasks++;
    counts.messages += messages;
    return pool.run(task, { name, signal: AbortSignal.timeout(taskTimeoutMs) }) as Promise<T>;
  };
  let closed = false;

  const parseOne = async (raw: Buffer): Promise<ParsedMessage> => {
    try {
      const [parsed] = await run<ParsedMessage[]>([own(raw)], 'parse', 1);
      return parsed!;
    } catch (e) {
      if (closed) return inline.parse(raw);
      const reason = (e as Error)?.message ?? String(e);
      log.warn(
        { error: reason, bytes: raw.length },
        'mail worker: a message stopped the parser, filed from its headers',
      );
      return headersOnly(raw, `the MIME parser stopped (${reason})`);
    }
  };
  const parses = new Gatherer<Buffer, ParsedMessage>(options.maxBatch ?? 64, async (raws) => {
    if (closed) return Promise.all(raws.map((r) => inline.parse(r)));
    try {
      return await run<ParsedMessage[]>(raws.map(own), 'parse', raws.length);
    } catch {
      // One of them may be what stopped the thread: each alone, so that only that one is left unparsed.
      return Promise.all(raws.map(parseOne));
    }
  });

  type AuthCall = { raw: Buffer; input: AuthenticationInput };
  const authentications = new Gatherer<AuthCall, AuthenticateOutcome>(options.maxBatch ?? 64, async (calls) => {
    const items: AuthenticateItem[] = calls.map(({ raw, input }) => {
      const { resolver: _none, ...plain } = input;
      return { raw: own(raw), input: plain };
    });
    const task: AuthenticateTask = { items, dnsServers: [...options.dnsServers] };
    return run<AuthenticateOutcome[]>(task, 'authenticate', items.length);
  });

  return {
    threads: options.threads,
    parse: (raw) => (closed ? inline.parse(raw) : parses.add(raw)),
    async authenticate(raw, input) {
      if (closed || input.resolver) return inline.authenticate(raw, input);
      let outcome: AuthenticateOutcome;
      try {
        outcome = await authentications.add({ raw, input });
      } catch (e) {
        log.warn({ error: (e as Error).message }, 'mail worker: authentication failed in a thread, done inline');
        return inline.authenticate(raw, input);
      }
      if ('error' in outcome) throw new Error(outcome.error);
      return outcome.facts;
    },
    stats: () => ({ ...counts, runningThreads: pool.threads.length }),
    async close() {
      if (closed) return;
      closed = true;
      await pool.destroy();
    },
  };
}
