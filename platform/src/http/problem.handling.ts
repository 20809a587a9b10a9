import { randomUUID } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * What every Caliopen HTTP server (the instance API, the registry) does with errors and request metadata, in one
 * place: each server brings its own error table (codes, statuses, titles, problem `type` namespace); this module turns
 * its domain errors, schema violations, fastify's own refusals and the unexpected into RFC 9457 problem+json, echoes a
 * safe request id, and sets the headers every answer carries.
 */

/** The generic codes every error table has (the names are the same in both tables). */
export type GenericCode =
  | 'malformed_json'
  | 'validation_failed'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'route_not_found'
  | 'rate_limited'
  | 'internal_error'
  | 'uri_too_long'
  | 'bad_url';

export interface ProblemBody {
  status: number;
}

export interface ProblemCatalogue<Code extends string> {
  /** Builds a problem document for a code of the table. */
  problem(code: Code | GenericCode, requestId: string, more?: Record<string, unknown>): ProblemBody;
  /** Recognises the server's own domain errors. */
  isDomainError(
    e: unknown,
  ): e is { code: Code; detail: string | undefined; extra?: Record<string, unknown> | undefined };
}

/** Fastify's own error codes, mapped onto ours. */
const FASTIFY_CODES: Record<string, GenericCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'malformed_json',
};

const REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

/** Fastify options: the client's request id when it is safe to echo and log, a fresh UUID otherwise. */
export const requestIdOptions = {
  requestIdHeader: false as const,
  genReqId: (req: { headers: Record<string, string | string[] | undefined> }) => {
    const given = req.headers['x-request-id'];
    return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
  },
};

function send(reply: FastifyReply, body: ProblemBody): FastifyReply {
  if (body.status === 429 && !reply.hasHeader('retry-after')) reply.header('retry-after', '60');
  return reply.code(body.status).type('application/problem+json').send(body);
}

/**
 * For fastify's `frameworkErrors` option: errors the router raises before any route runs (an overlong parameter, a
 * badly percent-encoded URL).
 */
export function frameworkErrorHandler<Code extends string>(catalogue: ProblemCatalogue<Code>) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    void send(
      reply,
      catalogue.problem(error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'uri_too_long' : 'bad_url', request.id),
    );
  };
}

export function installProblemHandling<Code extends string>(
  app: FastifyInstance,
  catalogue: ProblemCatalogue<Code>,
  options: { noStore: (request: FastifyRequest) => boolean },
): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const instance = request.url.split('?')[0]!;
    let body: ProblemBody;
    if (catalogue.isDomainError(error)) {
      body = catalogue.problem(error.code, request.id, {
        ...(error.detail ? { detail: error.detail } : {}),
        instance,
        ...(error.extra ?? {}),
      });
    } else if (error.validation) {
      body = catalogue.problem('validation_failed', request.id, {
        detail: error.message,
        errors: error.validation.map((v) => ({
          path: `${error.validationContext ?? ''}${v.instancePath}`,
          message:
            v.keyword === 'additionalProperties'
              ? `unknown field "${String((v.params as { additionalProperty?: string }).additionalProperty)}"`
              : (v.message ?? 'invalid'),
        })),
      });
    } else if (error.code && FASTIFY_CODES[error.code]) {
      body = catalogue.problem(FASTIFY_CODES[error.code]!, request.id, { detail: error.message });
    } else if (error.statusCode === 429) {
      body = catalogue.problem('rate_limited', request.id);
    } else if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      body = catalogue.problem('validation_failed', request.id, { detail: error.message, status: error.statusCode });
    } else {
      // The error itself (stack, code) goes to the log, never the request body.
      request.log.error({ err: error }, 'unhandled error');
      body = catalogue.problem('internal_error', request.id);
    }
    return send(reply, body);
  });

  app.setNotFoundHandler((request, reply) =>
    send(
      reply,
      catalogue.problem('route_not_found', request.id, { detail: `${request.method} ${request.url.split('?')[0]}` }),
    ),
  );

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    if (!reply.hasHeader('cache-control') && options.noStore(request)) reply.header('cache-control', 'no-store');
  });
}
