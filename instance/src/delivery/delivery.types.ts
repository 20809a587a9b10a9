import type { EnqueueOptions } from '@caliopen/platform/queue/job-queue.port.ts';

/**
 * Shapes of outbound delivery whatever the transport (SMTP or federation): per-recipient results, the record of an
 * attempt, the delivery job that travels between attempts, the retry policy and the queues.
 */

export type RecipientOutcome = 'delivered' | 'deferred' | 'failed';

export interface RecipientResult {
  address: string;
  outcome: RecipientOutcome;
  /** RFC 3463 enhanced status, e.g. 2.0.0, 4.4.1, 5.1.1. */
  status: string;
  /** What happened, for people: one line, ASCII. */
  diagnostic: string;
  /** The remote server's reply when the outcome came from one (for the DSN's Diagnostic-Code), one line, ASCII. */
  smtpReply: string | null;
}

/** What one attempt on one domain found out. */
export interface DeliveryAttempt {
  at: string;
  /** host:port that answered (null when none could be reached). */
  remoteMta: string | null;
  /** TLS negotiated on that connection; null = plaintext (or no connection). */
  tls: { version: string; cipher: string; certificateVerified: boolean } | null;
  recipients: RecipientResult[];
}

/** The delivery fact is a mail primitive (mail/delivery.fact.ts): the PI models below the domains read it. */
export type { DeliveryFact, DeliveryFederationFact } from '../mail/delivery.fact.ts';

/** Queue 'smtp-out': one job per (message, recipient domain, attempt). */
export const SMTP_OUT_QUEUE = 'smtp-out';

/** How delivery retries are spaced (outbound.retry). */
export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  /** No retry waits longer (absent: no bound). */
  maxDelayMs?: number;
}

/**
 * The wait before attempt `attempt + 1`: `baseDelayMs × 2^(attempt-1)`, bounded by `maxDelayMs` — as MTAs bound
 * their backoff (Postfix: maximal_backoff_time), so a peer back after a long outage gets its mail within that bound.
 */
export function retryDelayMs(retry: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>, attempt: number): number {
  return Math.min(retry.maxDelayMs ?? Number.POSITIVE_INFINITY, retry.baseDelayMs * 2 ** Math.min(attempt - 1, 40));
}

/** The job id of a delivery attempt (queue 'smtp-out'): one job per message, recipient domain and attempt. */
export const deliveryJobId = (messageId: string, domain: string, attempt: number) =>
  `${messageId}.${domain}.${attempt}`;

/** Queue 'federation-out': one job per (message, recipient instance, attempt), like 'smtp-out'. */
export const FEDERATION_OUT_QUEUE = 'federation-out';

/** The job id of a federation delivery attempt (queue 'federation-out'). */
export const federationJobId = (messageId: string, domain: string, attempt: number) =>
  `fed.${messageId}.${domain}.${attempt}`;

/** The transports a Sent copy leaves by, each with its queue and job ids. */
export type TransportName = 'smtp' | 'federation';

export const DELIVERY_QUEUES: Record<
  TransportName,
  { queue: string; jobId: (messageId: string, domain: string, attempt: number) => string }
> = {
  smtp: { queue: SMTP_OUT_QUEUE, jobId: deliveryJobId },
  federation: { queue: FEDERATION_OUT_QUEUE, jobId: federationJobId },
};

/**
 * How a delivery attempt is queued (SMTP or federation): its own job id, and after a failed attempt the policy's
 * delay. Retries of delivery failures are new jobs; the queue's own attempts cover only a crash of the handler.
 */
export function deliveryEnqueueOptions(jobId: string, retry: RetryPolicy, afterAttempt?: number): EnqueueOptions {
  return {
    jobId,
    ...(afterAttempt !== undefined ? { delayMs: retryDelayMs(retry, afterAttempt) } : {}),
    attempts: 3,
    backoff: { type: 'exponential', baseDelayMs: retry.baseDelayMs },
  };
}

export interface DeliveryJob {
  /** The sender's account and its stored Sent copy (whose raw is what goes out). */
  accountId: string;
  messageId: string;
  /** Envelope sender (MAIL FROM). */
  from: string;
  domain: string;
  /** Recipients still to deliver in this attempt. */
  recipients: string[];
  /** 1 for the first try. */
  attempt: number;
  /** When the message was accepted for delivery (ISO). */
  queuedAt: string;
  /** What earlier attempts found (the delivery record travels with the job). */
  history: DeliveryAttempt[];
  /**
   * Federation jobs: when the federation closes before delivery (a label lapses), send by email instead of bouncing
   * — the sender's consent (compose `emailFallback`) or the instance's policy (`federation.emailFallback`).
   */
  emailFallback?: boolean;
}

/** A federation delivery job: the envelope ids travel with it so that a retry is recognised by the peer. */
export interface FederationJob extends DeliveryJob {
  /** Envelope id per recipient address, drawn on the first attempt and kept across retries (SPEC.md §9). */
  envelopeIds?: Record<string, string>;
}
