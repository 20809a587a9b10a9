import type { SubmissionTls } from './send-as.entity.ts';

/** Where and how to sign in to a provider's submission server. Holds the password in clear: never log it, never store it. */
export interface SmtpRelayEndpoint {
  host: string;
  port: number;
  tls: SubmissionTls;
  username: string;
  password: string;
}

/**
 * Port: SMTP submission to another provider with its credentials (adapter: imports/smtp-relay.nodemailer.ts, which
 * checks the host like IMAP imports do). Failures are AppErrors with a send_as_* code.
 */
export interface SmtpRelay {
  /** Connects, signs in and leaves: resolves when the credentials work. */
  verify(endpoint: SmtpRelayEndpoint): Promise<void>;
  /** Submits one message; resolves once the provider accepted it (250). */
  send(endpoint: SmtpRelayEndpoint, envelope: { from: string; to: string[] }, raw: Buffer): Promise<void>;
}
