import { signDescriptor, type InstanceDescriptor } from '@caliopen/federation-protocol';
import type { Logger } from 'pino';
import type { InstanceConfig } from '../config/config.schema.ts';
import type { InboxDeps } from '../federation/inbox.routes.ts';
import type { InstanceIdentity } from '../identity/instance-identity.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import { publicBaseUrl } from '../config/public-url.ts';
import { buildPublicServer } from './public.server.ts';
import type { Discovery } from '../discovery/discovery.service.ts';

const DESCRIPTOR_TTL_SECONDS = 3600;

/** The instance's own descriptor: its keys, endpoints and certificate, signed by its signing key. */
export async function instanceDescriptor(
  identity: InstanceIdentity,
  httpsUrl: string,
  smtp: string | null,
  issuedAt: number,
): Promise<string> {
  const descriptor: InstanceDescriptor = {
    version: 1,
    domain: identity.domain,
    keys: {
      signing: identity.signing.publicJwk as InstanceDescriptor['keys']['signing'],
      encryption: identity.encryption.publicJwk as InstanceDescriptor['keys']['encryption'],
    },
    endpoints: { https: httpsUrl, ...(smtp ? { smtp } : {}) },
    certificateSha256: identity.tls.fingerprintSha256,
    issuedAt,
  };
  return signDescriptor(descriptor, identity.signing.privateJwk as Parameters<typeof signDescriptor>[1]);
}

/**
 * Starts the public HTTPS face: the descriptor (re-signed at most hourly), registry challenges, WKD, and what peers
 * reach of the federation (prekeys, inbox, key directory; started apart, app/instance.app.ts).
 */
export async function startPublicFace(
  config: InstanceConfig,
  deps: { identity: InstanceIdentity; clock: Clock; federation: InboxDeps; discovery?: Discovery },
  logger: Logger,
) {
  const { identity, discovery } = deps;
  let cached: { jws: string; until: number } | null = null;
  let url = '';
  const app = await buildPublicServer({
    identity,
    dataDir: config.dataDir,
    logger,
    federation: {
      ...deps.federation,
      peerRate: { burst: config.https.peerBurst, perSecond: config.https.peerPerSecond },
    },
    limits: {
      headersTimeoutMs: config.https.headersTimeoutMs,
      requestTimeoutMs: config.https.requestTimeoutMs,
      idleTimeoutMs: config.https.idleTimeoutMs,
      keepAliveTimeoutMs: config.https.keepAliveTimeoutMs,
      perIp: { burst: config.https.ipBurst, perSecond: config.https.ipPerSecond },
    },
    ...(discovery ? { wkd: { keys: discovery.keys, localParts: discovery.localParts } } : {}),
    descriptor: async () => {
      const now = Math.floor(deps.clock().getTime() / 1000);
      if (!cached || cached.until <= now) {
        const smtp = config.smtp.enabled ? `${config.domain}:${config.smtp.port}` : null;
        cached = { jws: await instanceDescriptor(identity, url, smtp, now), until: now + DESCRIPTOR_TTL_SECONDS };
      }
      return cached.jws;
    },
  });
  await app.listen({ host: config.https.host, port: config.https.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.https.port;
  url = publicBaseUrl(config, port);
  logger.info({ url, fingerprint: identity.tls.fingerprintSha256 }, 'public HTTPS face started');
  return {
    url,
    identity,
    /**
     * Presents the identity's current certificate to new connections (after a renewal), without a restart: open
     * connections keep the one they started with. The descriptor is signed again with the new digest.
     */
    reloadCertificate: () => {
      app.server.setSecureContext({ key: identity.tls.keyPem, cert: identity.tls.certPem, minVersion: 'TLSv1.2' });
      cached = null;
      logger.info({ fingerprint: identity.tls.fingerprintSha256 }, 'public HTTPS face certificate reloaded');
    },
    stop: async () => {
      await app.close();
    },
  };
}
