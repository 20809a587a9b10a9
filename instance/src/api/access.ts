import type { Access } from '@caliopen/platform/http/access.policy.ts';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../shared/errors.ts';

/**
 * Who may call a route of the instance (`Access`, declared in `config.access` on every route): public: anyone;
 * user: any logged-in account; admin: instance administrators. The server refuses to start with a route that declares
 * none, so no route can be forgotten by the access check (nor by the authorization walk test).
 */
export type { Access };

/**
 * Who calls an authenticated route. The sessions domain says what a principal holds (its account and session,
 * sessions/auth.service.ts) by adding to this interface, so that the routes of every domain can read it from this
 * floor without importing sessions/ (issue 11).
 */
// biome-ignore lint/suspicious/noEmptyInterface: completed by the sessions domain (declaration merging)
export interface Principal {}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export interface RouteEntry {
  method: string;
  url: string;
  access: Access;
  /** The route's own body limit, when it sets one (else the server's). */
  bodyLimit?: number;
  /** Whether the route declares a body schema (takes a body). */
  takesBody: boolean;
}

export type Authenticator = (token: string) => Promise<Principal>;

/** Reads the bearer token of a request, or null when there is none. Malformed headers count as a bad token. */
function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (header === undefined) return null;
  const m = /^Bearer ([^\s]+)$/i.exec(header);
  if (!m) throw new AppError('token_invalid', 'The Authorization header must be `Bearer <token>`.');
  return m[1]!;
}

/** Installs the access check and returns the live catalogue of routes (method, url, access). */
export function installAccessControl(
  app: FastifyInstance,
  authenticate: Authenticator,
  /** Routes registered by third-party plugins under these prefixes (the OpenAPI UI) are public. */
  publicPrefixes: readonly string[] = ['/api/docs'],
): RouteEntry[] {
  const catalogue: RouteEntry[] = [];
  app.decorateRequest('principal', null);

  app.addHook('onRoute', (route) => {
    let access = (route.config as { access?: Access } | undefined)?.access;
    if (!access && publicPrefixes.some((p) => route.url.startsWith(p))) {
      access = 'public';
      route.config = { ...(route.config ?? {}), access };
    }
    if (!access) throw new Error(`route ${String(route.method)} ${route.url} declares no config.access`);
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method === 'HEAD') continue;
      catalogue.push({
        method,
        url: route.url,
        access,
        takesBody: (route.schema as { body?: unknown } | undefined)?.body !== undefined,
        ...(route.bodyLimit !== undefined ? { bodyLimit: route.bodyLimit } : {}),
      });
    }
  });

  app.addHook('onRequest', async (request) => {
    const access = request.routeOptions.config.access;
    if (access === undefined) return; // 404 handler: no route matched
    const token = bearerToken(request);
    if (access === 'public') {
      return;
    }
    if (token === null) throw new AppError('unauthenticated');
    request.principal = await authenticate(token);
    if (access === 'admin' && request.principal.account.role !== 'admin')
      throw new AppError('forbidden', 'This route is for instance administrators.');
  });

  return catalogue;
}

/** The principal of an authenticated route (the access hook guarantees there is one). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new AppError('unauthenticated');
  return request.principal;
}
