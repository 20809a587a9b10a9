import { randomUUID } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { validatorCompiler } from '@caliopen/instance/http/validation.ts';
import Fastify, { type FastifyError, type FastifyReply, type FastifyServerOptions } from 'fastify';
import { Type } from 'typebox';
import type { RegistryServices } from '../app/registry.services.ts';
import { applicationRoutes } from '../applications/application.routes.ts';
import { auditRoutes } from '../audits/audit.routes.ts';
import { feedRoutes } from '../feed/feed.routes.ts';
import { logRoutes } from '../log/log.routes.ts';
import { isRegistryError, RegistryError, type RegistryErrorCode } from '../shared/errors.ts';
import { installRegistryAccessControl, type RegistryRouteEntry } from './registry.access.ts';
import { registryProblem, RegistryProblemSchema } from './registry.problem.ts';

const REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

const FASTIFY_CODES: Record<string, RegistryErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'malformed_json',
};

export interface RegistryHttpServer {
  app: import('fastify').FastifyInstance;
  routes: RegistryRouteEntry[];
}

/** The registry's own HTTP API (fastify): problem+json errors with the registry's codes, OpenAPI at /docs. */
export async function buildRegistryServer(services: RegistryServices, logger: FastifyServerOptions['loggerInstance']): Promise<RegistryHttpServer> {
  const { config } = services;
  const app = Fastify({
    ...(logger ? { loggerInstance: logger } : { logger: false }),
    bodyLimit: config.http.bodyLimitBytes,
    trustProxy: config.http.trustProxy,
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    return503OnClosing: true,
    frameworkErrors: (error, request, reply) => {
      const body = registryProblem(error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'uri_too_long' : 'bad_url', request.id);
      void (reply as FastifyReply).code(body.status).type('application/problem+json').send(body);
    },
  });
  app.setValidatorCompiler(validatorCompiler);
  app.removeContentTypeParser('text/plain');
  app.addSchema(RegistryProblemSchema);

  const routes = installRegistryAccessControl(app, {
    applicant: (token) => services.applications.authenticate(token),
    auditor: (token) => services.auditors.authenticate(token),
  });

  app.setErrorHandler((error: FastifyError | RegistryError, request, reply) => {
    let body;
    if (isRegistryError(error)) {
      body = registryProblem(error.code, request.id, { ...(error.detail ? { detail: error.detail } : {}), instance: request.url.split('?')[0]!, ...(error.extra ?? {}) });
    } else if (error.validation) {
      body = registryProblem('validation_failed', request.id, {
        detail: error.message,
        errors: error.validation.map((v) => ({
          path: `${error.validationContext ?? ''}${v.instancePath}`,
          message: v.keyword === 'additionalProperties' ? `unknown field "${String((v.params as { additionalProperty?: string }).additionalProperty)}"` : (v.message ?? 'invalid'),
        })),
      });
    } else if (error.code && FASTIFY_CODES[error.code]) {
      body = registryProblem(FASTIFY_CODES[error.code]!, request.id, { detail: error.message });
    } else if (error.statusCode === 429) {
      body = registryProblem('rate_limited', request.id);
    } else if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      body = registryProblem('validation_failed', request.id, { detail: error.message, status: error.statusCode });
    } else {
      request.log.error({ err: error }, 'unhandled error');
      body = registryProblem('internal_error', request.id);
    }
    if (body.status === 429 && !reply.hasHeader('retry-after')) reply.header('retry-after', '60');
    return reply.code(body.status).type('application/problem+json').send(body);
  });

  app.setNotFoundHandler((request, reply) => {
    const body = registryProblem('route_not_found', request.id, { detail: `${request.method} ${request.url.split('?')[0]}` });
    return reply.code(404).type('application/problem+json').send(body);
  });

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    if (!reply.hasHeader('cache-control') && request.routeOptions.config.access !== 'public') reply.header('cache-control', 'no-store');
  });

  app.addHook('onResponse', async (request, reply) => {
    services.metrics.httpDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_req, ctx) => Object.assign(new RegistryError('rate_limited', `Retry in ${Math.ceil(ctx.ttl / 1000)} s.`), { statusCode: 429 }),
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Caliopen registry API', version: '1', description: 'Errors are application/problem+json with a stable `code` (see docs/registry-errors.md).' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.get(
    '/healthz',
    {
      config: { access: 'public' },
      schema: { tags: ['operations'], summary: 'Ready when the storage answers.', querystring: Type.Object({}, { additionalProperties: false }) },
    },
    async (_request, reply) => {
      const ok = await services.storage.ping().catch(() => false);
      if (!ok) return reply.code(503).send({ status: 'unavailable', failing: ['storage'] });
      return { status: 'ok', origin: config.origin, engines: { storage: services.storage.engine, queue: services.queue.engine } };
    },
  );
  app.get(
    '/metrics',
    { config: { access: 'public' }, schema: { tags: ['operations'], summary: 'Prometheus metrics (text format).', querystring: Type.Object({}, { additionalProperties: false }) } },
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
  await app.register(auditRoutes, { audits: services.audits, auditors: services.auditors, loginRateLimitPerMinute: config.audit.loginRateLimitPerMinute });
  await app.register(feedRoutes, { feed: services.feed, keys: services.keys, storage: services.storage, checks: services.checks, clock: services.clock });
  await app.register(logRoutes, { log: services.log, clock: services.clock });

  return { app, routes };
}
