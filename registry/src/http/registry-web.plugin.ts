import { fileURLToPath } from 'node:url';
import { singlePageAppPlugin } from '@caliopen/platform/http/single-page-app.plugin.ts';
import type { FastifyPluginAsync } from 'fastify';

/**
 * The association's public site (web/src/registry, built by Vite into web/dist-registry at `npm ci`) served at `/`:
 * the directory of members and the transparency-log explorer that verifies proofs in the browser
 * (singlePageAppPlugin: client routes such as /members/<domain> get index.html, a missing asset is a 404, the
 * registry's own paths keep their 404, a page saying how to build the site when it is missing).
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

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Caliopen registry: site not built</title></head>
<body><h1>The registry's public site is not built</h1>
<p>This registry serves its API (see <a href="/docs">/docs</a>), but its public site has not been built yet.
Run <code>npm run build -w web</code> at the root of the repository (<code>npm ci</code> does it too), then reload.</p>
</body></html>
`;

export const registryWebPlugin: FastifyPluginAsync<{ distDir?: string }> = async (app, options) => {
  await app.register(singlePageAppPlugin, {
    distDir: options.distDir ?? DEFAULT_REGISTRY_WEB_DIST,
    csp: REGISTRY_WEB_CSP,
    serverPaths: ['/v1', '/docs', '/healthz', '/metrics'],
    notBuiltPage: NOT_BUILT_PAGE,
  });
};
