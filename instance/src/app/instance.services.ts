import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { AccountService } from '../accounts/account.service.ts';
import type { BlobStore } from '../blobs/blob-store.port.ts';
import { PasswordHasher, type PasswordHasherOptions } from '@caliopen/platform/crypto/password.hasher.ts';
import { ConfigError } from '../config/config.loader.ts';
import type { InstanceConfig } from '../config/config.schema.ts';
import { FsBlobStore } from '../blobs/blob-store.fs.ts';
import { SqliteBlobStore } from '../blobs/blob-store.sqlite.ts';
import type { ContactService } from '../contacts/contact.service.ts';
import type { ConversationService } from '../conversations/conversation.service.ts';
import { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import { DeviceService } from '../devices/device.service.ts';
import { createOutboundMail, type OutboundMail } from '../email/smtp-outbound.service.ts';
import { RemoteIdentityService } from '../identities/remote-identity.service.ts';
import { ImapImportService } from '../imports/imap-import.service.ts';
import { XmppService } from '../xmpp/xmpp.service.ts';
import { XmppjsConnector } from '../xmpp/xmpp-session.xmppjs.ts';
import { xmppRouteProvider } from '../xmpp/xmpp.route-provider.ts';
import { ImapflowConnector } from '../imports/imap-session.imapflow.ts';
import { NodemailerSmtpRelay } from '../imports/smtp-relay.nodemailer.ts';
import { SendAsService } from '../identities/send-as.service.ts';
import { CorrespondentKeyService } from '../keys/public-key.service.ts';
import { KeyAlertService } from '../keys/key-alert.service.ts';
import type { AccountKeys } from '../keys/account-key.port.ts';
import { KeyDiscoveryService, type KeyDiscoveryOptions } from '../keys/key-discovery.service.ts';
import { RoutePreviewService } from '../routing/route-preview.service.ts';
import { AccountKeyService } from '../keys/account-key.service.ts';
import { ImapSync } from '../imports/imap-sync.ts';
import { loadMasterKey } from '@caliopen/platform/crypto/master-key.store.ts';
import { createMetrics, observeInstance, type Metrics } from '../metrics/metrics.ts';
import { AcmeChallengeBoard } from '../certificates/acme-challenge.board.ts';
import { CertificateRenewal, type CertificateEvents } from '../certificates/certificate-renewal.service.ts';
import { notifyOperators } from '../notices/operator-notice.ts';
import { DELIVERY_QUEUES } from '../delivery/delivery.types.ts';
import { buildEmailCore } from '../messages/email-core.ts';
import { defaultMailWorkerThreads, startMailWorkers, type MailWorkers } from './mail-workers.piscina.ts';
import type { LateDecryptionService } from '../messages/late-decryption.service.ts';
import { peerDirectoryFromConfig, rescoreAccountSummaries, type PeerDirectory } from '../federation/peer-directory.ts';
import { noticeDue, notifyStanding } from '../federation/standing.ts';
import { importLegacyFederationState } from '../federation/legacy-state.import.ts';
import type { TrustSharingRepository } from '../federation/trust-sharing.repository.ts';
import type { MessageIngestService } from '../messages/message-ingest.service.ts';
import type { MessageService } from '../messages/message.service.ts';
import type { JobQueue, Worker } from '@caliopen/platform/queue/job-queue.port.ts';
import type { SearchIndexer } from '../search/search.indexer.ts';
import { AccountExportService } from '../account-export/account-export.service.ts';
import {
  AccountDeletionService,
  DEFAULT_DELETION_GRACE_SECONDS,
} from '../account-deletion/account-deletion.service.ts';
import { rawPrefixOf } from '../messages/message-ingest.service.ts';
import { armorPublic } from '../keys/account-key.context.ts';
import type { SearchIndex } from '../search/search.port.ts';
import { AuthService } from '../sessions/auth.service.ts';
import { AppPasswordService } from '../app-passwords/app-password.service.ts';
import { MailClientAuth } from '../app-passwords/mail-client.auth.ts';
import { systemClock, type Clock } from '@caliopen/platform/clock/clock.port.ts';
import { EventBus } from '../shared/event-bus.ts';
import type { DeliveryEvents } from '../delivery/delivery.events.ts';
import type { FederationEvents } from '../federation/federation.events.ts';
import {
  composeFederation,
  federationKeyLookup,
  federationRouteProvider,
  peerCredentials,
} from './federation.wiring.ts';
import type { PeerLookup } from '../federation/inbox.routes.ts';
import { peerHostLookup } from '../federation/peer-host.lookup.ts';
import { PeerDirectoryClient } from '../federation/peer-lookup.ts';
import { loadInstanceIdentity, type InstanceIdentity } from '../identity/instance-identity.ts';
import type { KeyEvents } from '../keys/key.events.ts';
import type { RemoteIdentityEvents } from '../identities/remote-identity.events.ts';
import type { Storage } from '../database/storage.port.ts';
import type { PiService } from '../privacy/pi.service.ts';
import type { AccountEvents } from '../accounts/account.events.ts';
import { AdminJournalService } from '../admin-journal/journal.service.ts';
import { journalRecordOf, openJournalRepository } from './admin-journal.wiring.ts';
import type { MessageEvents } from '../messages/message.events.ts';
import type { PrivacyEvents } from '../privacy/privacy.events.ts';
import { LiveEventHub } from '../live/live-event.hub.ts';
import { DEFAULT_LIVE_STREAMS_PER_ACCOUNT } from '../live/live-event.routes.ts';
import { NoticeService } from '../notices/notice.service.ts';
import { RspamdSpamFilter } from '../spam/spam-filter.rspamd.ts';
import type { SpamEvents } from '../spam/spam.events.ts';
import { SpamService } from '../spam/spam.service.ts';

/** Everything the entry points (HTTP, CLI, workers) use, built once from the configuration. */
export interface InstanceServices {
  config: InstanceConfig;
  clock: Clock;
  storage: Storage;
  queue: JobQueue;
  search: SearchIndex;
  box: SecretBox;
  hasher: PasswordHasher;
  metrics: Metrics;
  /** The in-process event bus the domains publish on (reactions are subscribed in buildServices). */
  events: EventBus<InstanceEvents>;
  /** The instance identity (keys, TLS certificate), opened on first use. */
  identity: () => Promise<InstanceIdentity>;
  accounts: AccountService;
  auth: AuthService;
  /** Passwords for mail apps (GET/POST/DELETE /api/v1/me/app-passwords). */
  appPasswords: AppPasswordService;
  /** Sign-in of mail apps (SMTP submission): account password or app password, brute force bounded. */
  mailClientAuth: MailClientAuth;
  devices: DeviceService;
  /** Remote mailboxes (IMAP) of accounts. */
  identities: RemoteIdentityService;
  /** Sending as an imported address through its provider (PUT/GET/DELETE /api/v1/identities/:id/send-as). */
  sendAs: SendAsService;
  /** IMAP imports: start, progress, scheduled re-sync (its worker runs in startInstance). */
  imports: ImapImportService;
  /** Linked XMPP accounts: their sessions file chat through the ingest (started in startInstance), replies leave by them. */
  xmpp: XmppService;
  /** Sending mail: compose (POST /api/v1/messages) and the 'smtp-out' delivery worker (started in startInstance). */
  outbound: OutboundMail;
  /** Raw messages and attachments (`<dataDir>/blobs`). */
  blobs: BlobStore;
  contacts: ContactService;
  /** Correspondents' OpenPGP public keys (trust on first use). */
  keys: CorrespondentKeyService;
  /** Unresolved trust-on-first-use conflicts of an account (GET /api/v1/keys/alerts). */
  keyAlerts: KeyAlertService;
  /** The account's own OpenPGP keys, where the private key lives, its session-held unlock (implements AccountKeys). */
  accountKeys: AccountKeyService;
  /** Everything about an account as one archive (GET /api/v1/account/export). */
  accountExport: AccountExportService;
  /** Self-service account deletion: requests with a grace period, then the purge (queue 'account-deletion'). */
  accountDeletion: AccountDeletionService;
  conversations: ConversationService;
  messages: MessageService;
  /** The one way mail enters a mailbox (SMTP, IMAP import, Sent copies, bounces). */
  ingest: MessageIngestService;
  /** MIME parsing and SPF/DKIM/DMARC verification of arriving mail, on worker threads (config `ingest.workerThreads`). */
  mailWorkers: MailWorkers;
  /** Keeps the search index in step with the mailbox through the 'index' queue. */
  indexer: SearchIndexer;
  /** The Privacy Index of every element, and its recomputation through the 'pi' queue. */
  privacy: PiService;
  /** Encrypted mail that arrived while the account's key was locked, decrypted once unlocked (queue 'decrypt-pending'). */
  lateDecryption?: LateDecryptionService;
  /** Keys to encrypt to (own accounts', correspondents', WKD and DNS lookups) and Autocrypt learning. */
  keyDiscovery: KeyDiscoveryService;
  /** The routes to a recipient and the PI each gives (GET /api/v1/routes). */
  routes: RoutePreviewService;
  /** The peer directory: the registry's verified feed and this instance's standing in it (null: federation off). startInstance syncs it. */
  federation?: PeerDirectory | null;
  /** The users' trust-sharing choice (GET/PUT /api/v1/privacy/sharing; read by GET /federation/v1/trust/:local). */
  trustSharing: TrustSharingRepository;
  /** The admin actions journal (append-only, hash-chained): every operator action, told by the domains' events. */
  journal: AdminJournalService;
  /** The user's notices: this instance's standing changes and their failed deliveries (GET /api/v1/notices). */
  notices: NoticeService;
  /** The open live-update streams of the users' apps and what they are told (GET /api/v1/events). */
  live: LiveEventHub;
  /** Central spam filtering (rspamd): SMTP screening, re-checks, training (null: `spam.rspamdUrl` not set). */
  spam: SpamService | null;
  /** HTTP-01 answers of an ACME order in progress (served at /.well-known/acme-challenge/ on the HTTP port). */
  acmeChallenges: AcmeChallengeBoard;
  /** The instance certificate kept from an ACME CA (null: acme.enabled is false). startInstance starts it. */
  certificates: CertificateRenewal | null;
  close(): Promise<void>;
}

export interface ServiceOptions {
  clock?: Clock;
  env?: NodeJS.ProcessEnv;
  passwordHashing?: PasswordHasherOptions;
  /** Where background services (imports) log; silent when absent. */
  logger?: Logger;
  /** Which engines to open (the CLI's account commands need storage only). */
  open?: { queue?: boolean; search?: boolean };
  /** What end-to-end mail reads the accounts' own keys through (a stand-in for tests; default: the account-keys service). */
  accountKeys?: AccountKeys;
  /** Overrides of the key lookup (WKD, DNS) settings: tests turn WKD off or point it at a local server. */
  keyDiscovery?: Partial<KeyDiscoveryOptions>;
}

/** Opens the storage engine the configuration names; distributed engines are loaded only when chosen. */
export async function openStorage(config: InstanceConfig, env: NodeJS.ProcessEnv = process.env): Promise<Storage> {
  if (config.storage.engine === 'cassandra') {
    const { CassandraStorage } = await import('../storage/storage.cassandra.ts');
    const c = config.storage.cassandra!;
    type Consistency = NonNullable<NonNullable<Parameters<typeof CassandraStorage.connect>[0]['consistency']>['read']>;
    const storage = await CassandraStorage.connect({
      contactPoints: c.contactPoints,
      localDataCenter: c.localDataCenter,
      keyspace: c.keyspace,
      // Credentials come from the environment only, never from the config file.
      ...(env.CASSANDRA_USERNAME ? { username: env.CASSANDRA_USERNAME, password: env.CASSANDRA_PASSWORD ?? '' } : {}),
      consistency: {
        ...(c.readConsistency ? { read: c.readConsistency as Consistency } : {}),
        ...(c.writeConsistency ? { write: c.writeConsistency as Consistency } : {}),
      },
    });
    await storage.migrate();
    return storage;
  }
  const { SqliteStorage } = await import('../storage/storage.sqlite.ts');
  return SqliteStorage.inDataDir(config.dataDir);
}

export async function openQueue(config: InstanceConfig): Promise<JobQueue> {
  if (config.queue.engine === 'bullmq') {
    const { openBullmqJobQueue } = await import('@caliopen/platform/queue/job-queue.bullmq.ts');
    return openBullmqJobQueue({ connection: config.queue.redisUrl!, prefix: `caliopen-${config.domain}` });
  }
  const { openSqliteJobQueue } = await import('@caliopen/platform/queue/job-queue.sqlite.ts');
  return openSqliteJobQueue(join(config.dataDir, 'queue.db'));
}

export async function openSearch(config: InstanceConfig): Promise<SearchIndex> {
  let index: SearchIndex;
  if (config.search.engine === 'elasticsearch') {
    const { openElasticsearchIndex } = await import('../search/search.elasticsearch.ts');
    index = openElasticsearchIndex({
      url: config.search.elasticsearchUrl!,
      indexPrefix: `caliopen-${config.domain.replaceAll('.', '-')}`,
    });
  } else if (config.search.engine === 'opensearch') {
    const { openOpenSearchIndex } = await import('../search/search.opensearch.ts');
    index = openOpenSearchIndex({
      url: config.search.opensearchUrl!,
      indexPrefix: `caliopen-${config.domain.replaceAll('.', '-')}`,
    });
  } else {
    const { openSqliteSearchIndex } = await import('../search/search.sqlite.ts');
    index = openSqliteSearchIndex(join(config.dataDir, 'search.db'));
  }
  await index.init();
  return index;
}

/** A stand-in for an engine the caller chose not to open: any use is a programming error, said plainly. */
function notOpened<T extends object>(what: string): T {
  return new Proxy({} as T, {
    get: (_t, prop) => {
      if (prop === 'engine') return 'none';
      if (prop === 'close') return async () => {};
      throw new Error(`${what} was not opened by this process`);
    },
  });
}

/** The extra CA bundle for IMAP import (imports.caFile), read once at start; a bad file stops the start, naming the key. */
function readImportCa(file: string): string {
  return readCaFile(file, 'imports.caFile (CALIOPEN_IMPORT_CA_FILE)');
}

/** An extra CA bundle named by a setting, read once at start; a bad file stops the start, naming the setting. */
function readCaFile(file: string, setting: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${setting}: cannot read ${file}: ${(e as Error).message}.`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new ConfigError(`${setting}: ${file} holds no PEM certificate.`);
  return pem;
}

/** Every event of the instance's domains: one bus, each domain publishing its own and seeing only those. */
export type InstanceEvents = KeyEvents &
  DeliveryEvents &
  FederationEvents &
  RemoteIdentityEvents &
  AccountEvents &
  MessageEvents &
  PrivacyEvents &
  SpamEvents &
  CertificateEvents;

/**
 * The composition root: every service built once, in dependency order, each given what it needs at construction
 * (no setter called later); reactions across domains are subscribed here on the event bus, in one place.
 */
export async function buildServices(config: InstanceConfig, options: ServiceOptions = {}): Promise<InstanceServices> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? pino({ level: 'silent' });
  const box = new SecretBox(loadMasterKey(config.dataDir, options.env));
  const storage = await openStorage(config, options.env);
  const queue = options.open?.queue === false ? notOpened<JobQueue>('the job queue') : await openQueue(config);
  const search = options.open?.search === false ? notOpened<SearchIndex>('the search index') : await openSearch(config);
  const hasher = new PasswordHasher(options.passwordHashing);
  const metrics = createMetrics();
  const events = new EventBus<InstanceEvents>(logger);
  // The instance identity (keys, TLS certificate), opened when first needed (a CLI command may never need it).
  let identityLoad: Promise<InstanceIdentity> | null = null;
  const identity = (): Promise<InstanceIdentity> => {
    const load = (identityLoad ??= loadInstanceIdentity(config.dataDir, box));
    load.catch(() => {
      identityLoad = null;
    });
    return load;
  };

  // Keys: the account's own (where the private key lives, its session-held unlock) and its correspondents'.
  const accountKeys = new AccountKeyService({
    keys: storage.accountKeys,
    accounts: storage.accounts,
    sessions: storage.sessions,
    box,
    hasher,
    clock,
    domain: config.domain,
    ...(options.passwordHashing ? { kdf: options.passwordHashing } : {}),
    logger,
    events,
  });
  const ownKeys: AccountKeys = options.accountKeys ?? accountKeys;
  const correspondentKeys = new CorrespondentKeyService({ keys: storage.keys, clock, events });
  const journalRepository = await openJournalRepository(config, storage);
  const journal = new AdminJournalService(journalRepository, clock);
  const accounts = new AccountService(storage, hasher, clock, config.accounts.defaultQuotaBytes, {
    events,
    passwordChanging: (accountId, newPassword, oldPassword) =>
      accountKeys.passwordChanging(accountId, newPassword, oldPassword),
  });
  const auth = new AuthService(storage, hasher, box, clock, {
    sessionTtlSeconds: config.auth.sessionTtlSeconds,
    totpIssuer: config.domain,
    keyUnlock: accountKeys,
    domain: config.domain,
  });
  const devices = new DeviceService(storage, clock);
  const appPasswords = new AppPasswordService(storage, hasher, clock);
  const mailClientAuth = new MailClientAuth(storage, hasher, appPasswords, {
    domain: config.domain,
    failuresPerIp: config.submission.authFailuresPerIp,
    failuresPerAccount: config.submission.authFailuresPerAccount,
  });

  // The peer directory (federation.registryUrl): the registry's verified feed and this instance's own standing in it
  // (null: federation off). Read from disk here, synced by startInstance. Everything federated reads it at each use
  // through `peers`, so a feed sync or a label lapsing takes effect at once.
  const federation = peerDirectoryFromConfig(config, { clock, logger, events });
  // The directory in use (`services.federation`; a test may put a stand-in there after start).
  let directory: PeerLookup | null = federation;
  const peers = (): PeerLookup | null => directory;
  const directoryClient = new PeerDirectoryClient({
    domain: config.domain,
    peers,
    credentials: async () => peerCredentials(await identity()),
    clock,
    logger,
    ...(() => {
      const lookup = peerHostLookup(config.dns.resolvers);
      return lookup ? { lookup } : {};
    })(),
  });

  // Keys to encrypt to (own accounts', correspondents', the federation's key directory, WKD and DNS lookups through
  // the instance's resolvers); Autocrypt keys learnt from inbound mail.
  const keyDiscovery = new KeyDiscoveryService(
    {
      keys: correspondentKeys,
      accountKeys: ownKeys,
      accounts: storage.accounts,
      domain: config.domain,
      clock,
      logger,
      federation: federationKeyLookup(directoryClient),
    },
    { dns: { resolvers: config.dns.resolvers, trustAd: config.dns.trustAd }, wkd: {}, ...options.keyDiscovery },
  );

  // The email core: blob store, contacts, conversations, messages, ingest, search indexing, Privacy Index.
  // On the embedded engine, blobs are packed in blobs.db (large ones, and those written before, stay files: ADR 0027);
  // a distributed deployment keeps files, on the volume its processes share (docs/scale-out.md).
  const blobFiles = new FsBlobStore(join(config.dataDir, 'blobs'));
  const blobStore =
    config.storage.engine === 'cassandra'
      ? blobFiles
      : SqliteBlobStore.open(join(config.dataDir, 'blobs.db'), blobFiles);
  // End-to-end mail: encrypted mail to an account in server-side key mode, unlocked, is decrypted at arrival; with
  // every key the account can unlock (the active one, and those it replaced: mail encrypted before a rotation).
  const decryptionKeyOf = async (accountId: string) => {
    if ((await ownKeys.mode(accountId)) !== 'server') return null;
    return ownKeys.unlockedKeys ? ownKeys.unlockedKeys(accountId) : ownKeys.unlocked(accountId);
  };
  const mailWorkers = startMailWorkers({
    threads: config.ingest.workerThreads ?? defaultMailWorkerThreads(),
    dnsServers: config.smtp.dnsServers,
    logger,
    idleTimeoutMs: config.ingest.workerIdleSeconds * 1000,
  });
  const core = buildEmailCore({
    parse: (raw) => mailWorkers.parse(raw),
    storage,
    blobs: blobStore,
    queue,
    search,
    clock,
    domain: config.domain,
    logger,
    keyStorageOf: (accountId) => accountKeys.mode(accountId),
    decryptionKeyOf,
    ...(federation ? { standing: federation } : {}),
    // The addresses of an account's remote mailboxes are its own: imported mail from them is the user's.
    ownAddressSources: [
      async (accountId) =>
        (await storage.remoteIdentities.listByAccount(accountId))
          .map((i) => i.username.toLowerCase())
          .filter((u) => /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(u)),
      // The account's linked XMPP addresses (bare JIDs) are its own in chat.
      async (accountId) => (await storage.xmppAccounts.listByAccount(accountId)).map((l) => l.jid),
    ],
    keyLearners: [
      async (accountId, sender, raw, facts) => {
        await keyDiscovery.learnAutocrypt(accountId, sender, raw, facts);
      },
      // After Autocrypt (a header carrying the signing key files it with its material first): a signature by another
      // key than the pinned one raises the key alert even without the key (point 11).
      async (accountId, sender, raw, facts) => {
        await keyDiscovery.learnSignatureConflict(accountId, sender, raw, facts);
      },
    ],
    federationFacts: (addresses) => directoryClient.contactFederation(addresses),
    events,
  });

  // IMAP imports and remote mailboxes, delivering through the core's ingest.
  const imapConnector = new ImapflowConnector({
    allowPrivateHosts: config.imports.allowPrivateHosts,
    maxMessageBytes: config.imports.maxMessageBytes,
    ...(config.imports.caFile ? { extraCa: [readImportCa(config.imports.caFile)] } : {}),
  });
  const imapSync = new ImapSync(
    { storage, box, ingest: core.ingest, connector: imapConnector, clock, logger },
    { maxMessageBytes: config.imports.maxMessageBytes },
  );
  const imports = new ImapImportService(
    { storage, queue, sync: imapSync, clock, logger },
    { resyncMinutes: config.imports.resyncMinutes },
  );
  // Linked XMPP accounts (same host policy and extra trust anchors as IMAP imports: both are user-named servers).
  const xmpp = new XmppService({
    storage,
    box,
    connector: new XmppjsConnector({
      allowPrivateHosts: config.imports.allowPrivateHosts,
      ...(config.imports.caFile ? { extraCa: [readImportCa(config.imports.caFile)] } : {}),
    }),
    ingest: core.ingest,
    clock,
    ...(logger ? { logger } : {}),
    retryMs: 5_000,
  });
  // Sending as an imported address: relayed through its provider, checked and pinned like an IMAP import's host.
  const sendAs = new SendAsService({
    storage,
    box,
    clock,
    domain: config.domain,
    relay: new NodemailerSmtpRelay({
      domain: config.domain,
      allowPrivateHosts: config.imports.allowPrivateHosts,
      ...(config.imports.caFile ? { extraCa: [readImportCa(config.imports.caFile)] } : {}),
    }),
  });
  const identities = new RemoteIdentityService({
    storage,
    box,
    connector: imapConnector,
    clock,
    events,
  });

  // Sending mail: the Sent copy, local deliveries and bounces go through the same ingest; jobs read the raw back.
  // Recipients at labelled peers go over the federation; mail is encrypted end to end when keys allow.
  const outbound = createOutboundMail({
    config,
    clock,
    storage,
    queue,
    box,
    ingest: core.ingest,
    blobs: blobStore,
    env: options.env ?? process.env,
    events,
    openpgp: {
      accountKeys: ownKeys,
      recipientKey: (accountId, address, o) => keyDiscovery.keyFor(accountId, address, o),
    },
    sendAs,
    federation: composeFederation({
      peers,
      config,
      queue,
      ...(config.federation.recipientCheck ? { directoryClient } : {}),
    }),
  });
  const routes = new RoutePreviewService({
    storage,
    privacy: core.privacy,
    keys: keyDiscovery,
    accountKeys: ownKeys,
    domain: config.domain,
    tlsPolicy: config.outbound.tlsPolicy,
    providers: [federationRouteProvider(peers, config.domain), xmppRouteProvider({ storage, xmpp })],
    ...(config.federation.recipientCheck
      ? { recipients: (address: string) => directoryClient.checkRecipient(address) }
      : {}),
  });
  // Shared by every process of the instance (issue 15 item 4); older per-node files are moved in once.
  await importLegacyFederationState(config.dataDir, storage, Math.floor(clock().getTime() / 1000));
  const trustSharing = storage.trustSharing;
  const noticeStore = storage.notices;
  const notices = new NoticeService({
    store: noticeStore,
    clock,
    standing: () => (directory as Partial<PeerDirectory> | null)?.standing?.() ?? null,
    sentCopy: async (accountId, messageId) => {
      const m = await storage.messages.get(accountId, messageId);
      return m === null || m.deletedAt !== null ? null : { conversationId: m.conversationId, subject: m.subject };
    },
  });
  const live = new LiveEventHub(config.http.liveStreamsPerAccount ?? DEFAULT_LIVE_STREAMS_PER_ACCOUNT, () =>
    clock().getTime(),
  );

  // Central spam filtering (spam.rspamdUrl): the SMTP session screens each message; messages filed unchecked are
  // checked again through the 'spam-check' queue; the users' junk / not junk teach the filter ('spam-learn').
  const spam = spamServiceFrom(config, options.env ?? process.env, {
    queue,
    storage,
    blobs: blobStore,
    messages: core.messages,
    metrics,
    clock,
    logger,
    events,
  });
  // The instance certificate from an ACME CA (acme.enabled): its account key and certificate key sealed by the
  // master key; a failed renewal round is told to the operators (a mail to the admins) and counted.
  const acmeChallenges = new AcmeChallengeBoard();
  const certificates = config.acme.enabled
    ? new CertificateRenewal({
        settings: {
          directoryUrl: config.acme.directoryUrl,
          ...(config.acme.email ? { email: config.acme.email } : {}),
          ...(config.acme.caFile
            ? { caPem: readCaFile(config.acme.caFile, 'acme.caFile (CALIOPEN_ACME_CA_FILE)') }
            : {}),
          checkSeconds: config.acme.checkSeconds,
          retry: config.acme.retry,
        },
        domain: config.domain,
        dataDir: config.dataDir,
        box,
        clock,
        board: acmeChallenges,
        identity,
        events,
        onAttemptFailed: () => metrics.acmeErrors.inc(),
        logger: logger.child({ component: 'acme' }),
      })
    : null;
  events.subscribe('certificate.renewed', () => metrics.certificateRenewals.inc());
  events.subscribe('certificate.renewal-failed', async ({ attempts, error, notAfter }) => {
    await notifyOperators(
      { domain: config.domain, accounts: storage.accounts, ingest: core.ingest, clock, logger },
      'The instance certificate could not be renewed',
      `The ACME CA (${config.acme.directoryUrl}) did not give ${config.domain} a new certificate after ${attempts} attempts: ${error}\n\nThe current certificate expires on ${notAfter.toISOString()}. The instance tries again every ${config.acme.checkSeconds} seconds; check that port 80 reaches /.well-known/acme-challenge/ on this instance and that the CA is reachable (docs/ops/acme.md).`,
    );
  });
  // Gauges read at scrape time (docs/ops/metrics.md).
  observeInstance(metrics, {
    now: clock,
    certificateNotAfter: async () => (await identity()).tls.notAfter,
    queueCounts: async (name) => ({ ...(await queue.counts(name)) }),
    deliveryQueues: options.open?.queue === false ? [] : Object.values(DELIVERY_QUEUES).map((d) => d.queue),
    ...(federation
      ? {
          feedSyncedAt: () => {
            const at = (directory as Partial<PeerDirectory> | null)?.status?.().lastSyncAt;
            return at ? new Date(at) : null;
          },
          labelExpiresAt: () => {
            const at = (directory as Partial<PeerDirectory> | null)?.standing?.().labelExpiresAt;
            return at ? new Date(at * 1000) : null;
          },
        }
      : {}),
  });

  // Reactions across domains.
  // What an operator did to an account goes to the admin journal (awaited by the action: recorded before it answers).
  events.subscribe('account.administered', async (e) => {
    await journal.record(journalRecordOf(e));
  });
  // A remote mailbox added: its scheduled re-sync (not in a process without the queue, e.g. a CLI account command).
  if (options.open?.queue !== false) {
    events.subscribe('remote-identity.added', ({ accountId, identityId }) =>
      imports.scheduleResync(accountId, identityId),
    );
  }
  events.subscribe('keys.changed', async ({ accountId, address }) => {
    if (address === null) {
      // The account's own keys or their storage mode: the account PI moves.
      await core.privacy.enqueue({ kind: 'summary', accountId });
      return;
    }
    // A correspondent's key pinned, replaced, verified or rejected: the contact, its messages (signatures re-checked)
    // and the account are rescored through the 'pi' queue.
    const contact = await storage.contacts.findByIdentity(accountId, 'email', address);
    if (contact !== null) await core.privacy.enqueue({ kind: 'contact', accountId, contactId: contact.id });
  });
  // Encrypted mail that arrived while the key was locked is decrypted once a session unlocks it.
  events.subscribe('key.unlocked', async ({ accountId }) => {
    await core.lateDecryption?.keyUnlocked(accountId);
  });
  // What a delivery established is recorded on the Sent copy for its PI.
  events.subscribe('delivery.recorded', ({ accountId, messageId, fact }) =>
    core.privacy.recordDelivery(accountId, messageId, fact),
  );
  // A change of this instance's standing rescores every account, and users are told in their mailbox when federation
  // stops for this instance (and when it resumes).
  events.subscribe('standing.changed', async ({ now, before }) => {
    rescoreAccountSummaries(storage.accounts, (job) => core.privacy.enqueue(job)).catch((err: unknown) =>
      logger.error({ err }, 'account PIs not rescored after a change of instance standing'),
    );
    const notice = noticeDue(now, before, (await noticeStore.lastStandingChange())?.change ?? null);
    if (notice !== null) {
      // A revocation's reason is read from the registry's public record first (words for the users; the signed feed
      // alone decides the standing).
      const why =
        now.status === 'revoked' && federation ? ((await federation.fetchOwnRevocation())?.reason ?? null) : null;
      await noticeStore.addStandingChange({ at: clock(), change: notice, status: now.status, reason: why });
      live.pushAll({ type: 'notices.changed', data: { reason: 'standing.changed' } });
      await notifyStanding(
        { domain: config.domain, accounts: storage.accounts, ingest: core.ingest, clock, logger },
        notice,
        now,
        why,
      ).catch((err: unknown) => logger.error({ err }, 'federation standing notice not delivered'));
    } else if (now.status === 'revoked' && federation) {
      void federation.fetchOwnRevocation();
    }
  });

  if (spam !== null && options.open?.queue !== false) {
    events.subscribe('message.stored', (e) => spam.stored(e));
    events.subscribe('message.feedback', (e) => spam.feedback(e));
  }

  // The users' open apps are told, by id, what changed in their mailbox (live updates, GET /api/v1/events).
  events.subscribe('message.stored', ({ accountId, messageId, conversationId, direction }) =>
    live.push(accountId, { type: 'message.new', data: { discussionId: conversationId, messageId, direction } }),
  );
  events.subscribe('message.updated', ({ accountId, conversationId }) =>
    live.push(accountId, { type: 'discussion.updated', data: { discussionId: conversationId } }),
  );
  events.subscribe('conversation.pi-changed', ({ accountId, conversationId }) =>
    live.push(accountId, { type: 'discussion.updated', data: { discussionId: conversationId } }),
  );
  // A failed delivery becomes a notice of its sender.
  events.subscribe('delivery.failed', async ({ accountId, messageId, at, recipients }) => {
    await noticeStore.addDeliveryFailure({ accountId, messageId, at, recipients });
    live.push(accountId, { type: 'notices.changed', data: { reason: 'delivery.failed' } });
  });
  events.subscribe('keys.changed', ({ accountId, address }) => {
    if (address !== null) live.push(accountId, { type: 'key-alerts.changed', data: {} });
  });

  const services: InstanceServices = {
    config,
    clock,
    storage,
    queue,
    search,
    box,
    hasher,
    metrics,
    events,
    identity,
    accounts,
    auth,
    appPasswords,
    mailClientAuth,
    devices,
    identities,
    sendAs,
    imports,
    xmpp,
    outbound,
    blobs: blobStore,
    contacts: core.contacts,
    keys: correspondentKeys,
    keyAlerts: new KeyAlertService({ keys: storage.keys, contacts: storage.contacts }),
    accountKeys,
    accountExport: new AccountExportService({
      storage,
      blobs: blobStore,
      contacts: core.contacts,
      keys: { list: (accountId) => accountKeys.list(accountId), armor: armorPublic },
      privacy: core.privacy,
      journal,
      clock,
      domain: config.domain,
    }),
    accountDeletion: new AccountDeletionService({
      storage,
      search,
      blobs: blobStore,
      queue,
      identity: auth,
      blobPrefixOf: rawPrefixOf,
      clock,
      graceSeconds: config.accounts.deletionGraceSeconds ?? DEFAULT_DELETION_GRACE_SECONDS,
      logger: logger.child({ component: 'account-deletion' }),
    }),
    conversations: core.conversations,
    messages: core.messages,
    ingest: core.ingest,
    mailWorkers,
    indexer: core.indexer,
    privacy: core.privacy,
    ...(core.lateDecryption ? { lateDecryption: core.lateDecryption } : {}),
    keyDiscovery,
    routes,
    get federation() {
      return directory as PeerDirectory | null;
    },
    set federation(next: PeerDirectory | null | undefined) {
      directory = next ?? null;
    },
    trustSharing,
    journal,
    notices,
    live,
    spam,
    acmeChallenges,
    certificates,
    async close() {
      await certificates?.stop();
      await mailWorkers.close();
      if (blobStore instanceof SqliteBlobStore) await blobStore.close();
      await journalRepository.close();
      await queue.close();
      await search.close();
      await storage.close();
    },
  };
  return services;
}

/** The spam service of the configuration, or null when no rspamd is configured (mail is filed as before). */
function spamServiceFrom(
  config: InstanceConfig,
  env: NodeJS.ProcessEnv,
  d: {
    queue: JobQueue;
    storage: Storage;
    blobs: BlobStore;
    messages: MessageService;
    metrics: Metrics;
    clock: Clock;
    logger: Logger;
    events: EventBus<InstanceEvents>;
  },
): SpamService | null {
  const s = config.spam;
  if (s.rspamdUrl === null) return null;
  const filter = new RspamdSpamFilter({
    url: s.rspamdUrl,
    controllerUrl: s.controllerUrl,
    // A secret: from the environment only, never the config file.
    password: env.CALIOPEN_RSPAMD_PASSWORD || null,
    timeoutMs: s.timeoutMs,
  });
  return new SpamService({
    filter,
    thresholds: { junkScore: s.junkScore, rejectScore: s.rejectScore },
    queue: d.queue,
    message: (accountId, id) => d.storage.messages.get(accountId, id),
    blobs: d.blobs,
    applyVerdict: (accountId, id, facts) => d.messages.recordSpamVerdict(accountId, id, facts),
    registry: d.metrics.registry,
    clock: d.clock,
    logger: d.logger.child({ component: 'spam' }),
    recheck: { delayMs: s.recheckDelayMs, attempts: s.recheckAttempts },
    events: d.events,
  });
}

/**
 * Starts the email core's background workers: search indexing (queue 'index') and the purge of soft-deleted
 * messages past their retention (queue 'mail-purge'), and Privacy Index recomputation (queue 'pi'). startInstance calls it; the returned workers stop with it.
 */
export function startEmailCoreWorkers(services: InstanceServices): Worker[] {
  const workers = [
    services.indexer.start(),
    services.messages.startPurgeWorker(),
    services.privacy.startWorker(),
    // Account deletions past their grace period (queue 'account-deletion').
    services.accountDeletion.startWorker(),
  ];
  // Late decryption (queue 'decrypt-pending'): encrypted mail that arrived while the account's key was locked.
  if (services.lateDecryption) workers.push(services.lateDecryption.startWorker());
  // Spam filtering (queues 'spam-check' and 'spam-learn'): re-checks of mail filed unchecked, and lessons.
  if (services.spam) workers.push(...services.spam.startWorkers());
  return workers;
}
