import type { DeliveryFact } from '../mail/delivery.fact.ts';
import type { EnqueueOptions } from '@caliopen/platform/queue/job-queue.port.ts';

/** Shapes shared by the outbound path: routes, per-recipient outcomes, the delivery job and its record. */

/** One host to try for a domain, lowest preference first. */
export interface MxHost {
  host: string;
  port: number;
  preference: number;
}

export interface DeliveryRoute {
  /** How the hosts were found: MX records, the domain itself (no MX, RFC 5321 §5.1), configuration. */
  kind: 'mx' | 'implicit-mx' | 'override' | 'smarthost';
  hosts: MxHost[];
}

/**
 * A failure that concerns every recipient of an attempt (no route, no connection, TLS refused...): `permanent`
 * decides between a bounce now and a retry later. `status` is the RFC 3463 enhanced code (e.g. 4.4.1, 5.1.2).
 */
export class DeliveryFailure extends Error {
  readonly permanent: boolean;
  readonly status: string;
  /** The remote reply behind the failure, when a server gave one. */
  readonly smtpReply: string | null;
  constructor(permanent: boolean, status: string, message: string, smtpReply: string | null = null) {
    super(message);
    this.name = 'DeliveryFailure';
    this.permanent = permanent;
    this.status = status;
    this.smtpReply = smtpReply;
  }
}

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

/** Told when recipients of a Sent copy were accepted (the PI engine records it). Must not throw for the caller. */
export type OnDelivered = (accountId: string, messageId: string, fact: DeliveryFact) => Promise<void>;

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
