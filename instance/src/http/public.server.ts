import Fastify from 'fastify';
import { FEDERATION_HTTP_ERRORS, ERROR_CODES as PROTOCOL_ERRORS } from '@caliopen/federation-protocol';
import type { Logger } from 'pino';
import type { InstanceIdentity } from '../identity/instance-identity.ts';
import { readApplicationState } from '../registry-client/application.store.ts';
import { wkdRoutes, type WkdRoutesOptions } from '../discovery/wkd.ts';
import { federationRoutes, type InboxDeps } from '../federation/inbox.routes.ts';
import { TokenBuckets, type RateAllowance } from '../shared/token-bucket.ts';

/** What bounds the public face against anonymous exhaustion (config https.*, docs/configuration.md). */
export interface PublicFaceLimits {
  /** A request's headers must be complete this long after its first byte. */
  headersTimeoutMs: number;
  /** A whole request, body included, must be received this long after its first byte. */
  requestTimeoutMs: number;
  /** A connection silent this long is closed (the TLS handshake included). */
  idleTimeoutMs: number;
  /** A kept-alive connection waits this long for its next request. */
  keepAliveTimeoutMs: number;
  /** Requests per client address, every route. */
  perIp: RateAllowance;
}

export const DEFAULT_PUBLIC_FACE_LIMITS: PublicFaceLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 120_000,
  idleTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  perIp: { burst: 300, perSecond: 50 },
};

/** Bodies of the routes that are not the inbox (none takes more than a few bytes): read only up to this. */
export const PUBLIC_BODY_LIMIT_BYTES = 16 * 1024;

export interface PublicServerOptions {
  identity: InstanceIdentity;
  dataDir: string;
  /** The signed instance descriptor (compact JWS), served at /.well-known/caliopen. */
  descriptor: () => Promise<string>;
  logger: Logger;
  /** Serve the users' keys by Web Key Directory (/.well-known/openpgpkey/...). */
  wkd?: Omit<WkdRoutesOptions, 'domain'>;
  /** The federation endpoints: prekeys and the inbox (instance/src/federation/inbox.routes.ts). */
  federation?: InboxDeps;
  /** Timeouts and the per-address allowance (DEFAULT_PUBLIC_FACE_LIMITS). */
  limits?: PublicFaceLimits;
}

const TOKEN = /^[A-Za-z0-9_-]{16,128}$/;

/**
 * The instance's public HTTPS face, presenting the instance certificate: what registries and peer instances fetch
 * (the signed descriptor, the registry's domain-control challenge, the federation prekeys and inbox).
 * Nothing here is per-user; nothing here needs a login. Bounded against anonymous exhaustion (ADR 0023): header,
 * request and idle timeouts, a request allowance per client address, bodies read only up to 16 KiB except the
 * inbox's, which reads one only from an authenticated peer (inbox.routes.ts).
 */
export async function buildPublicServer(options: PublicServerOptions) {
  const limits = options.limits ?? DEFAULT_PUBLIC_FACE_LIMITS;
  const app = Fastify({
    loggerInstance: options.logger,
    // A client certificate is requested (never required by TLS itself): the federation inbox checks it against the
    // feed's fingerprint for the sending instance (SPEC.md §5); the other routes ignore it.
    https: {
      key: options.identity.tls.keyPem,
      cert: options.identity.tls.certPem,
      minVersion: 'TLSv1.2',
      requestCert: true,
      rejectUnauthorized: false,
      // Nobody holds a connection open for free: a handshake, headers that drip, a body that drips, a silent socket.
      handshakeTimeout: limits.idleTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      // How often node checks the header and request deadlines (its default, 30 s, would let a drip last that long).
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
    },
    connectionTimeout: limits.idleTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    bodyLimit: PUBLIC_BODY_LIMIT_BYTES,
  });
  app.server.headersTimeout = limits.headersTimeoutMs;

  // Every request from one address takes a token (anonymous or not, before anything else is done for it); beyond its
  // allowance: 429 peer_rate_limited with Retry-After, and the connection is closed without reading a body.
  const perIp = new TokenBuckets(limits.perIp, () => Date.now());
  app.addHook('onRequest', async (request, reply) => {
    const wait = perIp.take(request.ip);
    if (wait === 0) return;
    // Debug only: a flood must not become a flood of log lines.
    options.logger.debug({ code: 'peer_rate_limited' }, 'public face request refused: too many from one address');
    const status = FEDERATION_HTTP_ERRORS.peer_rate_limited.status;
    await reply
      .code(status)
      .header('retry-after', String(wait))
      .header('connection', 'close')
      .type('application/problem+json')
      .send({
        type: 'about:blank',
        title: PROTOCOL_ERRORS.peer_rate_limited,
        status,
        code: 'peer_rate_limited',
        detail: `At most ${limits.perIp.burst} requests at once from one address; retry in ${wait} s.`,
      });
    return reply;
  });

  app.get('/.well-known/caliopen', async (_request, reply) => {
    reply.header('cache-control', 'max-age=300');
    return reply.type('application/jose').send(await options.descriptor());
  });

  app.get<{ Params: { token: string } }>('/.well-known/caliopen-challenge/:token', async (request, reply) => {
    const state = readApplicationState(options.dataDir);
    const token = request.params.token;
    if (!TOKEN.test(token) || !state?.challenge || state.challenge.token !== token) {
      return reply.code(404).type('text/plain').send('no such challenge\n');
    }
    return reply.type('text/plain').send(state.challenge.value);
  });

  if (options.wkd) await app.register(wkdRoutes({ domain: options.identity.domain, ...options.wkd }));
  if (options.federation) await app.register(federationRoutes(options.federation));

  app.get('/healthz', async () => ({ status: 'ok', domain: options.identity.domain }));
  return app;
}
