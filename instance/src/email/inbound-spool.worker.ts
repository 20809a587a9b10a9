import type { Logger } from 'pino';
import type { IngestRequest, IngestResult, MessageIngest } from '../messages/message-ingest.port.ts';
import type { AuthenticationFacts, MessageFacts } from '../mail/message.facts.ts';
import { systemClock, type Clock } from '@caliopen/platform/clock/clock.port.ts';
import { isAppError } from '../shared/errors.ts';
import type { InboundSpool, SpoolEntry } from './inbound-spool.port.ts';
import { receivedChain } from './received-chain.ts';
import { verifyAuthentication, type Authenticator, type DnsResolver } from './smtp-inbound.authentication.ts';

/**
 * Drains the inbound spool, off the SMTP acceptance path, in batches: it takes what is waiting (up to `batchSize`
 * entries), reads each trace and verifies SPF/DKIM/DMARC (concurrently: DNS), files one copy per recipient for the
 * whole batch at once (MessageIngest.ingestBatch: one commit, one group of blob syncs, one index job), then removes
 * the delivered entries in one commit. Removal comes after the batch's commit is durable, so a crash anywhere before
 * re-files the batch on restart, and ingest's dedupe (Message-ID + content hash per account) keeps that from making a
 * duplicate. An entry whose copy failed is retried with backoff (the others of its batch are delivered); after
 * `maxAttempts` it is kept as dead for the operator, never dropped.
 */
export interface SpoolWorkerOptions {
  spool: InboundSpool;
  ingest: MessageIngest;
  /** The instance domain: our name in Authentication-Results, and how our own trace hops are recognised. */
  domain: string;
  logger: Logger;
  resolver?: DnsResolver;
  /** What verifies SPF/DKIM/DMARC (the mail worker threads); verifyAuthentication here by default. */
  authenticator?: Authenticator;
  clock?: Clock;
  /** Most entries filed in one batch (default 64). */
  batchSize?: number;
  /**
   * Batches in progress at once (default 2): while one waits (its blobs' fsync, its parses on the mail worker
   * threads), the next one is read and authenticated. Their storage commits still come one after the other.
   */
  concurrentBatches?: number;
  /**
   * While messages are arriving (an append within `busyWindowMs`) and batches fill (a quarter of `batchSize` or
   * more: a burst), delivery shares the event loop with the SMTP sessions: each batch is then followed by a pause in
   * proportion to its duration, so that delivery takes at most this share of the time and acceptance goes first. Never 0, so a steady stream cannot starve the
   * mailboxes (and a batch files everything that arrived during the pause at once).
   */
  busyShare?: number;
  busyWindowMs?: number;
  maxAttempts?: number;
  /** Delay before attempt n+1 after n failures. */
  retryDelayMs?: (failures: number) => number;
  /** An authentication that takes longer is abandoned (recorded as absent), so that one message cannot stall the rest. */
  authenticationTimeoutMs?: number;
  onDelivered?: (entry: SpoolEntry) => void;
}

const defaultRetryDelay = (failures: number) => Math.min(3600_000, 30_000 * 2 ** Math.min(failures - 1, 7));

export class InboundSpoolWorker {
  private readonly spool: InboundSpool;
  private readonly clock: Clock;
  private readonly batchSize: number;
  private readonly busyShare: number;
  private readonly busyWindowMs: number;
  private lastAppendAt = -Infinity;
  /** While busy, no delivery starts before this time (performance.now()). */
  private resumeAt = 0;
  private readonly maxAttempts: number;
  private readonly retryDelay: (failures: number) => number;
  /** Entries being worked on, or done and waiting for their removal to commit. */
  private readonly inFlight = new Set<string>();
  private readonly concurrentBatches: number;
  /** The batches being filed. */
  private readonly running = new Set<Promise<void>>();
  private delivered: string[] = [];
  private removal: Promise<void> | null = null;
  private pumping = false;
  private pumpAgain = false;
  private timer: NodeJS.Timeout | null = null;
  private closing = false;
  private started = false;

  constructor(private readonly options: SpoolWorkerOptions) {
    this.spool = options.spool;
    this.clock = options.clock ?? systemClock;
    this.batchSize = Math.max(1, options.batchSize ?? 64);
    this.concurrentBatches = Math.max(1, options.concurrentBatches ?? 2);
    this.busyShare = Math.min(1, Math.max(0.01, options.busyShare ?? 0.25));
    this.busyWindowMs = options.busyWindowMs ?? 200;
    this.maxAttempts = options.maxAttempts ?? 30;
    this.retryDelay = options.retryDelayMs ?? defaultRetryDelay;
  }

  /** Starts draining: what a previous run left in the spool first, then whatever gets appended. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.spool.onAppend(() => {
      this.lastAppendAt = performance.now();
      this.pump();
    });
    this.pump();
  }

  private pump(): void {
    if (this.closing || !this.started) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    void this.fill()
      .catch((e: Error) => this.options.logger.error({ error: e.message }, 'inbound spool: cannot read the spool'))
      .finally(() => {
        this.pumping = false;
        if (this.pumpAgain) {
          this.pumpAgain = false;
          this.pump();
        }
      });
  }

  private async fill(): Promise<void> {
    if (this.running.size >= this.concurrentBatches || this.closing) return;
    const now = performance.now();
    const busy = now - this.lastAppendAt < this.busyWindowMs;
    if (busy && now < this.resumeAt) {
      // The pause lasts until resumeAt, or until messages stop arriving (the busy window closes) if that comes first:
      // once a burst is over nothing appends, and nothing would wake the worker before the end of a pause meant to
      // leave room for acceptance that is no longer there.
      this.wakeAt(Math.min(this.resumeAt, this.lastAppendAt + this.busyWindowMs) - now);
      return;
    }
    const ids = await this.spool.due(this.clock(), this.batchSize, this.inFlight);
    if (ids.length === 0) {
      await this.scheduleRetry();
      return;
    }
    for (const id of ids) this.inFlight.add(id);
    const started = performance.now();
    const run: Promise<void> = this.work(ids)
      .catch((e: Error) => {
        // Unexpected: the entries stay in the spool and are taken again (ingest's dedupe covers a re-filing).
        this.options.logger.error({ error: e.message }, 'inbound spool: batch failed');
        for (const id of ids) if (!this.delivered.includes(id)) this.inFlight.delete(id);
      })
      .finally(() => {
        const took = performance.now() - started;
        // A burst fills batches; a trickle (a batch under a quarter full) is no burst: no pause after it, so that
        // mail arriving one message at a time is filed at once instead of waiting out a pause meant for bursts.
        const burst = ids.length >= Math.max(2, this.batchSize / 4);
        this.resumeAt = burst ? performance.now() + (took * (1 - this.busyShare)) / this.busyShare : 0;
        this.running.delete(run);
        this.pump();
      });
    this.running.add(run);
    // Another batch may start at once (up to concurrentBatches) when entries are waiting.
    if (this.running.size < this.concurrentBatches) this.pumpAgain = true;
  }

  /** Wakes up when the next deferred entry is due (new appends wake the worker anyway). */
  private async scheduleRetry(): Promise<void> {
    const next = await this.spool.nextDueAt();
    if (!next || this.closing) return;
    this.wakeAt(Math.max(50, Math.min(60_000, next.getTime() - this.clock().getTime())));
  }

  private wakeAt(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.pump();
    }, delayMs);
    this.timer.unref();
  }

  /** Files one batch: every copy of every entry in one ingest batch, then removal or deferral per entry. */
  private async work(ids: readonly string[]): Promise<void> {
    const entries: SpoolEntry[] = [];
    for (const id of ids) {
      try {
        const entry = await this.spool.get(id);
        if (entry) entries.push(entry);
        else this.inFlight.delete(id);
      } catch (e) {
        this.inFlight.delete(id);
        this.options.logger.error({ spoolId: id, error: (e as Error).message }, 'inbound spool: cannot read an entry');
      }
    }
    if (entries.length === 0) return;
    const facts = await Promise.all(
      entries.map((entry) =>
        this.factsOf(entry).catch(async (e: unknown) => {
          await this.deferEntry(entry, e);
          return null;
        }),
      ),
    );
    const requests: IngestRequest[] = [];
    const owner: number[] = [];
    entries.forEach((entry, n) => {
      const f = facts[n];
      if (!f) return;
      for (const recipient of entry.recipients) {
        requests.push({
          accountId: recipient.accountId,
          raw: entry.raw,
          direction: 'inbound',
          receivedAt: entry.receivedAt,
          facts: f,
        });
        owner.push(n);
      }
    });
    let outcomes: PromiseSettledResult<IngestResult>[];
    try {
      outcomes = await this.file(requests);
    } catch (e) {
      outcomes = requests.map(() => ({ status: 'rejected', reason: e }));
    }
    const failure: (unknown | null)[] = entries.map(() => null);
    outcomes.forEach((outcome, i) => {
      if (outcome.status === 'fulfilled') return;
      const e = outcome.reason;
      const entry = entries[owner[i]!]!;
      // The account was deleted since RCPT TO accepted it: there is no mailbox left to deliver to.
      if (isAppError(e) && e.code === 'not_found') {
        this.options.logger.warn(
          { spoolId: entry.id, accountId: requests[i]!.accountId },
          'inbound spool: recipient account no longer exists, copy dropped',
        );
        return;
      }
      failure[owner[i]!] ??= e;
    });
    await Promise.all(
      entries.map(async (entry, n) => {
        if (!facts[n]) return;
        if (failure[n] === null) {
          this.options.onDelivered?.(entry);
          this.delivered.push(entry.id);
          this.scheduleRemoval();
        } else await this.deferEntry(entry, failure[n]);
      }),
    );
  }

  /** Through ingestBatch when the ingest has it; one by one otherwise. */
  private async file(requests: IngestRequest[]): Promise<PromiseSettledResult<IngestResult>[]> {
    const { ingest } = this.options;
    if (ingest.ingestBatch) return ingest.ingestBatch(requests);
    const out: PromiseSettledResult<IngestResult>[] = [];
    for (const r of requests) {
      try {
        out.push({ status: 'fulfilled', value: await ingest.ingest(r) });
      } catch (e) {
        out.push({ status: 'rejected', reason: e });
      }
    }
    return out;
  }

  private async deferEntry(entry: SpoolEntry, e: unknown): Promise<void> {
    const failures = entry.attempts + 1;
    const retryAt = failures >= this.maxAttempts ? null : new Date(this.clock().getTime() + this.retryDelay(failures));
    const err = e as Error & { code?: string };
    const reason = `${err.code ?? err.name}: ${err.message}`;
    this.options.logger.warn(
      { spoolId: entry.id, failures, retryAt: retryAt?.toISOString() ?? null, error: err.message, errorCode: err.code },
      retryAt
        ? 'inbound spool: delivery failed, will retry'
        : 'inbound spool: delivery failed for good, entry kept as dead',
    );
    try {
      await this.spool.defer(entry.id, reason, retryAt);
    } catch (d) {
      this.options.logger.error({ spoolId: entry.id, error: (d as Error).message }, 'inbound spool: cannot defer');
    } finally {
      this.inFlight.delete(entry.id);
    }
  }

  /** The facts of an entry: what the session measured, the parsed trace, and verified authentication. */
  private async factsOf(entry: SpoolEntry): Promise<MessageFacts> {
    const chain = receivedChain(entry.raw, this.options.domain);
    const authentication = await this.authenticate(entry);
    return {
      transport: {
        via: 'smtp',
        tls: entry.transport.tls,
        clientIp: entry.transport.clientIp,
        helo: entry.transport.helo,
        receivedChain: chain.hops,
        externalHops: chain.externalHops,
        plaintextHops: chain.plaintextHops,
      },
      authentication,
      ...(entry.transport.spam ? { spam: entry.transport.spam } : {}),
    };
  }

  private async authenticate(entry: SpoolEntry): Promise<AuthenticationFacts | null> {
    const timeoutMs = this.options.authenticationTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        (this.options.authenticator ?? verifyAuthentication)(entry.raw, {
          ip: entry.transport.clientIp,
          helo: entry.transport.helo,
          sender: entry.mailFrom,
          mta: this.options.domain,
          ...(this.options.resolver ? { resolver: this.options.resolver } : {}),
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`authentication took longer than ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (e) {
      // Unverifiable means absent: the message is still delivered, without authentication facts.
      this.options.logger.warn(
        { spoolId: entry.id, error: (e as Error).message },
        'inbound spool: authentication could not be verified',
      );
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Removes delivered entries in one commit per event-loop turn (group delete, like the group insert). */
  private scheduleRemoval(): void {
    if (this.removal) return;
    this.removal = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
      while (this.delivered.length) {
        const ids = this.delivered;
        this.delivered = [];
        try {
          await this.spool.remove(ids);
        } catch (e) {
          // Still in the spool: delivered again on the next start, deduplicated by ingest.
          this.options.logger.error({ error: (e as Error).message }, 'inbound spool: cannot remove delivered entries');
        }
        for (const id of ids) this.inFlight.delete(id);
      }
      this.removal = null;
    });
  }

  /** Stops taking entries, waits for those in progress and commits their removal. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    while (this.running.size > 0) await Promise.all([...this.running]);
    while (this.removal) await this.removal;
  }
}
