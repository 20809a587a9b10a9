import type { Access } from '@caliopen/platform/http/access.policy.ts';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Application } from './application.entity.ts';
import type { Auditor, AuditorSession } from './audit.entity.ts';
import { RegistryError } from '../shared/errors.ts';

/**
 * Who may call a registry route, declared in `config.access` on every route (the server refuses a route without
 * one, and the authorization walk test reads the same catalogue). The registry uses the project's three levels:
 * - `public`: anyone (the feed, keys, log, public records, directory, applying, logging in);
 * - `user`: an applicant, with the bearer token its application returned — and only for that application;
 * - `admin`: an auditor of the association, with a session from `POST /v1/auth/login` (bearer token, or the
 *   console's HttpOnly SameSite=Strict cookie).
 */
export type RegistryAccess = Access;

export type RegistryPrincipal =
  | { kind: 'applicant'; application: Application }
  | { kind: 'auditor'; auditor: Auditor; session: AuditorSession };

declare module 'fastify' {
  interface FastifyRequest {
    registryPrincipal: RegistryPrincipal | null;
  }
}

export interface RegistryRouteEntry {
  method: string;
  url: string;
  access: RegistryAccess;
}

export interface RegistryAuthenticators {
  applicant(token: string): Promise<Application | null>;
  auditor(token: string): Promise<{ auditor: Auditor; session: AuditorSession } | null>;
}

/**
 * The auditor console's session cookie: HttpOnly (no script reads it), SameSite=Strict (no other site's page sends
 * it), Path=/v1, Secure on HTTPS. It carries the same session token as the bearer form and is accepted on auditor
 * routes only; an applicant token is never a cookie.
 */
export const AUDITOR_COOKIE = 'caliopen_auditor';

/** The auditor cookie's value, when the request carries exactly one well-formed one. */
export function auditorCookie(request: FastifyRequest): string | null {
  const header = request.headers.cookie;
  if (typeof header !== 'string') return null;
  const values = header
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part.startsWith(`${AUDITOR_COOKIE}=`))
    .map((part) => part.slice(AUDITOR_COOKIE.length + 1));
  return values.length === 1 && values[0] !== '' ? values[0]! : null;
}

/** A cookie-authenticated request that changes something must come from the registry's own pages. */
function checkSameOrigin(request: FastifyRequest): void {
  if (request.method === 'GET' || request.method === 'HEAD') return;
  const origin = request.headers.origin;
  if (origin === undefined) return;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    throw new RegistryError('forbidden', 'The Origin header is malformed.');
  }
  if (host !== request.headers.host)
    throw new RegistryError('forbidden', 'A console request must come from the registry’s own pages.');
}

function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (header === undefined) return null;
  const m = /^Bearer ([^\s]+)$/i.exec(header);
  if (!m) throw new RegistryError('token_invalid', 'The Authorization header must be `Bearer <token>`.');
  return m[1]!;
}

/** Installs the access check and returns the live catalogue of routes. */
export function installRegistryAccessControl(
  app: FastifyInstance,
  auth: RegistryAuthenticators,
  publicPrefixes: readonly string[] = ['/docs'],
): RegistryRouteEntry[] {
  const catalogue: RegistryRouteEntry[] = [];
  app.decorateRequest('registryPrincipal', null);

  app.addHook('onRoute', (route) => {
    let access = (route.config as { access?: RegistryAccess } | undefined)?.access;
    if (!access && publicPrefixes.some((p) => route.url.startsWith(p))) {
      access = 'public';
      route.config = { ...(route.config ?? {}), access };
    }
    if (!access) throw new Error(`route ${String(route.method)} ${route.url} declares no config.access`);
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) {
      if (method !== 'HEAD') catalogue.push({ method, url: route.url, access });
    }
  });

  app.addHook('onRequest', async (request) => {
    const access = request.routeOptions.config.access;
    if (access === undefined || access === 'public') return;
    let token = bearerToken(request);
    if (token === null && access === 'admin') {
      token = auditorCookie(request);
      if (token !== null) checkSameOrigin(request);
    }
    if (token === null) throw new RegistryError('unauthenticated');
    if (access === 'admin') {
      const auditor = await auth.auditor(token);
      if (auditor !== null) {
        request.registryPrincipal = { kind: 'auditor', ...auditor };
        return;
      }
      if ((await auth.applicant(token)) !== null)
        throw new RegistryError('forbidden', 'This route is for the association auditors.');
      throw new RegistryError('token_invalid');
    }
    const application = await auth.applicant(token);
    if (application !== null) {
      request.registryPrincipal = { kind: 'applicant', application };
      return;
    }
    if ((await auth.auditor(token)) !== null)
      throw new RegistryError('forbidden', 'This route is for the applicant, with its application token.');
    throw new RegistryError('token_invalid');
  });

  return catalogue;
}

export function auditorOf(request: FastifyRequest): { auditor: Auditor; session: AuditorSession } {
  const p = request.registryPrincipal;
  if (p?.kind !== 'auditor') throw new RegistryError('unauthenticated');
  return p;
}

/** The applicant's own application; another application is indistinguishable from a missing one. */
export function applicantApplication(request: FastifyRequest, id: string): Application {
  const p = request.registryPrincipal;
  if (p?.kind !== 'applicant') throw new RegistryError('unauthenticated');
  if (p.application.id !== id) throw new RegistryError('not_found', 'No such application.');
  return p.application;
}
