import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { Access } from './access.policy.ts';

/**
 * A single-page web app built by Vite (a folder with index.html and hashed files under assets/), served at `/` by a
 * Caliopen server: the instance serves the user's app, the registry the association's public site.
 * - a file of the build by its path; a path that names no file gets index.html (the app's client routes, so that a
 *   bookmark or a reload works), unless it ends in an extension the build emits (`.js`, `.css`...): a missing asset is
 *   a 404, not a page of HTML where a script was expected;
 * - the server's own paths (`serverPaths`: the API, its docs, health) are never the app's: an unknown one keeps the
 *   server's problem+json 404;
 * - a strict Content-Security-Policy (the caller's), no framing, no sniffing, no referrer;
 * - hashed assets are cached for a year, other files for an hour, index.html never;
 * - without a build, the app's paths answer `notBuiltPage` (503, no script) saying how to make one.
 */
export interface SinglePageAppOptions {
  /** The build: the folder holding index.html. */
  distDir: string;
  /** The Content-Security-Policy of every answer of the app. */
  csp: string;
  /** Path prefixes that belong to the server ('/api' covers /api and /api/...). */
  serverPaths: readonly string[];
  /** The HTML page (no script) answered when the build is missing. */
  notBuiltPage: string;
}

/**
 * Extensions of files a Vite build emits: such a path that names no file is a 404. Any other dot is a client route's
 * (a domain in /members/example.org, an address in /contacts/alice@example.org).
 */
const ASSET_EXTENSIONS = new Set([
  '.js',
  '.mjs',
  '.css',
  '.map',
  '.html',
  '.json',
  '.svg',
  '.png',
  '.jpg',
  '.webp',
  '.ico',
  '.woff',
  '.woff2',
  '.txt',
  '.wasm',
]);

function setSecurityHeaders(reply: FastifyReply, csp: string): void {
  reply.header('content-security-policy', csp);
  reply.header('x-frame-options', 'DENY');
  reply.header('x-content-type-options', 'nosniff');
  reply.header('cross-origin-opener-policy', 'same-origin');
  reply.header('cross-origin-resource-policy', 'same-origin');
  reply.header('referrer-policy', 'no-referrer');
  reply.header('permissions-policy', 'camera=(), microphone=(), geolocation=(), interest-cohort=()');
}

/** The file under `root` a URL path names, relative to root, or null (outside root, not a file, or undecodable). */
export function fileFor(root: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  const rel = path.posix.normalize(decoded).replace(/^\/+/, '');
  if (rel === '' || rel.startsWith('..')) return null;
  const full = path.resolve(root, rel);
  if (!full.startsWith(root + path.sep)) return null;
  try {
    return statSync(full).isFile() ? rel : null;
  } catch {
    return null;
  }
}

const under = (urlPath: string, prefix: string) => urlPath === prefix || urlPath.startsWith(`${prefix}/`);

export const singlePageAppPlugin: FastifyPluginAsync<SinglePageAppOptions> = async (app, options) => {
  const root = path.resolve(options.distDir);
  const built = existsSync(path.join(root, 'index.html'));
  if (built) await app.register(fastifyStatic, { root, serve: false, index: false, cacheControl: false });

  const handler = async (request: { url: string }, reply: FastifyReply) => {
    const urlPath = request.url.split('?')[0] ?? '/';
    if (options.serverPaths.some((p) => under(urlPath, p))) return reply.callNotFound();
    setSecurityHeaders(reply, options.csp);
    const file = built ? fileFor(root, urlPath) : null;
    if (file !== null && file !== 'index.html') {
      reply.header(
        'cache-control',
        file.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'public, max-age=3600',
      );
      return reply.sendFile(file);
    }
    const extension = path.posix.extname(urlPath).toLowerCase();
    if (file === null && ASSET_EXTENSIONS.has(extension)) return reply.callNotFound();
    reply.header('cache-control', 'no-cache');
    if (!built) return reply.code(503).type('text/html; charset=utf-8').send(options.notBuiltPage);
    return reply.type('text/html; charset=utf-8').sendFile('index.html');
  };

  const route = { config: { access: 'public' as Access }, schema: { hide: true } };
  app.get('/', route, handler);
  app.get('/*', route, handler);
};
