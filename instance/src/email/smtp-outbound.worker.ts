import type { Logger } from 'pino';
import type { BlobStore } from '../blobs/blob-store.port.ts';
import type { MessageIngest } from '../messages/message-ingest.port.ts';
import type { JobQueue, Worker } from '@caliopen/platform/queue/job-queue.port.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import type { Storage } from '../database/storage.port.ts';
import { buildBounce } from './bounce.ts';
import { LOCAL_FACTS } from './compose.service.ts';
import { asMessageIdHeader } from './compose.mime.ts';
import { readSentCopy } from './sent-copy.ts';
import type { MxResolver } from './mx-resolver.ts';
import { deliverOverSmtp, type SmtpClientOptions } from './smtp-outbound.delivery.ts';
import {
  DeliveryFailure,
  deliveryEnqueueOptions,
  deliveryJobId,
  SMTP_OUT_QUEUE,
  type RetryPolicy,
  type DeliveryAttempt,
  type DeliveryJob,
  type DeliveryRoute,
  type OnDelivered,
  type RecipientResult,
} from './smtp-outbound.types.ts';

export interface DeliveryWorkerDeps {
  domain: string;
  clock: Clock;
  storage: Storage;
  queue: JobQueue;
  ingest: MessageIngest;
  blobs: BlobStore;
  resolver: MxResolver;
  tlsPolicy: 'opportunistic' | 'required';
  smarthost?: { requireTls: boolean; auth?: { user: string; pass: string } | undefined } | undefined;
  retry: RetryPolicy;
  timeouts?: SmtpClientOptions['timeouts'];
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** The SMTP client (injectable for tests of the retry logic). */
  deliver?: typeof deliverOverSmtp;
  /** Told what each successful delivery negotiated (recorded on the Sent copy for its PI). */
  onDelivered?: OnDelivered;
}

/** Attempts kept in a job's history (what travels from one attempt to the next). */
const HISTORY_KEPT = 20;

/**
 * The delivery worker (queue 'smtp-out'): one job per message, recipient domain and attempt. Each run reads the
 * stored Sent copy, removes its Bcc header, finds the route (MX, override, smarthost), and sends over SMTP. What
 * was negotiated (remote host, TLS version and cipher or plaintext, per-recipient replies) is logged and carried
 * in the job's history. Recipients deferred (4xx, no connection, timeout, TLS refused by policy) get a follow-up
 * job `baseDelayMs * 2^(attempt-1)` later, up to `attempts`; those that failed (5xx), or were still deferred at the
 * last attempt, get a bounce in the sender's inbox (tag 'bounce'). A recipient accepted once is never sent again.
 */
export class DeliveryWorker {
  private readonly deliver: typeof deliverOverSmtp;

  constructor(private readonly deps: DeliveryWorkerDeps) {
    this.deliver = deps.deliver ?? deliverOverSmtp;
  }

  start(concurrency: number): Worker {
    return this.deps.queue.process<DeliveryJob>(SMTP_OUT_QUEUE, (job) => this.handle(job.payload), { concurrency });
  }

  async handle(job: DeliveryJob): Promise<void> {
    const { deps } = this;
    const log = { messageId: job.messageId, domain: job.domain, attempt: job.attempt };
    const copy = await readSentCopy(deps, job.accountId, job.messageId);
    if (copy === null) {
      deps.logger.warn(log, 'outbound message no longer stored (deleted by its sender?): delivery dropped');
      return;
    }
    const { message, transmitted } = copy;

    let attempt: DeliveryAttempt;
    let route: DeliveryRoute | null = null;
    try {
      route = await deps.resolver.route(job.domain);
    } catch (err) {
      if (!(err instanceof DeliveryFailure)) throw err;
      attempt = {
        at: deps.clock().toISOString(),
        remoteMta: null,
        tls: null,
        recipients: job.recipients.map((address) => ({
          address,
          outcome: err.permanent ? 'failed' : 'deferred',
          status: err.status,
          diagnostic: err.message,
          smtpReply: null,
        })),
      };
    }
    if (route) {
      const requireTls =
        deps.tlsPolicy === 'required' || (route.kind === 'smarthost' && deps.smarthost?.requireTls !== false);
      attempt = await this.deliver(route, { from: job.from, to: job.recipients }, transmitted, {
        heloName: deps.domain,
        requireTls,
        auth: route.kind === 'smarthost' ? deps.smarthost?.auth : undefined,
        ...(deps.timeouts ? { timeouts: deps.timeouts } : {}),
      });
    }
    attempt = attempt!;

    const count = (o: RecipientResult['outcome']) => attempt.recipients.filter((r) => r.outcome === o).length;
    deps.logger.info(
      {
        ...log,
        route: route?.kind ?? null,
        remoteMta: attempt.remoteMta,
        tls: attempt.tls,
        delivered: count('delivered'),
        deferred: count('deferred'),
        failed: count('failed'),
      },
      'delivery attempt',
    );

    if (count('delivered') > 0 && deps.onDelivered) {
      const tls = attempt.tls ? { version: attempt.tls.version, cipher: attempt.tls.cipher } : null;
      await deps
        .onDelivered(job.accountId, job.messageId, {
          domain: job.domain,
          via: 'smtp',
          tls,
          peer: attempt.remoteMta,
          at: attempt.at,
        })
        .catch((err: unknown) => {
          deps.logger.warn({ ...log, err }, 'could not record the delivery on the Sent copy');
        });
    }

    const last = job.attempt >= deps.retry.attempts;
    const deferred = attempt.recipients.filter((r) => r.outcome === 'deferred');
    const failed: (RecipientResult & { remoteMta: string | null })[] = attempt.recipients
      .filter((r) => r.outcome === 'failed')
      .map((r) => ({ ...r, remoteMta: attempt.remoteMta }));

    if (deferred.length > 0 && !last) {
      const next: DeliveryJob = {
        ...job,
        recipients: deferred.map((r) => r.address),
        attempt: job.attempt + 1,
        history: [...job.history, attempt].slice(-HISTORY_KEPT),
      };
      await deps.queue.enqueue(
        SMTP_OUT_QUEUE,
        'deliver',
        next,
        deliveryEnqueueOptions(deliveryJobId(job.messageId, job.domain, next.attempt), deps.retry, job.attempt),
      );
    } else if (deferred.length > 0) {
      for (const r of deferred) {
        failed.push({
          ...r,
          outcome: 'failed',
          diagnostic: `gave up after ${job.attempt} attempts; last: ${r.diagnostic}`,
          remoteMta: attempt.remoteMta,
        });
      }
    }

    if (failed.length > 0) {
      const bounce = buildBounce({
        domain: deps.domain,
        to: job.from,
        original: transmitted,
        originalMessageId: asMessageIdHeader(message.externalId),
        originalSubject: message.subject,
        arrivalDate: new Date(job.queuedAt),
        now: deps.clock(),
        failed,
        attempts: job.attempt,
      });
      await deps.ingest.ingest({
        accountId: job.accountId,
        raw: bounce,
        direction: 'inbound',
        receivedAt: deps.clock(),
        facts: LOCAL_FACTS,
        tags: ['bounce'],
        read: false,
      });
      deps.logger.info({ ...log, failed: failed.length }, 'bounce delivered to the sender');
    }
  }
}
