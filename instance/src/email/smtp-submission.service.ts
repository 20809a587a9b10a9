import type { Logger } from 'pino';
import type { Account } from '../accounts/account.entity.ts';
import type { InstanceConfig } from '../config/config.schema.ts';
import type { Storage } from '../database/storage.port.ts';
import type { InstanceIdentity } from '../identity/instance-identity.ts';
import type { ComposeService } from './compose.service.ts';
import { SmtpSubmissionServer, type SubmissionAuthResult } from './smtp-submission.server.ts';

/** Submission of a running instance: the STARTTLS and implicit-TLS listeners. */
export interface Submission {
  host: string;
  /** STARTTLS port. */
  port: number;
  /** Implicit TLS port. */
  tlsPort: number;
  stop(): Promise<void>;
}

/**
 * Starts SMTP submission (`submission.enabled`): both listeners with the instance certificate, signing in through
 * `authenticate` (MailClientAuth), sending through `compose.submit`.
 */
export async function startSubmission(
  services: {
    config: Pick<InstanceConfig, 'domain' | 'submission' | 'outbound'>;
    storage: Pick<Storage, 'accounts'>;
    identity: () => Promise<Pick<InstanceIdentity, 'tls'>>;
    compose: Pick<ComposeService, 'submit' | 'sendsAs'>;
    authenticate(username: string, password: string, ip: string): Promise<SubmissionAuthResult>;
  },
  logger: Logger,
): Promise<Submission> {
  const { config } = services;
  const s = config.submission;
  const log = logger.child({ component: 'submission' });
  const identity = await services.identity();
  const server = new SmtpSubmissionServer({
    host: s.host,
    port: s.port,
    tlsPort: s.tlsPort,
    domain: config.domain,
    maxMessageBytes: s.maxMessageBytes,
    maxRecipients: config.outbound.maxRecipients,
    maxConnectionsPerIp: s.maxConnectionsPerIp,
    messagesPerHourPerAccount: s.messagesPerHourPerAccount,
    tls: { certPem: identity.tls.certPem, keyPem: identity.tls.keyPem },
    logger: log,
    authenticate: (username, password, ip) => services.authenticate(username, password, ip),
    ownsAddress: (account: Account, address: string) => services.compose.sendsAs(account, address),
    localRecipientExists: async (local) => {
      const account = await services.storage.accounts.getByUsername(local);
      return account !== null && !account.disabled;
    },
    submit: (account, message) => services.compose.submit(account, message),
  });
  let ports;
  try {
    ports = await server.listen();
  } catch (e) {
    await server.close();
    throw Object.assign(
      new Error(
        `SMTP submission cannot listen on ${s.host}:${s.port} / ${s.tlsPort}: ${(e as Error).message} (set submission.port / CALIOPEN_SUBMISSION_PORT, submission.tlsPort / CALIOPEN_SUBMISSION_TLS_PORT)`,
      ),
      { code: (e as NodeJS.ErrnoException).code },
    );
  }
  log.info({ host: s.host, port: ports.port, tlsPort: ports.tlsPort }, 'submission listening');
  let stopping: Promise<void> | null = null;
  return {
    host: s.host,
    port: ports.port,
    tlsPort: ports.tlsPort,
    stop() {
      stopping ??= server.close();
      return stopping;
    },
  };
}
