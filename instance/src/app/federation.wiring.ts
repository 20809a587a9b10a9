import type { Logger } from 'pino';
import type { BlobStore } from '../blobs/blob-store.port.ts';
import type { InstanceConfig } from '../config/config.schema.ts';
import type { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import type { DeliveryEvents } from '../delivery/delivery.events.ts';
import type { ComposeFederation } from '../email/compose.service.ts';
import type { InstanceIdentity } from '../identity/instance-identity.ts';
import type { FederationKeyLookup } from '../keys/key-discovery.service.ts';
import type { MessageIngest } from '../messages/message-ingest.port.ts';
import { computeMessagePi } from '../pi-model/message-pi.model.ts';
import type { JobQueue, Worker } from '@caliopen/platform/queue/job-queue.port.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import type { EventPublisher } from '../shared/event-bus.ts';
import type { Storage } from '../database/storage.port.ts';
import { FEDERATION_OUT_QUEUE, deliveryEnqueueOptions, federationJobId } from '../delivery/delivery.types.ts';
import { DeliveryWorker } from '../delivery/delivery.worker.ts';
import { FederationTransport } from '../delivery/transport.federation.ts';
import type { RouteOption, RouteProvider } from '../routing/route-preview.service.ts';
import type { DirectorySource } from '../federation/directory.routes.ts';
import type { InboxDeps, PeerLookup } from '../federation/inbox.routes.ts';
import type { OwnStanding } from '../federation/peer-directory.ts';
import type { PeerCredentials, PeerDirectoryClient } from '../federation/peer-lookup.ts';
import { explainStanding } from '../federation/standing.ts';
import { peerHostLookup } from '../federation/peer-host.lookup.ts';
import { PrekeyStore, signingKeyOf } from '../federation/prekey.store.ts';
import type { ReplayRepository } from '../federation/replay.repository.ts';

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

/** The route preview's federation provider (RoutePreviewService `providers`). */
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

/** Compose's routing to labelled peers: open when both labels are valid, queued on 'federation-out'. */
export function composeFederation(deps: {
  peers: () => PeerLookup | null;
  config: Pick<InstanceConfig, 'domain'> & {
    federation: Pick<InstanceConfig['federation'], 'emailFallback'>;
    outbound: Pick<InstanceConfig['outbound'], 'retry'>;
  };
  queue: JobQueue;
  /** The recipient check at member instances (PeerDirectoryClient.checkRecipient). */
  directoryClient?: Pick<PeerDirectoryClient, 'checkRecipient'>;
}): ComposeFederation {
  const { peers, config, queue, directoryClient } = deps;
  return {
    ...(directoryClient
      ? { checkRecipient: async (address: string) => (await directoryClient.checkRecipient(address)).verdict }
      : {}),
    routes: (domain) => federationRouteOpen(peers(), config.domain, domain).open,
    reason: (domain) => federationRouteOpen(peers(), config.domain, domain).reason,
    emailFallback: config.federation.emailFallback,
    enqueue: async (job) => {
      await queue.enqueue(
        FEDERATION_OUT_QUEUE,
        'deliver',
        job,
        deliveryEnqueueOptions(federationJobId(job.messageId, job.domain, 1), config.outbound.retry),
      );
    },
  };
}

/** Key discovery's first source for addresses at labelled peers: their federated key directory (SPEC.md §12). */
export function federationKeyLookup(client: PeerDirectoryClient): FederationKeyLookup {
  return async (address) => {
    if (!client.isPeerAddress(address)) return null;
    const answer = await client.fetchKey(address);
    if (answer.ok)
      return { found: answer.value.openpgpKey, detail: `Served by ${answer.value.domain}'s key directory.` };
    return { found: null, detail: `${answer.code}: ${answer.message}`.slice(0, 300) };
  };
}

/** What this instance presents to peers, from its identity. */
export function peerCredentials(identity: InstanceIdentity): PeerCredentials {
  return {
    signingKey: signingKeyOf(identity),
    clientCert: { certPem: identity.tls.certPem, keyPem: identity.tls.keyPem },
  };
}

export interface FederationDeps {
  config: Pick<InstanceConfig, 'domain' | 'dataDir'> & {
    outbound: Pick<InstanceConfig['outbound'], 'retry' | 'concurrency'>;
    dns: Pick<InstanceConfig['dns'], 'resolvers'>;
  };
  identity: InstanceIdentity;
  /** The peer directory as it is now (read at each use: a feed sync, or a label lapsing, takes effect at once). */
  peers: () => PeerLookup | null;
  clock: Clock;
  box: SecretBox;
  storage: Pick<Storage, 'messages' | 'accounts' | 'replay' | 'prekeys'>;
  queue: JobQueue;
  ingest: MessageIngest;
  blobs: BlobStore;
  events: EventPublisher<DeliveryEvents>;
  /** The key directory and trust sharing answered to peers (directory.routes.ts). */
  directory: DirectorySource;
  logger: Logger;
}

export interface RunningFederation {
  /** What the public HTTPS face serves the inbox, prekeys and directory with. */
  inbox: InboxDeps;
  prekeys: PrekeyStore;
  replay: ReplayRepository;
  worker: Worker;
  stop(): Promise<void>;
}

/**
 * Starts the federation's running parts: the prekey store (rotation every few minutes), the persistent replay store
 * and the 'federation-out' delivery worker, and returns what the public face serves peers with. Started by the
 * instance (app/instance.app.ts) whether or not the public face is enabled: sending to peers needs no listener here.
 */
export function startFederation(deps: FederationDeps): RunningFederation {
  const { config, identity, peers, logger } = deps;
  // The prekeys are the storage's, shared by every process of the instance (issue 15 item 4).
  const prekeys = new PrekeyStore({
    repository: deps.storage.prekeys,
    box: deps.box,
    identity,
    clock: deps.clock,
    logger,
  });
  prekeys.start();
  // The replay record is the storage's, shared by every process of the instance (issue 15 item 4).
  const replay = deps.storage.replay;
  const lookup = peerHostLookup(config.dns.resolvers);
  const transport = new FederationTransport({
    domain: config.domain,
    clock: deps.clock,
    peers,
    ...peerCredentials(identity),
    ...(lookup ? { lookup } : {}),
  });
  const worker = new DeliveryWorker(transport, {
    domain: config.domain,
    clock: deps.clock,
    storage: deps.storage,
    queue: deps.queue,
    ingest: deps.ingest,
    blobs: deps.blobs,
    retry: config.outbound.retry,
    logger,
    events: deps.events,
  }).start(config.outbound.concurrency);
  const inbox: InboxDeps = {
    identity,
    peers,
    prekeys,
    replay,
    accounts: deps.storage.accounts,
    ingest: deps.ingest,
    clock: deps.clock,
    logger,
    directory: deps.directory,
    // Test hook: a crash between the replay claim and the filing (tests/e2e/public-face-hardening.test.ts).
    ...(process.env['NODE_ENV'] === 'test' && process.env['CALIOPEN_TEST_CRASH_AT'] === 'inbox-claimed'
      ? { afterClaim: () => process.kill(process.pid, 'SIGKILL') }
      : {}),
  };
  return {
    inbox,
    prekeys,
    replay,
    worker,
    async stop() {
      await worker.close();
      await prekeys.stop();
    },
  };
}
