import type { MxResolver } from './mx-resolver.ts';
import { deliverOverSmtp, type SmtpClientOptions } from './smtp-outbound.delivery.ts';
import { DeliveryFailure, type DeliveryRoute } from './smtp-outbound.types.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import { signWithDkim, type DkimKey } from '../identity/dkim-key.ts';
import type { DeliveryAttempt, DeliveryJob } from './delivery.types.ts';
import type { RecipientOutcome, SentCopy, Transport, TransportResult } from './transport.port.ts';

export interface SmtpTransportDeps {
  /** The instance domain (our EHLO name). */
  domain: string;
  clock: Clock;
  resolver: MxResolver;
  tlsPolicy: 'opportunistic' | 'required';
  smarthost?: { requireTls: boolean; auth?: { user: string; pass: string } | undefined } | undefined;
  timeouts?: SmtpClientOptions['timeouts'];
  /**
   * The instance's DKIM key: each message is signed as it leaves by SMTP, at every attempt (ADR 0030), so a message
   * retried for days carries a fresh signature by the key in force. Null: sent unsigned (tests of the transport alone).
   */
  dkim: (() => Promise<DkimKey>) | null;
  /** The SMTP client (injectable for tests of the worker). */
  deliver?: typeof deliverOverSmtp;
}

const KIND_OF = { delivered: 'delivered', deferred: 'temporary', failed: 'permanent' } as const;

/**
 * SMTP as a delivery transport: finds the route (MX, override, smarthost), sends the Sent copy in one transaction for
 * the domain's recipients and says what each RCPT and the DATA got. 2xx delivered; 4xx, no connection, timeouts and
 * TLS refused by policy are temporary; 5xx (and a domain that cannot receive mail) permanent.
 */
export class SmtpTransport implements Transport<DeliveryJob> {
  readonly name = 'smtp' as const;
  private readonly deliver: typeof deliverOverSmtp;

  constructor(private readonly deps: SmtpTransportDeps) {
    this.deliver = deps.deliver ?? deliverOverSmtp;
  }

  async attempt(job: DeliveryJob, copy: SentCopy): Promise<TransportResult<DeliveryJob>> {
    const { deps } = this;
    let route: DeliveryRoute | null = null;
    let attempt: DeliveryAttempt;
    try {
      route = await deps.resolver.route(job.domain);
      const requireTls =
        deps.tlsPolicy === 'required' || (route.kind === 'smarthost' && deps.smarthost?.requireTls !== false);
      const raw = deps.dkim ? await signWithDkim(copy.transmitted, await deps.dkim(), deps.clock()) : copy.transmitted;
      attempt = await this.deliver(route, { from: job.from, to: job.recipients }, raw, {
        heloName: deps.domain,
        requireTls,
        auth: route.kind === 'smarthost' ? deps.smarthost?.auth : undefined,
        ...(deps.timeouts ? { timeouts: deps.timeouts } : {}),
      });
    } catch (err) {
      if (route !== null || !(err instanceof DeliveryFailure)) throw err;
      // No route: every recipient of the domain shares the verdict.
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
    const recipients: RecipientOutcome[] = attempt.recipients.map((r) => ({
      kind: KIND_OF[r.outcome],
      address: r.address,
      status: r.status,
      diagnostic: r.diagnostic,
      reply: r.smtpReply,
      remote: attempt.remoteMta,
    }));
    return {
      kind: 'attempted',
      attempt: {
        at: attempt.at,
        remote: attempt.remoteMta,
        tls: attempt.tls,
        recipients,
        fact: {
          domain: job.domain,
          via: 'smtp',
          tls: attempt.tls ? { version: attempt.tls.version, cipher: attempt.tls.cipher } : null,
          peer: attempt.remoteMta,
          at: attempt.at,
        },
        log: { route: route?.kind ?? null },
      },
    };
  }
}
