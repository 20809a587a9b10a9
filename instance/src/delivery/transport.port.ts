import type { Message } from '../mail/message.entity.ts';
import type { DeliveryFact, DeliveryJob, TransportName } from './delivery.types.ts';

/**
 * The port of outbound delivery: one attempt to hand a Sent copy to the recipients of one domain, by one protocol.
 * The delivery worker (delivery.worker.ts) owns everything around it — reading the Sent copy, recording the delivery
 * fact, retrying temporary refusals with the bounded backoff, giving up, bouncing — and a transport (transport.smtp.ts,
 * transport.federation.ts) only speaks its protocol and says, per recipient, what the peer answered.
 */
export interface Transport<J extends DeliveryJob = DeliveryJob> {
  /** Which transport this is: names its queue and job ids (DELIVERY_QUEUES) and the delivery fact's `via`. */
  readonly name: TransportName;
  /** One attempt for the job's recipients (all at `job.domain`). Throws only for what is a bug, never for a refusal. */
  attempt(job: J, copy: SentCopy): Promise<TransportResult<J>>;
}

/** The Sent copy as it leaves the instance: the stored message and its bytes without the Bcc header. */
export interface SentCopy {
  message: Pick<Message, 'externalId' | 'subject'>;
  transmitted: Buffer;
}

/**
 * What one attempt came to: `attempted` (each recipient's outcome), or `reroute` — the transport declines the job and
 * it becomes a fresh delivery by another transport (the federation closed before sending and the sender consented to
 * email: `emailFallback`).
 */
export type TransportResult<J extends DeliveryJob = DeliveryJob> =
  | { kind: 'attempted'; attempt: TransportAttempt<J> }
  | { kind: 'reroute'; to: TransportName; reason: string };

export interface TransportAttempt<J extends DeliveryJob = DeliveryJob> {
  /** When the attempt started (ISO). */
  at: string;
  /** host:port that answered (null when none could be reached). */
  remote: string | null;
  /** TLS negotiated with it; null = plaintext or no connection. */
  tls: { version: string; cipher: string; certificateVerified: boolean } | null;
  /** One outcome per recipient of the job, in its order. */
  recipients: RecipientOutcome[];
  /** What the delivery established, recorded on the Sent copy when at least one recipient was delivered. */
  fact: DeliveryFact | null;
  /** Transport state the next attempt's job carries (the federation's envelope ids), merged into it. */
  carry?: Partial<J>;
  /** Extra log fields of the attempt (ids and names only, never addresses or content), e.g. the SMTP route kind. */
  log?: Record<string, string | number | boolean | null>;
}

/** Common to the three outcomes: whom it concerns, in words for people and as the peer said it. */
interface OutcomeBase {
  address: string;
  /** RFC 3463 enhanced status, e.g. 2.0.0, 4.4.1, 5.1.1 (the bounce's Status). */
  status: string;
  /** What happened, for people: one line, ASCII (the bounce's explanation). */
  diagnostic: string;
  /** The remote server's reply when the outcome came from one (SMTP: the DSN's Diagnostic-Code), one line, ASCII. */
  reply: string | null;
  /** host:port that gave this outcome (null when none answered). */
  remote: string | null;
  /** The peer's own reason code when it gave one (federation: `recipient_unknown`, `rate_limited`...). */
  code?: string;
}

/** The peer took responsibility for the message (federation: with its signed receipt). */
export interface Delivered extends OutcomeBase {
  kind: 'delivered';
  receipt?: string;
}

/** Refused for now (4xx, no connection, timeout, TLS refused by policy, a retry asked): tried again later. */
export interface TemporaryRefusal extends OutcomeBase {
  kind: 'temporary';
}

/** Refused for good (5xx, `recipient_unknown`, oversize, the federation closed): bounced at once, never retried. */
export interface PermanentRefusal extends OutcomeBase {
  kind: 'permanent';
}

export type RecipientOutcome = Delivered | TemporaryRefusal | PermanentRefusal;
