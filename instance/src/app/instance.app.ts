import type { Logger } from 'pino';
import type { InstanceConfig } from '../config/config.schema.ts';
import { startInboundMail, type InboundMail, type InboundMailOptions } from '../email/smtp-inbound.service.ts';
import { startSubmission, type Submission } from '../email/smtp-submission.service.ts';
import { buildHttpServer, type HttpServer } from './http.app.ts';
import { startPublicFace } from '../http/public.face.ts';
import { createDiscovery, startInstanceDns } from '../discovery/discovery.service.ts';
import type { DnsResponder } from '../discovery/dns.responder.ts';
import type { PublishedKeySource } from '../discovery/published-keys.port.ts';
import { AccountKeyPublishedSource } from '../keys/account-key.published.ts';
import { startFederation } from './federation.wiring.ts';
import type { DirectorySource } from '../federation/directory.routes.ts';
import type { Worker } from '@caliopen/platform/queue/job-queue.port.ts';
import { createLogger } from './logger.ts';
import { installUint8ArrayBase64 } from '@caliopen/platform/runtime/uint8array-base64.polyfill.ts';
import { declareRenewedCertificate } from '../registry-client/registry-application.ts';
import { ConfigError } from '../config/config.loader.ts';
import { PI_MODEL_VERSION } from '../pi-model/pi.tally.ts';
import {
  buildServices,
  startEmailCoreWorkers,
  type InstanceServices,
  type ServiceOptions,
} from './instance.services.ts';

export interface RunningInstance {
  services: InstanceServices;
  http: HttpServer;
  /** Base URL the API listens on. */
  url: string;
  logger: Logger;
  /** Base URL of the public HTTPS face (descriptor, registry challenges), null when `https.enabled` is false. */
  publicUrl: string | null;
  /** Inbound SMTP (null when `smtp.enabled` is false). */
  smtp: InboundMail | null;
  /** SMTP submission for mail apps (null when `submission.enabled` is false). */
  submission: Submission | null;
  /** The authoritative DNS responder (null when `dns.enabled` is false). */
  dns: DnsResponder | null;
  stop(): Promise<void>;
}

const MAINTENANCE_QUEUE = 'maintenance';
const HOUR = 3600_000;

/**
 * Starts an instance: engines, HTTP API, background workers. `stop()` closes them in the reverse order, letting
 * running requests and jobs finish.
 */
export async function startInstance(
  config: InstanceConfig,
  options: ServiceOptions & { logger?: Logger; smtp?: InboundMailOptions; publishedKeys?: PublishedKeySource } = {},
): Promise<RunningInstance> {
  // Native base64 for jose's JWS and JWE (every federation delivery, label and feed) where Node lacks it.
  installUint8ArrayBase64();
  const logger = options.logger ?? createLogger(config.log.level);
  const services = await buildServices(config, { ...options, logger });
  const http = await buildHttpServer(services, logger);
  const workers: Worker[] = [];
  // What has started so far, closed newest first when a later part cannot start (a port taken or privileged), so that
  // the process exits instead of running without serving.
  const started: (() => Promise<unknown>)[] = [
    () => services.close(),
    () => Promise.all(workers.map((w) => w.close())),
    () => http.app.close(),
  ];
  const failedToStart = async (e: unknown, listener?: Listener): Promise<never> => {
    for (const close of started.reverse()) await close().catch(() => undefined);
    throw listener ? listenerError(e, listener) : e;
  };

  // Hourly housekeeping through the queue: one job per hour slot (the jobId makes restarts idempotent).
  const scheduleMaintenance = async () => {
    const slot = Math.floor(services.clock().getTime() / HOUR) + 1;
    await services.queue.enqueue(
      MAINTENANCE_QUEUE,
      'purge-expired-sessions',
      { slot },
      { jobId: `purge-sessions-${slot}`, delayMs: slot * HOUR - services.clock().getTime() },
    );
  };
  workers.push(
    services.queue.process<{ slot: number }>(MAINTENANCE_QUEUE, async () => {
      const purged = await services.storage.sessions.purgeExpired(services.clock());
      logger.info({ purged }, 'expired sessions purged');
      await scheduleMaintenance();
    }),
  );
  await scheduleMaintenance();

  // Outbound mail: the DKIM key is checked (and created for an instance initialised before DKIM) before the first
  // message is signed, then the 'smtp-out' delivery worker starts.
  await services.outbound
    .dkimKey()
    .catch((err: unknown) => logger.error({ err }, 'no DKIM key: outgoing mail cannot be signed'));
  workers.push(services.outbound.startWorker(logger));

  // Search indexing and the purge of soft-deleted mail.
  workers.push(...startEmailCoreWorkers(services));
  // PIs stored by an older model (or never computed) are recomputed in bulk, in the background.
  const upgrades = await services.privacy.scheduleModelUpgrade();
  if (upgrades > 0)
    logger.info({ accounts: upgrades, modelVersion: PI_MODEL_VERSION }, 'privacy index recomputation queued');

  // IMAP imports and the scheduled re-sync of every remote identity.
  workers.push(services.imports.startWorker(config.imports.concurrency));
  // Linked XMPP accounts: a session each, filing their chat through the same ingest.
  workers.push(services.xmpp.startSessions());

  // Inbound SMTP: 250 once the message is in <dataDir>/spool.db; the spool worker delivers it through ingest.
  // When it cannot start (port taken or privileged), what is already running is closed so that the process can exit.
  let smtp: InboundMail | null = null;
  if (config.smtp.enabled) {
    const mail = await startInboundMail(services, services.ingest, logger, options.smtp).catch((e: unknown) =>
      failedToStart(e, { setting: 'smtp.port', variable: 'CALIOPEN_SMTP_PORT', port: config.smtp.port }),
    );
    started.push(() => mail.stop());
    smtp = mail;
  }

  // Submission for mail apps (587 STARTTLS, 465 implicit TLS): AUTH, then the compose path.
  let submission: Submission | null = null;
  if (config.submission.enabled) {
    const sub = await startSubmission(
      {
        config,
        storage: services.storage,
        identity: services.identity,
        compose: services.outbound.compose,
        authenticate: (username, password, ip) => services.mailClientAuth.authenticate(username, password, ip),
      },
      logger,
    ).catch((e: unknown) =>
      failedToStart(e, {
        setting: 'submission.port',
        variable: 'CALIOPEN_SUBMISSION_PORT',
        port: config.submission.port,
      }),
    );
    started.push(() => sub.stop());
    submission = sub;
  }

  // Users' keys are published by WKD (public face) and DNS (RFC 7929), from one key source and username directory:
  // the active keys of enabled accounts (a test may hand its own source).
  const publishedKeys =
    options.publishedKeys ??
    new AccountKeyPublishedSource({
      accounts: services.storage.accounts,
      keys: services.storage.accountKeys,
      domain: config.domain,
      clock: services.clock,
    });
  const discovery = createDiscovery(services.storage.accounts, publishedKeys, logger);
  const identity = await services.identity();

  // The federation's running parts (prekeys, replay store, the 'federation-out' worker), whether or not the public
  // face is enabled: sending to labelled peers needs no listener here; the public face serves what peers ask of us.
  const federation = startFederation({
    config,
    identity,
    peers: () => services.federation ?? null,
    clock: services.clock,
    box: services.box,
    storage: services.storage,
    queue: services.queue,
    ingest: services.ingest,
    blobs: services.blobs,
    events: services.events,
    directory: federatedDirectory(services),
    logger,
  });
  started.push(() => federation.stop());
  const publicFace = config.https.enabled
    ? await startPublicFace(
        config,
        { identity, clock: services.clock, federation: federation.inbox, discovery },
        logger,
      ).catch((e: unknown) =>
        failedToStart(e, { setting: 'https.port', variable: 'CALIOPEN_HTTPS_PORT', port: config.https.port }),
      )
    : null;
  if (publicFace) started.push(() => publicFace.stop());

  // The authoritative DNS responder for the instance's zone (dns.enabled). When it cannot start (port taken or
  // privileged), what is already running is closed so that the process can exit.
  let dns: DnsResponder | null = null;
  if (config.dns.enabled) {
    const responder = await startInstanceDns(config, identity, discovery, logger).catch((e: unknown) =>
      failedToStart(e, { setting: 'dns.port', variable: 'CALIOPEN_DNS_PORT', port: config.dns.port }),
    );
    started.push(() => responder.stop());
    dns = responder;
  }

  // The peer directory (federation.registryUrl): the registry's signed feed, synced now and every
  // federation.syncSeconds, verified against the pinned keys and the last checkpoint; never asked per message.
  if (services.federation) {
    // Every feed's entry for this instance must list its own keys and certificate (SPEC.md §3).
    services.federation.expectOwn({
      signingX: identity.signing.publicJwk.x ?? '',
      encryptionX: identity.encryption.publicJwk.x ?? '',
      certFingerprint: identity.tls.fingerprintSha256,
    });
    services.federation.start();
  }

  // A renewed certificate is presented at once by the HTTPS face and SMTP's STARTTLS (no restart), and the feed's entry for this instance
  // is expected with its new digest (the registry updates it on re-verification, docs/ops/acme.md).
  const unsubscribeRenewed = services.events.subscribe('certificate.renewed', ({ fingerprintSha256 }) => {
    publicFace?.reloadCertificate();
    smtp?.reloadCertificate();
    services.federation?.expectOwn({
      signingX: identity.signing.publicJwk.x ?? '',
      encryptionX: identity.encryption.publicJwk.x ?? '',
      certFingerprint: fingerprintSha256,
    });
    // The registry this instance applied to gets the new certificate (now presented) and checks it again.
    declareRenewedCertificate(config.dataDir, services.box, identity.tls.certPem)
      .then((told) => {
        if (told) logger.info({ fingerprint: fingerprintSha256 }, 'renewed certificate declared to the registry');
      })
      .catch((err: unknown) =>
        logger.error({ err }, 'the registry did not take the renewed certificate: re-apply (docs/ops/acme.md)'),
      );
  });
  started.push(async () => unsubscribeRenewed());

  const address = await http.app
    .listen({ host: config.http.host, port: config.http.port })
    .catch((e: unknown) =>
      failedToStart(e, { setting: 'http.port', variable: 'CALIOPEN_HTTP_PORT', port: config.http.port }),
    );
  // The ACME CA checks the HTTP-01 answer on the HTTP port: checked (and ordered when due) once it listens.
  services.certificates?.start();
  logger.info(
    {
      address,
      domain: config.domain,
      storage: services.storage.engine,
      queue: services.queue.engine,
      search: services.search.engine,
    },
    'instance started',
  );

  let stopping: Promise<void> | null = null;
  return {
    services,
    http,
    url: address,
    logger,
    smtp,
    submission,
    dns,
    publicUrl: publicFace?.url ?? null,
    stop() {
      stopping ??= (async () => {
        unsubscribeRenewed();
        await services.certificates?.stop();
        await dns?.stop();
        await publicFace?.stop();
        await smtp?.stop();
        await submission?.stop();
        await http.app.close();
        await federation.stop();
        await Promise.all(workers.map((w) => w.close()));
        await services.federation?.stop();
        await services.close();
        logger.info('instance stopped');
        logger.flush();
      })();
      return stopping;
    },
  };
}

interface Listener {
  setting: string;
  variable: string;
  port: number;
}

/**
 * A listener that cannot bind is the operator's to fix: said as a configuration error (the CLI exits 2) naming the
 * port, the setting and the variable that move it. Any other failure is passed on as it is.
 */
function listenerError(e: unknown, { setting, variable, port }: Listener): unknown {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (code === 'EADDRINUSE')
    return new ConfigError(
      `port ${port} (${setting}) is already in use by another program: stop it, or choose another port with ${variable}=<port> or ${setting} in the configuration file.`,
    );
  if (code === 'EACCES')
    return new ConfigError(
      `port ${port} (${setting}) is privileged and this process may not listen on it: choose a port above 1023 with ${variable}=<port> (and forward ${port} to it), or grant the capability (setcap cap_net_bind_service).`,
    );
  return e;
}

/** The key directory and trust sharing this instance answers labelled peers with (directory.routes.ts). */
function federatedDirectory(services: InstanceServices): DirectorySource {
  const enabledAccount = async (local: string) => {
    const account = await services.storage.accounts.getByUsername(local.toLowerCase());
    return account === null || account.disabled ? null : account;
  };
  return {
    async publicKeyOf(local) {
      const account = await enabledAccount(local);
      return account === null ? null : services.accountKeys.publicKey(account.id);
    },
    async sharedTrustOf(local) {
      const account = await enabledAccount(local);
      if (account === null || !(await services.trustSharing.sharesTrust(account.id))) return null;
      const pi = await services.privacy.accountPi(account.id);
      return { score: pi.score, level: pi.level, modelVersion: pi.modelVersion };
    },
    async recipientExists(local) {
      return (await enabledAccount(local)) !== null;
    },
  };
}

export type { InstanceConfig };
