import type { Logger } from 'pino';
import type { BlobStore } from '../blobs/blob-store.port.ts';
import type { InstanceConfig } from '../config/config.schema.ts';
import type { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import { loadInstanceIdentity } from '../identity/instance-identity.ts';
import type { MessageIngest } from '../messages/message-ingest.port.ts';
import type { JobQueue, Worker } from '@caliopen/platform/queue/job-queue.port.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import type { Storage } from '../database/storage.port.ts';
import { ComposeService, type ComposeFederation, type ComposeSendAs, type ComposeOpenPgp } from './compose.service.ts';
import type { DkimKey } from '../identity/dkim-key.ts';
import { MxResolver, type ResolveMx } from '../delivery/mx-resolver.ts';
import { DeliveryWorker } from '../delivery/delivery.worker.ts';
import type { DeliveryEvents } from '../delivery/delivery.events.ts';
import type { EventPublisher } from '../shared/event-bus.ts';
import { SmtpTransport } from '../delivery/transport.smtp.ts';

export interface OutboundMailDeps {
  config: InstanceConfig;
  clock: Clock;
  storage: Storage;
  queue: JobQueue;
  box: SecretBox;
  ingest: MessageIngest;
  blobs: BlobStore;
  /** Smarthost credentials come from here only (CALIOPEN_SMARTHOST_USERNAME / _PASSWORD), never from the file. */
  env?: NodeJS.ProcessEnv;
  /** The MX lookup (node:dns by default). */
  resolveMx?: ResolveMx;
  /** Told `delivery.recorded` with what each delivery negotiated (the PI engine records it on the Sent copy). */
  events: EventPublisher<DeliveryEvents>;
  /** End-to-end encryption of what is composed (ComposeService). */
  openpgp?: ComposeOpenPgp;
  /** Routing to labelled peer instances over the federation (ComposeService). */
  federation?: ComposeFederation;
  /** Imported addresses sent as through their provider (ComposeService). */
  sendAs?: ComposeSendAs;
}

/** Sending mail: the compose service (API side) and the delivery worker (queue side), sharing one configuration. */
export interface OutboundMail {
  compose: ComposeService;
  /** The instance DKIM key (created on first use for an instance initialised before DKIM existed). */
  dkimKey(): Promise<DkimKey>;
  /** Starts the 'smtp-out' worker. */
  startWorker(logger: Pick<Logger, 'info' | 'warn' | 'error'>): Worker;
}

export function createOutboundMail(deps: OutboundMailDeps): OutboundMail {
  const { config } = deps;
  const out = config.outbound;
  let dkim: Promise<DkimKey> | null = null;
  const dkimKey = () => {
    dkim ??= loadInstanceIdentity(config.dataDir, deps.box).then((identity) => identity.dkim);
    dkim.catch(() => {
      dkim = null;
    });
    return dkim;
  };
  const env = deps.env ?? process.env;
  const smarthost = out.smarthost
    ? {
        host: out.smarthost.host,
        port: out.smarthost.port ?? 587,
        requireTls: out.smarthost.requireTls ?? true,
        auth: env.CALIOPEN_SMARTHOST_USERNAME
          ? { user: env.CALIOPEN_SMARTHOST_USERNAME, pass: env.CALIOPEN_SMARTHOST_PASSWORD ?? '' }
          : undefined,
      }
    : undefined;
  const resolver = new MxResolver({
    mxOverride: out.mxOverride,
    smarthost: smarthost ? { host: smarthost.host, port: smarthost.port } : undefined,
    ...(deps.resolveMx ? { resolveMx: deps.resolveMx } : {}),
  });
  const compose = new ComposeService({
    domain: config.domain,
    clock: deps.clock,
    storage: deps.storage,
    queue: deps.queue,
    ingest: deps.ingest,
    blobs: deps.blobs,
    limits: { maxRecipients: out.maxRecipients, maxAttachmentBytes: out.maxAttachmentBytes },
    retry: out.retry,
    events: deps.events,
    ...(deps.openpgp ? { openpgp: deps.openpgp } : {}),
    ...(deps.federation ? { federation: deps.federation } : {}),
    ...(deps.sendAs ? { sendAs: deps.sendAs } : {}),
  });
  return {
    compose,
    dkimKey,
    startWorker(logger) {
      const transport = new SmtpTransport({
        domain: config.domain,
        clock: deps.clock,
        resolver,
        tlsPolicy: out.tlsPolicy,
        smarthost,
        dkim: dkimKey,
      });
      const worker = new DeliveryWorker(transport, {
        domain: config.domain,
        clock: deps.clock,
        storage: deps.storage,
        queue: deps.queue,
        ingest: deps.ingest,
        blobs: deps.blobs,
        retry: out.retry,
        logger,
        events: deps.events,
      });
      return worker.start(out.concurrency);
    },
  };
}
