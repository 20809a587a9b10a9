/** Shapes of SMTP delivery: routes to a domain's MX hosts and failures that concern a whole attempt. */

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
