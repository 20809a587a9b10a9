import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';

/**
 * The association's public site (web/src/registry, built by Vite into web/dist-registry at `npm ci`) served at `/`:
 * the directory of members and the transparency-log explorer that verifies proofs in the browser.
 * - files of web/dist-registry by path; a missing asset (.js, .css...) is a 404, any other path gets index.html
 *   (client routes: /members/<domain>, /log);
 * - the registry's own paths (/v1, /docs, /healthz, /metrics) are never the site's: unknown ones keep their 404;
 * - a strict Content-Security-Policy: own origin only, no inline script or style, no framing, no plugins;
 * - when the build is missing, a short page (no script) says how to build it.
 * Files are read without @fastify/static: the site is a handful of small hashed files.
 */
export const REGISTRY_WEB_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const DEFAULT_REGISTRY_WEB_DIST = fileURLToPath(new URL('../../../web/dist-registry/', import.meta.url));

const API_PREFIXES = ['/v1', '/docs', '/healthz', '/metrics'];

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Caliopen registry: site not built</title></head>
<body><h1>The registry's public site is not built</h1>
<p>This registry serves its API (see <a href="/docs">/docs</a>), but its public site has not been built yet.
Run <code>npm run build -w web</code> at the root of the repository (<code>npm ci</code> does it too), then reload.</p>
</body></html>
`;

function setSecurityHeaders(reply: FastifyReply): void {
  reply.header('content-security-policy', REGISTRY_WEB_CSP);
  reply.header('x-frame-options', 'DENY');
  reply.header('x-content-type-options', 'nosniff');
  reply.header('cross-origin-opener-policy', 'same-origin');
  reply.header('cross-origin-resource-policy', 'same-origin');
  reply.header('referrer-policy', 'no-referrer');
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
    return statSync(full).isFile() ? full : null;
  } catch {
    return null;
  }
}

export const registryWebPlugin: FastifyPluginAsync<{ distDir?: string }> = async (app, options) => {
  const root = path.resolve(options.distDir ?? DEFAULT_REGISTRY_WEB_DIST);
  const indexFile = path.join(root, 'index.html');
  const built = existsSync(indexFile);

  const handler = async (request: { url: string }, reply: FastifyReply) => {
    const urlPath = request.url.split('?')[0] ?? '/';
    if (API_PREFIXES.some((p) => urlPath === p || urlPath.startsWith(`${p}/`))) return reply.callNotFound();
    setSecurityHeaders(reply);
    const file = built ? fileFor(root, urlPath) : null;
    if (file !== null && file !== indexFile) {
      const rel = path.relative(root, file);
      reply.header(
        'cache-control',
        rel.startsWith(`assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'public, max-age=3600',
      );
      return reply.type(TYPES[path.extname(file)] ?? 'application/octet-stream').send(readFileSync(file));
    }
    // A missing asset is a 404; a client route answers index.html, including /members/<domain> whose last
    // segment has dots (a domain), so only the extensions the build emits count as files.
    const extension = path.posix.extname(urlPath);
    if (file === null && !urlPath.startsWith('/members/') && extension in TYPES) return reply.callNotFound();
    reply.header('cache-control', 'no-cache');
    if (!built) return reply.code(503).type('text/html; charset=utf-8').send(NOT_BUILT_PAGE);
    return reply.type('text/html; charset=utf-8').send(readFileSync(indexFile));
  };

  const route = { config: { access: 'public' as const }, schema: { hide: true } };
  app.get('/', route, handler);
  app.get('/*', route, handler);
};
