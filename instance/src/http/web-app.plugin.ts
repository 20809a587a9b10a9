import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';

/**
 * The user's web app (web/, built by Vite into web/dist at `npm ci`) served at `/`.
 * - files of web/dist by path; any other path without a file extension gets index.html (the app's client routes:
 *   /sign-in, /discussions/<id>...), so a bookmark or a reload works;
 * - `/api/...` is never the app's: an unknown API path keeps its problem+json 404;
 * - a strict Content-Security-Policy: the app's own origin only, no inline script or style, no framing, no plugins;
 * - when web/dist is missing, the app's paths answer a short page (no script) saying how to build it.
 */
export const WEB_APP_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  // blob: for the remote images of a mail the user chose to load: fetched by the instance (its image proxy), never by
  // the browser from their host, which would learn the reader's address (the frame adds its own, stricter policy).
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const DEFAULT_WEB_DIST = fileURLToPath(new URL('../../../web/dist/', import.meta.url));

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Caliopen: web app not built</title></head>
<body><h1>The web app is not built</h1>
<p>This instance serves its API at <a href="/api/docs">/api/docs</a>, but the user's app has not been built yet.
Run <code>npm run build -w web</code> at the root of the repository (<code>npm ci</code> does it too), then reload.</p>
</body></html>
`;

function setSecurityHeaders(reply: FastifyReply): void {
  reply.header('content-security-policy', WEB_APP_CSP);
  reply.header('x-frame-options', 'DENY');
  reply.header('cross-origin-opener-policy', 'same-origin');
  reply.header('cross-origin-resource-policy', 'same-origin');
  reply.header('permissions-policy', 'camera=(), microphone=(), geolocation=(), interest-cohort=()');
}

/** The file under `root` a URL path names, or null (outside root, not a file, or undecodable). */
function fileFor(root: string, urlPath: string): string | null {
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

export const webAppPlugin: FastifyPluginAsync<{ distDir?: string }> = async (app, options) => {
  const root = path.resolve(options.distDir ?? DEFAULT_WEB_DIST);
  const built = existsSync(path.join(root, 'index.html'));
  if (built) await app.register(fastifyStatic, { root, serve: false, index: false, cacheControl: false });

  const handler = async (request: { url: string }, reply: FastifyReply) => {
    const urlPath = request.url.split('?')[0] ?? '/';
    if (urlPath === '/api' || urlPath.startsWith('/api/')) return reply.callNotFound();
    setSecurityHeaders(reply);
    const file = built ? fileFor(root, urlPath) : null;
    if (file !== null && file !== 'index.html') {
      reply.header(
        'cache-control',
        file.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'public, max-age=3600',
      );
      return reply.sendFile(file);
    }
    const lastSegment = urlPath.slice(urlPath.lastIndexOf('/') + 1);
    if (lastSegment.includes('.') && file === null) return reply.callNotFound();
    reply.header('cache-control', 'no-cache');
    if (!built) return reply.code(503).type('text/html; charset=utf-8').send(NOT_BUILT_PAGE);
    return reply.type('text/html; charset=utf-8').sendFile('index.html');
  };

  const route = { config: { access: 'public' as const }, schema: { hide: true } };
  app.get('/', route, handler);
  app.get('/*', route, handler);
};
