import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { ErrorCatalogue, ErrorEntry } from '../errors/error.catalogue.ts';
import {
  frameworkErrorHandler,
  type GenericCode,
  installProblemHandling,
  type ProblemCatalogue,
  requestIdOptions,
} from './problem.handling.ts';
import { validatorCompiler } from './schema.validation.ts';

/**
 * How every Caliopen HTTP API starts, before its own routes: fastify with a body limit and a safe request id, strict
 * schema validation, JSON only (anything else is a 415), the server's problem schema, its access check (installed
 * before any route so none escapes it), problem+json errors with the server's codes, request durations observed,
 * rate limiting available per route (a 429 carries the server's `rate_limited`), OpenAPI with its UI.
 */
export interface ApiServerOptions<Table extends Record<GenericCode, ErrorEntry>, Routes> {
  logger: FastifyServerOptions['loggerInstance'];
  bodyLimitBytes: number;
  trustProxy: boolean;
  /** The server's error catalogue (its codes, problem documents and schema). */
  errors: ErrorCatalogue<Table>;
  /** Installs the server's access check (an onRoute and an onRequest hook) and returns its catalogue of routes. */
  installAccess: (app: FastifyInstance) => Routes;
  /** Answers that must not be cached unless the route says otherwise. */
  noStore: (request: FastifyRequest) => boolean;
  /** The request-duration histogram (prom-client's fits). */
  httpDuration: { observe(labels: { method: string; route: string; status: string }, seconds: number): void };
  openapi: {
    title: string;
    description: string;
    /** Whether every route asks for the bearer token by default (the instance) or each declares it (the registry). */
    bearerByDefault: boolean;
  };
  /** Where the OpenAPI UI is served: `/api/docs`, `/docs`. */
  docsPrefix: string;
}

export async function buildApiServer<Table extends Record<GenericCode, ErrorEntry>, Routes>(
  options: ApiServerOptions<Table, Routes>,
): Promise<{ app: FastifyInstance; routes: Routes }> {
  const { errors } = options;
  const catalogue: ProblemCatalogue<keyof Table & string> = {
    problem: (code, requestId, more) => errors.problem(code, requestId, more),
    isDomainError: errors.isError,
  };
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: options.bodyLimitBytes,
    trustProxy: options.trustProxy,
    ...requestIdOptions,
    return503OnClosing: true,
    // Errors raised by the router before any route runs (overlong or badly encoded URLs) get problem+json too.
    frameworkErrors: frameworkErrorHandler(catalogue),
  });
  app.setValidatorCompiler(validatorCompiler);
  // JSON only: any other body type is refused with 415 rather than half-parsed.
  app.removeContentTypeParser('text/plain');
  app.addSchema(errors.ProblemSchema);

  const routes = options.installAccess(app);

  installProblemHandling(app, catalogue, { noStore: options.noStore });

  app.addHook('onResponse', async (request, reply) => {
    options.httpDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_req, ctx) =>
      Object.assign(new errors.Error('rate_limited', `Retry in ${Math.ceil(ctx.ttl / 1000)} s.`), { statusCode: 429 }),
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: options.openapi.title, version: '1', description: options.openapi.description },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      ...(options.openapi.bearerByDefault ? { security: [{ bearer: [] }] } : {}),
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
    },
  });
  await app.register(swaggerUi, { routePrefix: options.docsPrefix });

  return { app, routes };
}
