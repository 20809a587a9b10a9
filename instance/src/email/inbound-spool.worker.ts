import type { Logger } from 'pino';
import type { MessageIngest } from '../messages/message-ingest.port.ts';
import type { AuthenticationFacts, MessageFacts } from '../mail/message.facts.ts';
import { systemClock, type Clock } from '@caliopen/platform/clock/clock.port.ts';
import { isAppError } from '../shared/errors.ts';
import type { InboundSpool, SpoolEntry } from './inbound-spool.port.ts';
import { receivedChain } from './received-chain.ts';
import { verifyAuthentication, type DnsResolver } from './smtp-inbound.authentication.ts';

/**
 * Drains the inbound spool, off the SMTP acceptance path: for each entry, read the trace, verify SPF/DKIM/DMARC,
 * ingest one copy per recipient, then remove the entry. Removal comes last, so a crash in between re-ingests on
 * restart, and ingest's dedupe (Message-ID + content hash per account) keeps that from making a duplicate. A failed
 * attempt is retried with backoff; after `maxAttempts` the entry is kept as dead for the operator, never dropped.
 */
export interface SpoolWorkerOptions {
  spool: InboundSpool;
  ingest: MessageIngest;
  /** The instance domain: our name in Authentication-Results, and how our own trace hops are recognised. */
  domain: string;
  logger: Logger;
  resolver?: DnsResolver;
  clock?: Clock;
  /** Entries worked on at once (authentication waits on DNS, so a few in parallel). */
  concurrency?: number;
  /**
   * While messages are arriving (an append within `busyWindowMs`), delivery shares the event loop with the SMTP
   * sessions: it then runs one entry at a time and takes at most this share of the time (each delivery is followed by
   * a pause in proportion), so acceptance goes first during a burst and delivery catches up after. Never 0, so a
   * steady stream cannot starve the mailboxes.
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
  private readonly concurrency: number;
  private readonly busyShare: number;
  private readonly busyWindowMs: number;
  private lastAppendAt = -Infinity;
  /** While busy, no delivery starts before this time (performance.now()). */
  private resumeAt = 0;
  private readonly maxAttempts: number;
  private readonly retryDelay: (failures: number) => number;
  /** Entries being worked on, or done and waiting for their removal to commit. */
  private readonly inFlight = new Set<string>();
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
    this.concurrency = options.concurrency ?? 4;
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
    const now = performance.now();
    const busy = now - this.lastAppendAt < this.busyWindowMs;
    const free = (busy ? 1 : this.concurrency) - this.running.size;
    if (free <= 0 || this.closing) return;
    if (busy && now < this.resumeAt) {
      this.wakeAt(this.resumeAt - now);
      return;
    }
    const ids = await this.spool.due(this.clock(), free, this.inFlight);
    for (const id of ids) {
      this.inFlight.add(id);
      const started = performance.now();
      const task: Promise<void> = this.work(id).finally(() => {
        const took = performance.now() - started;
        this.resumeAt = performance.now() + (took * (1 - this.busyShare)) / this.busyShare;
        this.running.delete(task);
        this.pump();
      });
      this.running.add(task);
    }
    if (ids.length === 0 && this.running.size === 0) await this.scheduleRetry();
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

  private async work(id: string): Promise<void> {
    let entry: SpoolEntry | null = null;
    try {
      entry = await this.spool.get(id);
      if (!entry) {
        this.inFlight.delete(id);
        return;
      }
      await this.deliver(entry);
      this.options.onDelivered?.(entry);
      this.delivered.push(id);
      this.scheduleRemoval();
    } catch (e) {
      const failures = (entry?.attempts ?? 0) + 1;
      const retryAt =
        failures >= this.maxAttempts ? null : new Date(this.clock().getTime() + this.retryDelay(failures));
      const err = e as Error & { code?: string };
      const reason = `${err.code ?? err.name}: ${err.message}`;
      this.options.logger.warn(
        { spoolId: id, failures, retryAt: retryAt?.toISOString() ?? null, error: err.message, errorCode: err.code },
        retryAt
          ? 'inbound spool: delivery failed, will retry'
          : 'inbound spool: delivery failed for good, entry kept as dead',
      );
      try {
        await this.spool.defer(id, reason, retryAt);
      } finally {
        this.inFlight.delete(id);
      }
    }
  }

  private async deliver(entry: SpoolEntry): Promise<void> {
    const { domain } = this.options;
    const chain = receivedChain(entry.raw, domain);
    const authentication = await this.authenticate(entry);
    const facts: MessageFacts = {
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
    };
    for (const recipient of entry.recipients) {
      try {
        await this.options.ingest.ingest({
          accountId: recipient.accountId,
          raw: entry.raw,
          direction: 'inbound',
          receivedAt: entry.receivedAt,
          facts,
        });
      } catch (e) {
        // The account was deleted since RCPT TO accepted it: there is no mailbox left to deliver to.
        if (!(isAppError(e) && e.code === 'not_found')) throw e;
        this.options.logger.warn(
          { spoolId: entry.id, accountId: recipient.accountId },
          'inbound spool: recipient account no longer exists, copy dropped',
        );
      }
    }
  }

  private async authenticate(entry: SpoolEntry): Promise<AuthenticationFacts | null> {
    const timeoutMs = this.options.authenticationTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        verifyAuthentication(entry.raw, {
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
    while (this.running.size) await Promise.allSettled([...this.running]);
    while (this.removal) await this.removal;
  }
}
