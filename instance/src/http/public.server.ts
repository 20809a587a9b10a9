import Fastify from 'fastify';
import type { Logger } from 'pino';
import type { InstanceIdentity } from '../identity/instance-identity.ts';
import { readApplicationState } from '../registry-client/application.store.ts';
import { wkdRoutes, type WkdRoutesOptions } from '../discovery/wkd.ts';
import { federationRoutes, type InboxDeps } from '../federation/inbox.routes.ts';

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
}

const TOKEN = /^[A-Za-z0-9_-]{16,128}$/;

/**
 * The instance's public HTTPS face, presenting the instance certificate: what registries and peer instances fetch
 * (the signed descriptor, the registry's domain-control challenge, the federation prekeys and inbox).
 * Nothing here is per-user; nothing here needs a login.
 */
export async function buildPublicServer(options: PublicServerOptions) {
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
    },
    bodyLimit: 64 * 1024,
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
