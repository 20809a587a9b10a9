import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { adminRoutes } from '../accounts/admin.routes.ts';
import { meRoutes } from '../accounts/me.routes.ts';
import { contactRoutes } from '../contacts/contact.routes.ts';
import { contactKeyRoutes } from '../keys/contact-key.routes.ts';
import { accountKeyRoutes } from '../keys/account-key.routes.ts';
import { keyAlertRoutes } from '../keys/key-alert.routes.ts';
import { conversationRoutes } from '../conversations/conversation.routes.ts';
import { deviceRoutes } from '../devices/device.routes.ts';
import { composeRoutes } from '../email/compose.routes.ts';
import { remoteIdentityRoutes } from '../identities/remote-identity.routes.ts';
import { imapImportRoutes } from '../imports/imap-import.routes.ts';
import { messageRoutes } from '../messages/message.routes.ts';
import { privacyRoutes } from '../privacy/privacy.routes.ts';
import { federationStatusRoutes } from '../federation/standing.routes.ts';
import { trustSharingRoutes } from '../federation/trust-sharing.routes.ts';
import { routePreviewRoutes } from '../routing/route-preview.routes.ts';
import { authRoutes } from '../sessions/auth.routes.ts';
import { AppError, isAppError } from '../shared/errors.ts';
import type { InstanceServices } from '../app/instance.services.ts';
import { installAccessControl, type RouteEntry } from '../api/access.ts';
import { healthRoutes } from './health.routes.ts';
import { problem, ProblemSchema } from './problem.ts';
import {
  frameworkErrorHandler,
  installProblemHandling,
  requestIdOptions,
  type ProblemCatalogue,
} from './problem-handling.ts';
import { validatorCompiler } from './validation.ts';

/** The instance's error table, as the shared problem handling uses it. */
const catalogue: ProblemCatalogue<AppError['code']> = {
  problem: (code, requestId, more) => problem(code, requestId, more),
  isDomainError: isAppError,
};

export interface HttpServer {
  app: FastifyInstance;
  /** Every route with its declared access: what the authorization walk test walks. */
  routes: RouteEntry[];
}

/** Builds the instance's HTTP API: every domain's routes, OpenAPI at /api/docs, problem+json errors, metrics. */
export async function buildHttpServer(
  services: InstanceServices,
  logger: FastifyServerOptions['loggerInstance'],
): Promise<HttpServer> {
  const { config } = services;
  const app = Fastify({
    ...(logger ? { loggerInstance: logger } : { logger: false }),
    bodyLimit: config.http.bodyLimitBytes,
    trustProxy: config.http.trustProxy,
    ...requestIdOptions,
    return503OnClosing: true,
    // Errors raised by the router before any route runs (overlong or badly encoded URLs) get problem+json too.
    frameworkErrors: frameworkErrorHandler(catalogue),
  });
  app.setValidatorCompiler(validatorCompiler);
  // JSON only: any other body type is refused with 415 rather than half-parsed.
  app.removeContentTypeParser('text/plain');
  app.addSchema(ProblemSchema);

  const routes = installAccessControl(app, (token) => services.auth.authenticate(token));

  installProblemHandling(app, catalogue, { noStore: (request) => request.url.startsWith('/api/v1/') });

  app.addHook('onResponse', async (request, reply) => {
    services.metrics.httpDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_req, ctx) =>
      Object.assign(new AppError('rate_limited', `Retry in ${Math.ceil(ctx.ttl / 1000)} s.`), { statusCode: 429 }),
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
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
    },
  });
  await app.register(swaggerUi, { routePrefix: '/api/docs' });

  await app.register(healthRoutes, { services });
  await app.register(authRoutes, {
    auth: services.auth,
    metrics: services.metrics,
    loginRateLimitPerMinute: config.auth.loginRateLimitPerMinute,
  });
  await app.register(meRoutes, { accounts: services.accounts, auth: services.auth, hasher: services.hasher });
  await app.register(deviceRoutes, { devices: services.devices, privacy: services.privacy });
  await app.register(conversationRoutes, { conversations: services.conversations });
  await app.register(messageRoutes, { messages: services.messages, privacy: services.privacy });
  await app.register(privacyRoutes, { privacy: services.privacy });
  await app.register(trustSharingRoutes, { sharing: services.trustSharing, clock: services.clock });
  await app.register(federationStatusRoutes, { domain: config.domain, directory: () => services.federation ?? null });
  await app.register(contactRoutes, { contacts: services.contacts, privacy: services.privacy });
  await app.register(contactKeyRoutes, { contacts: services.contacts, keys: services.keys });
  await app.register(accountKeyRoutes, { keys: services.accountKeys });
  await app.register(keyAlertRoutes, { alerts: services.keyAlerts });
  await app.register(remoteIdentityRoutes, { identities: services.identities });
  await app.register(imapImportRoutes, { imports: services.imports });
  await app.register(adminRoutes, { accounts: services.accounts });
  await app.register(composeRoutes, {
    compose: services.outbound.compose,
    maxAttachmentBytes: config.outbound.maxAttachmentBytes,
  });
  await app.register(routePreviewRoutes, { routes: services.routes });

  return { app, routes };
}
