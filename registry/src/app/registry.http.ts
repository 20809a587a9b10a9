import { buildApiServer } from '@caliopen/platform/http/server.bootstrap.ts';
import type { FastifyServerOptions } from 'fastify';
import { Type } from 'typebox';
import type { RegistryServices } from './registry.services.ts';
import { applicationRoutes } from '../labels/application.routes.ts';
import { auditRoutes } from '../labels/audit.routes.ts';
import { feedRoutes } from '../feed/feed.routes.ts';
import { logRoutes } from '../log/log.routes.ts';
import { publicDirectoryRoutes } from '../feed/public-directory.routes.ts';
import { registryWebPlugin } from '../http/registry-web.plugin.ts';
import { registryErrors } from '../shared/errors.ts';
import { installRegistryAccessControl, type RegistryRouteEntry } from '../labels/registry.access.ts';

export interface RegistryHttpServer {
  app: import('fastify').FastifyInstance;
  routes: RegistryRouteEntry[];
}

/**
 * The registry's own HTTP API, on the platform's bootstrap: problem+json errors with the registry's codes, OpenAPI at
 * /docs; then health, metrics and the registry's routes.
 */
export async function buildRegistryServer(
  services: RegistryServices,
  logger: FastifyServerOptions['loggerInstance'],
): Promise<RegistryHttpServer> {
  const { config } = services;
  const { app, routes } = await buildApiServer({
    logger,
    bodyLimitBytes: config.http.bodyLimitBytes,
    trustProxy: config.http.trustProxy,
    errors: registryErrors,
    installAccess: (app) =>
      installRegistryAccessControl(app, {
        applicant: (token) => services.applications.authenticate(token),
        auditor: (token) => services.auditors.authenticate(token),
      }),
    noStore: (request) => request.routeOptions.config.access !== 'public',
    httpDuration: services.metrics.httpDuration,
    openapi: {
      title: 'Caliopen registry API',
      description: 'Errors are application/problem+json with a stable `code` (see docs/registry-errors.md).',
      bearerByDefault: false,
    },
    docsPrefix: '/docs',
  });

  app.get(
    '/healthz',
    {
      config: { access: 'public' },
      schema: {
        tags: ['operations'],
        summary: 'Ready when the storage answers.',
        querystring: Type.Object({}, { additionalProperties: false }),
      },
    },
    async (_request, reply) => {
      const ok = await services.storage.ping().catch(() => false);
      if (!ok) return reply.code(503).send({ status: 'unavailable', failing: ['storage'] });
      return {
        status: 'ok',
        origin: config.origin,
        engines: { storage: services.storage.engine, queue: services.queue.engine },
      };
    },
  );
  app.get(
    '/metrics',
    {
      config: { access: 'public' },
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics (text format).',
        querystring: Type.Object({}, { additionalProperties: false }),
      },
    },
    async (_request, reply) => {
      reply.type(services.metrics.registry.contentType);
      return services.metrics.registry.metrics();
    },
  );

  await app.register(applicationRoutes, {
    applications: services.applications,
    audits: services.audits,
    checks: services.checks,
    storage: services.storage,
    labels: services.labels,
    rateLimitPerMinute: config.http.applyRateLimitPerMinute,
    view: {
      showAuditorNames: config.audit.applicantsSeeAuditorNames,
      renewAtFraction: config.labels.renewAtFraction,
    },
  });
  await app.register(auditRoutes, {
    audits: services.audits,
    auditors: services.auditors,
    revocations: services.revocations,
    checks: services.checks,
    keys: services.keys,
    storage: services.storage,
    clock: services.clock,
    loginRateLimitPerMinute: config.audit.loginRateLimitPerMinute,
  });
  await app.register(feedRoutes, {
    feed: services.feed,
    keys: services.keys,
    storage: services.storage,
    checks: services.checks,
    clock: services.clock,
  });
  await app.register(logRoutes, { log: services.log, clock: services.clock });
  await app.register(publicDirectoryRoutes, {
    storage: services.storage,
    checks: services.checks,
    log: services.log,
    clock: services.clock,
  });
  await app.register(registryWebPlugin);

  return { app, routes };
}
