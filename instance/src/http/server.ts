import { randomUUID } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import { adminRoutes } from '../accounts/admin.routes.ts';
import { meRoutes } from '../accounts/me.routes.ts';
import { contactRoutes } from '../contacts/contact.routes.ts';
import { conversationRoutes } from '../conversations/conversation.routes.ts';
import { deviceRoutes } from '../devices/device.routes.ts';
import { composeRoutes } from '../email/compose.routes.ts';
import { remoteIdentityRoutes } from '../identities/remote-identity.routes.ts';
import { imapImportRoutes } from '../imports/imap-import.routes.ts';
import { messageRoutes } from '../messages/message.routes.ts';
import { authRoutes } from '../sessions/auth.routes.ts';
import { AppError, isAppError, type ErrorCode } from '../shared/errors.ts';
import type { InstanceServices } from '../app/instance.services.ts';
import { installAccessControl, type RouteEntry } from './access.ts';
import { healthRoutes } from './health.routes.ts';
import { problem, ProblemSchema } from './problem.ts';
import { validatorCompiler } from './validation.ts';

const REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

/** Fastify's own error codes, mapped onto ours. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'malformed_json',
};

export interface HttpServer {
  app: FastifyInstance;
  /** Every route with its declared access: what the authorization walk test walks. */
  routes: RouteEntry[];
}

/** Builds the instance's HTTP API: every domain's routes, OpenAPI at /api/docs, problem+json errors, metrics. */
export async function buildHttpServer(services: InstanceServices, logger: FastifyServerOptions['loggerInstance']): Promise<HttpServer> {
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
    // Errors raised by the router before any route runs (overlong or badly encoded URLs) get problem+json too.
    frameworkErrors: (error, request, reply) => {
      const body = problem(error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'uri_too_long' : 'bad_url', request.id);
      void (reply as FastifyReply).code(body.status).type('application/problem+json').send(body);
    },
  });
  app.setValidatorCompiler(validatorCompiler);
  // JSON only: any other body type is refused with 415 rather than half-parsed.
  app.removeContentTypeParser('text/plain');
  app.addSchema(ProblemSchema);

  const routes = installAccessControl(app, (token) => services.auth.authenticate(token));

  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    let body;
    if (isAppError(error)) {
      body = problem(error.code, request.id, { ...(error.detail ? { detail: error.detail } : {}), instance: request.url });
    } else if (error.validation) {
      body = problem('validation_failed', request.id, {
        detail: error.message,
        errors: error.validation.map((v) => ({
          path: `${error.validationContext ?? ''}${v.instancePath}`,
          message: v.keyword === 'additionalProperties' ? `unknown field "${String((v.params as { additionalProperty?: string }).additionalProperty)}"` : (v.message ?? 'invalid'),
        })),
      });
    } else if (error.code && FASTIFY_CODES[error.code]) {
      body = problem(FASTIFY_CODES[error.code]!, request.id, { detail: error.message });
    } else if (error.statusCode === 429) {
      body = problem('rate_limited', request.id);
    } else if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      body = problem('validation_failed', request.id, { detail: error.message, status: error.statusCode });
    } else {
      // Log the error itself (stack, code), never the request body.
      request.log.error({ err: error }, 'unhandled error');
      body = problem('internal_error', request.id);
    }
    if (body.status === 429 && !reply.hasHeader('retry-after')) reply.header('retry-after', '60');
    return reply.code(body.status).type('application/problem+json').send(body);
  });

  app.setNotFoundHandler((request, reply) => {
    const body = problem('route_not_found', request.id, { detail: `${request.method} ${request.url.split('?')[0]}` });
    return reply.code(404).type('application/problem+json').send(body);
  });

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    if (request.url.startsWith('/api/v1/')) reply.header('cache-control', 'no-store');
  });

  app.addHook('onResponse', async (request, reply) => {
    services.metrics.httpDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_req, ctx) => Object.assign(new AppError('rate_limited', `Retry in ${Math.ceil(ctx.ttl / 1000)} s.`), { statusCode: 429 }),
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Caliopen instance API',
        version: '1',
        description: 'Errors are application/problem+json with a stable `code` (see docs/errors.md).',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/api/docs' });

  await app.register(healthRoutes, { services });
  await app.register(authRoutes, { auth: services.auth, metrics: services.metrics, loginRateLimitPerMinute: config.auth.loginRateLimitPerMinute });
  await app.register(meRoutes, { accounts: services.accounts, auth: services.auth, hasher: services.hasher });
  await app.register(deviceRoutes, { devices: services.devices });
  await app.register(conversationRoutes, { conversations: services.conversations });
  await app.register(messageRoutes, { messages: services.messages });
  await app.register(contactRoutes, { contacts: services.contacts });
  await app.register(remoteIdentityRoutes, { identities: services.identities });
  await app.register(imapImportRoutes, { imports: services.imports });
  await app.register(adminRoutes, { accounts: services.accounts });
  await app.register(composeRoutes, { compose: services.outbound.compose, maxAttachmentBytes: config.outbound.maxAttachmentBytes });

  return { app, routes };
}
