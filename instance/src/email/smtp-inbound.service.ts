import { join } from 'node:path';
import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import type { InstanceConfig } from '../config/config.schema.ts';
import type { InstanceIdentity } from '../identity/instance-identity.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import type { Storage } from '../database/storage.port.ts';
import type { MessageIngest } from '../messages/message-ingest.port.ts';
import type { InboundSpool } from './inbound-spool.port.ts';
import { SqliteInboundSpool, type SqliteSpoolOptions } from './inbound-spool.sqlite.ts';
import { InboundSpoolWorker, type SpoolWorkerOptions } from './inbound-spool.worker.ts';
import { systemDnsResolver, type Authenticator, type DnsResolver } from './smtp-inbound.authentication.ts';
import { createRecipientResolver } from './smtp-inbound.recipients.ts';
import { SmtpInboundServer } from './smtp-inbound.server.ts';
import { SmtpInboundThread } from './smtp-inbound.threaded.ts';
import type { SpamService } from '../spam/spam.service.ts';

/** Inbound mail of a running instance: the SMTP server, its spool and the worker that drains it. */
export interface InboundMail {
  /** Where the SMTP server listens. */
  host: string;
  port: number;
  spool: InboundSpool;
  worker: InboundSpoolWorker;
  /** Offers the identity's current certificate to the next STARTTLS (after a renewal), without a restart. */
  reloadCertificate(): void;
  stop(): Promise<void>;
}

export interface InboundMailOptions {
  /** Replaces the DNS used for SPF/DKIM/DMARC (tests: the remote domains' records). */
  resolver?: DnsResolver;
  spool?: SqliteSpoolOptions;
  /** false: the SMTP sessions stay on the main thread even on the embedded store (default: a thread of their own). */
  sessionsThread?: boolean;
  worker?: Pick<SpoolWorkerOptions, 'batchSize' | 'maxAttempts' | 'retryDelayMs' | 'authenticationTimeoutMs'>;
}

export type SmtpConfig = InstanceConfig['smtp'];

/**
 * Starts inbound mail: opens `<dataDir>/spool.db`, starts the worker (which first delivers what a previous run left),
 * then listens for SMTP. `stop()` closes in the reverse order: no new sessions, open ones finish, pending commits
 * land, in-flight deliveries finish.
 */
export async function startInboundMail(
  services: {
    config: Pick<InstanceConfig, 'domain' | 'dataDir' | 'smtp'>;
    storage: Pick<Storage, 'accounts' | 'engine'>;
    metrics: Metrics;
    clock: Clock;
    /** The instance identity: its TLS certificate is what STARTTLS presents. */
    identity: () => Promise<Pick<InstanceIdentity, 'tls'>>;
    /** The spam filter, when configured: each message is screened before it is spooled. */
    spam?: Pick<SpamService, 'screen'> | null;
    /** Verifies SPF/DKIM/DMARC (the instance's mail worker threads); verifyAuthentication on this thread by default. */
    mailWorkers?: { authenticate: Authenticator };
  },
  ingest: MessageIngest,
  logger: Logger,
  options: InboundMailOptions = {},
): Promise<InboundMail> {
  const { config } = services;
  const smtp = config.smtp;
  const log = logger.child({ component: 'smtp-in' });
  const identity = await services.identity();
  const registry = services.metrics.registry;

  const spool = SqliteInboundSpool.open(join(config.dataDir, 'spool.db'), options.spool);
  const accepted = new Counter({
    name: 'caliopen_smtp_in_accepted_total',
    help: 'Messages accepted (250 after the spool commit).',
    registers: [registry],
  });
  const acceptedBytes = new Counter({
    name: 'caliopen_smtp_in_accepted_bytes_total',
    help: 'Bytes of accepted messages.',
    registers: [registry],
  });
  const rejected = new Counter({
    name: 'caliopen_smtp_in_rejected_total',
    help: 'Refusals by reason (rcpt-550, rcpt-452, size, rate-limit, connections-per-ip, spam).',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'caliopen_smtp_in_spool_commits',
    help: 'Spool commits (fsyncs) since start, and messages they held: their ratio is the group-commit batch size.',
    labelNames: ['what'] as const,
    registers: [registry],
    collect() {
      this.set({ what: 'commits' }, spool.stats.commits);
      this.set({ what: 'messages' }, spool.stats.appended);
    },
  });
  const delivered = new Counter({
    name: 'caliopen_smtp_in_delivered_total',
    help: 'Spool entries delivered into mailboxes.',
    registers: [registry],
  });
  new Gauge({
    name: 'caliopen_smtp_in_spool_entries',
    help: 'Entries in the inbound spool by state (queued, dead).',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const c = await spool.counts();
      this.set({ state: 'queued' }, c.queued);
      this.set({ state: 'dead' }, c.dead);
    },
  });

  // Ingest lag: how long the oldest accepted message has waited for delivery into its mailboxes (0: none waits).
  new Gauge({
    name: 'caliopen_smtp_in_spool_oldest_age_seconds',
    help: 'Age of the oldest message in the inbound spool still waiting for delivery into mailboxes (ingest lag).',
    registers: [registry],
    async collect() {
      const oldest = await spool.oldestQueuedAt();
      this.set(oldest === null ? 0 : Math.max(0, (services.clock().getTime() - oldest.getTime()) / 1000));
    },
  });

  // On the embedded store the sessions run on a thread of their own, which reads the accounts through its own
  // connection to instance.db; on Cassandra they stay on this thread, with the storage's client.
  const sessionsThread = services.storage.engine === 'sqlite' && options.sessionsThread !== false;
  const worker = new InboundSpoolWorker({
    spool,
    ingest,
    // Sessions on their own thread: filing has this event loop to itself, but not the cores. During a burst it still
    // pauses a quarter of the time, so that the sessions' thread gets the CPU it needs to keep acceptance at twice
    // Postfix's delivery (P1): with no pause (1) filing gained ~7 % and acceptance lost ~25 %; with 0.5 filing lost ~15 %.
    ...(sessionsThread ? { busyShare: 0.75 } : {}),
    domain: config.domain,
    logger: log,
    // Verified on the mail worker threads (which ask smtp.dnsServers), unless the caller gives its own resolver (tests:
    // the remote domains' records), a function, which cannot cross to another thread.
    ...(services.mailWorkers && !options.resolver
      ? { authenticator: services.mailWorkers.authenticate }
      : { resolver: options.resolver ?? systemDnsResolver(smtp.dnsServers) }),
    clock: services.clock,
    onDelivered: () => delivered.inc(),
    ...options.worker,
  });
  worker.start();

  const serverOptions = {
    host: smtp.host,
    port: smtp.port,
    domain: config.domain,
    maxMessageBytes: smtp.maxMessageBytes,
    maxConnections: smtp.maxConnections,
    maxConnectionsPerIp: smtp.maxConnectionsPerIp,
    messagesPerMinutePerIp: smtp.messagesPerMinutePerIp,
    tls: { certPem: identity.tls.certPem, keyPem: identity.tls.keyPem },
  };
  const onRejected = (reason: string) => rejected.inc({ reason });
  const spam = services.spam ? { spam: services.spam } : {};
  const server = sessionsThread
    ? new SmtpInboundThread({
        server: serverOptions,
        instanceDb: join(config.dataDir, 'instance.db'),
        spool,
        ...(options.spool ? { spoolOptions: options.spool } : {}),
        logger: log,
        onAccepted: (count, bytes) => {
          accepted.inc(count);
          acceptedBytes.inc(bytes);
        },
        onRejected,
        ...spam,
      })
    : new SmtpInboundServer({
        ...serverOptions,
        spool,
        recipients: createRecipientResolver(services.storage.accounts, config.domain),
        logger: log,
        onAccepted: (bytes) => {
          accepted.inc();
          acceptedBytes.inc(bytes);
        },
        onRejected,
        ...spam,
      });
  let address;
  try {
    address = await server.listen();
  } catch (e) {
    await worker.close();
    await spool.close();
    throw new Error(
      `SMTP cannot listen on ${smtp.host}:${smtp.port}: ${(e as Error).message} (set smtp.port / CALIOPEN_SMTP_PORT)`,
    );
  }
  log.info({ host: address.address, port: address.port, starttls: true }, 'smtp listening');

  let stopping: Promise<void> | null = null;
  return {
    host: address.address,
    port: address.port,
    spool,
    worker,
    reloadCertificate() {
      server.reloadCertificate(identity.tls);
      log.info({ fingerprint: identity.tls.fingerprintSha256 }, 'smtp STARTTLS certificate reloaded');
    },
    stop() {
      stopping ??= (async () => {
        await server.close();
        await worker.close();
        await spool.close();
      })();
      return stopping;
    },
  };
}
