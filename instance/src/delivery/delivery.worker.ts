import type { EventPublisher } from '../shared/event-bus.ts';
import type { DeliveryEvents } from './delivery.events.ts';
import type { Logger } from 'pino';
import type { BlobStore } from '../blobs/blob-store.port.ts';
import { buildBounce } from './bounce.ts';
import { asMessageIdHeader } from '../mail/compose.mime.ts';
import type { MessageIngest } from '../messages/message-ingest.port.ts';
import { LOCAL_FACTS } from '../mail/message.facts.ts';
import type { JobQueue, Worker } from '@caliopen/platform/queue/job-queue.port.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import type { Storage } from '../database/storage.port.ts';
import {
  DELIVERY_QUEUES,
  deliveryEnqueueOptions,
  type DeliveryAttempt,
  type DeliveryJob,
  type RecipientResult,
  type RetryPolicy,
} from './delivery.types.ts';
import { readSentCopy } from './sent-copy.ts';
import type { RecipientOutcome, SentCopy, Transport, TransportAttempt } from './transport.port.ts';

export interface DeliveryWorkerDeps {
  /** The instance domain (the bounce's Reporting-MTA and From). */
  domain: string;
  clock: Clock;
  storage: Pick<Storage, 'messages'>;
  queue: JobQueue;
  ingest: MessageIngest;
  blobs: BlobStore;
  /** outbound.retry: how many attempts, spaced how (bounded by maxDelayMs). */
  retry: RetryPolicy;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /**
   * Told `delivery.recorded` with what each successful delivery established (the PI records it on the Sent copy), and
   * `delivery.failed` with the recipients bounced (the user's notices).
   */
  events: EventPublisher<DeliveryEvents>;
}

/** Attempts kept in a job's history (what travels from one attempt to the next). */
const HISTORY_KEPT = 20;

/** The log line of each attempt and bounce, per transport (what operators, and tests, read). */
const LOG_PREFIX = { smtp: '', federation: 'federation ' } as const;

const RESULT_OF: Record<RecipientOutcome['kind'], RecipientResult['outcome']> = {
  delivered: 'delivered',
  temporary: 'deferred',
  permanent: 'failed',
};

type Failed = RecipientResult & { remoteMta: string | null };

/**
 * The one outbound delivery lifecycle, whatever the transport (queue 'smtp-out' or 'federation-out', one job per
 * message, recipient domain and attempt): read the stored Sent copy (dropped when its sender deleted it), let the
 * transport attempt it, log what was negotiated (no addresses, no content), record the delivery fact on the Sent copy
 * when a recipient was delivered, queue the temporarily refused recipients again `baseDelayMs × 2^(attempt-1)` later
 * (bounded by `maxDelayMs`) up to `attempts`, and bounce to the sender's inbox (tag 'bounce') every recipient refused
 * for good — at once, never retried — or still refused at the last attempt. A recipient delivered once is never sent
 * again: the next job carries only the refused ones.
 */
export class DeliveryWorker<J extends DeliveryJob = DeliveryJob> {
  constructor(
    private readonly transport: Transport<J>,
    private readonly deps: DeliveryWorkerDeps,
  ) {}

  /** Starts consuming the transport's queue. */
  start(concurrency: number): Worker {
    return this.deps.queue.process<J>(DELIVERY_QUEUES[this.transport.name].queue, (job) => this.handle(job.payload), {
      concurrency,
    });
  }

  async handle(job: J): Promise<void> {
    const { deps, transport } = this;
    const log = { messageId: job.messageId, domain: job.domain, attempt: job.attempt };
    const prefix = LOG_PREFIX[transport.name];
    const copy = await readSentCopy(deps, job.accountId, job.messageId);
    if (copy === null) {
      deps.logger.warn(log, `outbound message no longer stored (deleted by its sender?): ${prefix}delivery dropped`);
      return;
    }

    const result = await transport.attempt(job, copy);
    if (result.kind === 'reroute') {
      // A fresh delivery by the other transport (its own attempts and backoff), the same Sent copy and recipients.
      deps.logger.info({ ...log, recipients: job.recipients.length, to: result.to }, result.reason);
      const fresh: DeliveryJob = {
        accountId: job.accountId,
        messageId: job.messageId,
        from: job.from,
        domain: job.domain,
        recipients: job.recipients,
        attempt: 1,
        queuedAt: job.queuedAt,
        history: [],
      };
      const to = DELIVERY_QUEUES[result.to];
      await deps.queue.enqueue(
        to.queue,
        'deliver',
        fresh,
        deliveryEnqueueOptions(to.jobId(job.messageId, job.domain, 1), deps.retry),
      );
      return;
    }
    const { attempt } = result;
    const count = (kind: RecipientOutcome['kind']) => attempt.recipients.filter((r) => r.kind === kind).length;
    deps.logger.info(
      {
        ...log,
        ...attempt.log,
        remoteMta: attempt.remote,
        tls: attempt.tls,
        delivered: count('delivered'),
        deferred: count('temporary'),
        failed: count('permanent'),
      },
      `${prefix}delivery attempt`,
    );

    if (count('delivered') > 0 && attempt.fact !== null) {
      await deps.events.publish('delivery.recorded', {
        accountId: job.accountId,
        messageId: job.messageId,
        fact: attempt.fact,
      });
    }

    const last = job.attempt >= deps.retry.attempts;
    const temporary = attempt.recipients.filter((r) => r.kind === 'temporary');
    const failed: Failed[] = attempt.recipients.filter((r) => r.kind === 'permanent').map(toFailed);

    if (temporary.length > 0 && !last) {
      const next: J = {
        ...job,
        ...attempt.carry,
        recipients: temporary.map((r) => r.address),
        attempt: job.attempt + 1,
        history: [...job.history, historyRecord(attempt)].slice(-HISTORY_KEPT),
      };
      const queue = DELIVERY_QUEUES[transport.name];
      await deps.queue.enqueue(
        queue.queue,
        'deliver',
        next,
        deliveryEnqueueOptions(queue.jobId(job.messageId, job.domain, next.attempt), deps.retry, job.attempt),
      );
    } else {
      for (const r of temporary) {
        failed.push({
          ...toFailed(r),
          outcome: 'failed',
          diagnostic: `gave up after ${job.attempt} attempts; last: ${r.diagnostic}`,
        });
      }
    }

    if (failed.length > 0) await this.bounce(job, copy, failed);
  }

  /** The sender gets a delivery status notification (RFC 3464) in the inbox, tagged 'bounce'. */
  private async bounce(job: J, copy: SentCopy, failed: Failed[]): Promise<void> {
    const { deps } = this;
    const bounce = buildBounce({
      domain: deps.domain,
      to: job.from,
      original: copy.transmitted,
      originalMessageId: asMessageIdHeader(copy.message.externalId),
      originalSubject: copy.message.subject,
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
    await deps.events.publish('delivery.failed', {
      accountId: job.accountId,
      messageId: job.messageId,
      at: deps.clock(),
      recipients: failed.map((f) => ({
        address: f.address,
        status: f.status,
        diagnostic: f.diagnostic,
        remoteMta: f.remoteMta,
      })),
    });
    deps.logger.info(
      { messageId: job.messageId, domain: job.domain, attempt: job.attempt, failed: failed.length },
      `${LOG_PREFIX[this.transport.name]}bounce delivered to the sender`,
    );
  }
}

function toResult(r: RecipientOutcome): RecipientResult {
  return {
    address: r.address,
    outcome: RESULT_OF[r.kind],
    status: r.status,
    diagnostic: r.diagnostic,
    smtpReply: r.reply,
  };
}

function toFailed(r: RecipientOutcome): Failed {
  return { ...toResult(r), remoteMta: r.remote };
}

/** What the job's history keeps of an attempt (the delivery record that travels with the job). */
function historyRecord<J extends DeliveryJob>(attempt: TransportAttempt<J>): DeliveryAttempt {
  return { at: attempt.at, remoteMta: attempt.remote, tls: attempt.tls, recipients: attempt.recipients.map(toResult) };
}
