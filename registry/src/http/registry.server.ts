import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import {
  frameworkErrorHandler,
  installProblemHandling,
  requestIdOptions,
  type ProblemCatalogue,
} from '@caliopen/instance/http/problem-handling.ts';
import { validatorCompiler } from '@caliopen/instance/http/validation.ts';
import Fastify, { type FastifyServerOptions } from 'fastify';
import { Type } from 'typebox';
import type { RegistryServices } from '../app/registry.services.ts';
import { applicationRoutes } from '../labels/application.routes.ts';
import { auditRoutes } from '../labels/audit.routes.ts';
import { feedRoutes } from '../feed/feed.routes.ts';
import { logRoutes } from '../log/log.routes.ts';
import { isRegistryError, RegistryError, type RegistryErrorCode } from '../shared/errors.ts';
import { installRegistryAccessControl, type RegistryRouteEntry } from '../labels/registry.access.ts';
import { registryProblem, RegistryProblemSchema } from './registry.problem.ts';

/** The registry's error table, as the shared problem handling uses it. */
const catalogue: ProblemCatalogue<RegistryErrorCode> = {
  problem: (code, requestId, more) => registryProblem(code, requestId, more),
  isDomainError: isRegistryError,
};

export interface RegistryHttpServer {
  app: import('fastify').FastifyInstance;
  routes: RegistryRouteEntry[];
}

/** The registry's own HTTP API (fastify): problem+json errors with the registry's codes, OpenAPI at /docs. */
export async function buildRegistryServer(
  services: RegistryServices,
  logger: FastifyServerOptions['loggerInstance'],
): Promise<RegistryHttpServer> {
  const { config } = services;
  const app = Fastify({
    ...(logger ? { loggerInstance: logger } : { logger: false }),
    bodyLimit: config.http.bodyLimitBytes,
    trustProxy: config.http.trustProxy,
    ...requestIdOptions,
    return503OnClosing: true,
    frameworkErrors: frameworkErrorHandler(catalogue),
  });
  app.setValidatorCompiler(validatorCompiler);
  app.removeContentTypeParser('text/plain');
  app.addSchema(RegistryProblemSchema);

  const routes = installRegistryAccessControl(app, {
    applicant: (token) => services.applications.authenticate(token),
    auditor: (token) => services.auditors.authenticate(token),
  });

  installProblemHandling(app, catalogue, { noStore: (request) => request.routeOptions.config.access !== 'public' });

  app.addHook('onResponse', async (request, reply) => {
    services.metrics.httpDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_req, ctx) =>
      Object.assign(new RegistryError('rate_limited', `Retry in ${Math.ceil(ctx.ttl / 1000)} s.`), { statusCode: 429 }),
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Caliopen registry API',
        version: '1',
        description: 'Errors are application/problem+json with a stable `code` (see docs/registry-errors.md).',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

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
    rateLimitPerMinute: config.http.applyRateLimitPerMinute,
  });
  await app.register(auditRoutes, {
    audits: services.audits,
    auditors: services.auditors,
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

  return { app, routes };
}
