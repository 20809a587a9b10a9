import type { Logger } from 'pino';
import type { InstanceServices } from '../app/instance.services.ts';
import type { InstanceConfig } from '../config/config.schema.ts';
import type { InstanceIdentity } from '../identity/instance-identity.ts';
import { computeMessagePi } from '../pi-model/message-pi.model.ts';
import type { Worker } from '@caliopen/platform/queue/job-queue.port.ts';
import { deliveryEnqueueOptions } from '../email/smtp-outbound.types.ts';
import type { RouteOption, RouteProvider } from '../routing/route-preview.service.ts';
import { FEDERATION_OUT_QUEUE, FederationDeliveryWorker, federationJobId } from './federation-out.worker.ts';
import type { InboxDeps, PeerLookup } from './inbox.routes.ts';
import type { OwnStanding } from './peer-directory.ts';
import { PeerDirectoryClient } from './peer-lookup.ts';
import { explainStanding } from './standing.ts';
import { peerHostLookup } from './peer-host.lookup.ts';
import { PrekeyStore, signingKeyOf } from './prekey.store.ts';
import { SqliteReplayStore } from './replay.store.sqlite.ts';

/** Rank of the federation route: above every email route (EMAIL_ROUTE_RANKS). */
export const FEDERATION_ROUTE_RANK = 100;

/** Whether mail for `domain` goes over the federation now: the peer and this instance both hold a valid label. */
export function federationRouteOpen(
  peers: PeerLookup | null,
  ownDomain: string,
  domain: string,
): { open: boolean; reason: string; known: boolean } {
  const peer = peers?.peer(domain) ?? null;
  if (peers === null || peer === null)
    return { open: false, known: false, reason: `${domain} is not a member instance` };
  if (!peer.labelValid)
    return {
      open: false,
      known: true,
      reason: `the label of ${domain} is not valid (${peer.status === 'labelled' ? 'expired' : peer.status})`,
    };
  const own = peers.peer(ownDomain);
  if (own === null || !own.labelValid) {
    // Told as the users' notice and GET /api/v1/federation tell it (standing.ts).
    const standing: OwnStanding =
      own === null
        ? { status: 'absent', labelValid: false, instancePi: null, labelExpiresAt: null, serial: null }
        : {
            status: own.status === 'labelled' ? 'expired' : own.status,
            labelValid: false,
            instancePi: own.instancePi,
            labelExpiresAt: own.labelExpiresAt,
            serial: null,
          };
    return { open: false, known: true, reason: explainStanding(ownDomain, standing) };
  }
  return {
    open: true,
    known: true,
    reason: `sealed delivery to ${domain}, a labelled member instance (instance PI ${peer.instancePi})`,
  };
}

/** The route preview's federation provider (RoutePreviewService.addProvider). */
export function federationRouteProvider(peers: () => PeerLookup | null, ownDomain: string): RouteProvider {
  return {
    name: 'federation',
    async routesFor(context) {
      const directory = peers();
      const verdict = federationRouteOpen(directory, ownDomain, context.domain);
      if (!verdict.known) return [];
      const peer = directory!.peer(context.domain)!;
      const option: RouteOption = {
        route: 'federation',
        rank: FEDERATION_ROUTE_RANK,
        status: verdict.open ? 'available' : 'unavailable',
        available: verdict.open,
        reason: verdict.reason,
        encrypted: false,
        key: null,
        pi: computeMessagePi({
          direction: 'outbound',
          transport: {
            via: 'federation',
            tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
            peer: context.domain,
            plaintextHops: 0,
          },
          authentication: null,
          provider: null,
          openpgp: null,
          knownContact: context.knownContact,
          correspondent: context.address,
          federation: {
            peerDomain: context.domain,
            labelValid: verdict.open,
            peerInstancePi: peer.instancePi,
            sealed: true,
            forwardSecret: true,
            senderAuthenticated: true,
          },
        }),
      };
      return [option];
    },
  };
}

export interface RunningFederation {
  inbox: InboxDeps;
  prekeys: PrekeyStore;
  replay: SqliteReplayStore;
  worker: Worker;
  /** Asks labelled peers for their users' keys and shared trust. */
  directoryClient: PeerDirectoryClient;
  stop(): Promise<void>;
}

/**
 * Starts what the federation needs on the public face: the prekey store (rotation every few minutes), the persistent
 * replay store, the 'federation-out' worker, compose routing to labelled peers and the route preview's provider. The
 * peer directory is read at each use (`services.federation`): a feed sync, or a label lapsing, takes effect at once.
 */
export function startFederation(
  config: InstanceConfig,
  services: InstanceServices,
  identity: InstanceIdentity,
  logger: Logger,
): RunningFederation {
  const peers = (): PeerLookup | null => services.federation ?? null;
  const prekeys = new PrekeyStore({
    dataDir: config.dataDir,
    box: services.box,
    identity,
    clock: services.clock,
    logger,
  });
  prekeys.start();
  const replay = new SqliteReplayStore(config.dataDir);
  const retry = config.outbound.retry;
  const lookup = peerHostLookup(config.dns.resolvers);
  const worker = new FederationDeliveryWorker({
    domain: config.domain,
    clock: services.clock,
    storage: services.storage,
    queue: services.queue,
    ingest: services.ingest,
    blobs: services.blobs,
    peers,
    signingKey: signingKeyOf(identity),
    clientCert: { certPem: identity.tls.certPem, keyPem: identity.tls.keyPem },
    retry,
    logger,
    onDelivered: (accountId, messageId, fact) => services.privacy.recordDelivery(accountId, messageId, fact),
    ...(lookup ? { lookup } : {}),
  }).start(config.outbound.concurrency);
  services.outbound.compose.enableFederation({
    routes: (domain) => federationRouteOpen(peers(), config.domain, domain).open,
    reason: (domain) => federationRouteOpen(peers(), config.domain, domain).reason,
    emailFallback: config.federation.emailFallback,
    enqueue: async (job) => {
      await services.queue.enqueue(
        FEDERATION_OUT_QUEUE,
        'deliver',
        job,
        deliveryEnqueueOptions(federationJobId(job.messageId, job.domain, 1), retry),
      );
    },
  });
  services.routes.addProvider(federationRouteProvider(peers, config.domain));
  // The federated key directory and trust sharing (SPEC.md §12, §13): asked of labelled peers by key discovery (before
  // WKD and DNS) and by the contacts' PI; answered to them from the accounts' keys and, when allowed, account PIs.
  const directoryClient = new PeerDirectoryClient({
    domain: config.domain,
    peers,
    signingKey: signingKeyOf(identity),
    clientCert: { certPem: identity.tls.certPem, keyPem: identity.tls.keyPem },
    clock: services.clock,
    logger,
    ...(lookup ? { lookup } : {}),
  });
  services.keyDiscovery.enableFederation(async (address) => {
    if (!directoryClient.isPeerAddress(address)) return null;
    const answer = await directoryClient.fetchKey(address);
    if (answer.ok)
      return { found: answer.value.openpgpKey, detail: `Served by ${answer.value.domain}'s key directory.` };
    return { found: null, detail: `${answer.code}: ${answer.message}`.slice(0, 300) };
  });
  services.privacy.enableFederation((addresses) => directoryClient.contactFederation(addresses));
  const enabledAccount = async (local: string) => {
    const account = await services.storage.accounts.getByUsername(local.toLowerCase());
    return account === null || account.disabled ? null : account;
  };
  const inbox: InboxDeps = {
    identity,
    peers,
    prekeys,
    replay,
    accounts: services.storage.accounts,
    ingest: services.ingest,
    clock: services.clock,
    logger,
    directory: {
      async publicKeyOf(local) {
        const account = await enabledAccount(local);
        return account === null ? null : services.accountKeys.publicKey(account.id);
      },
      async sharedTrustOf(local) {
        const account = await enabledAccount(local);
        if (account === null || !services.trustSharing.sharesTrust(account.id)) return null;
        const pi = await services.privacy.accountPi(account.id);
        return { score: pi.score, level: pi.level, modelVersion: pi.modelVersion };
      },
    },
  };
  return {
    inbox,
    directoryClient,
    prekeys,
    replay,
    worker,
    async stop() {
      await worker.close();
      await prekeys.stop();
      replay.close();
    },
  };
}
