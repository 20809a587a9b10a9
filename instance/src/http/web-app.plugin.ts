import { fileURLToPath } from 'node:url';
import { singlePageAppPlugin } from '@caliopen/platform/http/single-page-app.plugin.ts';
import type { FastifyPluginAsync } from 'fastify';

/**
 * The user's web app (web/, built by Vite into web/dist at `npm ci`) served at `/` (singlePageAppPlugin: client
 * routes get index.html, a missing asset is a 404, `/api/...` keeps its problem+json 404, a page saying how to build
 * the app when web/dist is missing).
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

export const webAppPlugin: FastifyPluginAsync<{ distDir?: string }> = async (app, options) => {
  await app.register(singlePageAppPlugin, {
    distDir: options.distDir ?? DEFAULT_WEB_DIST,
    csp: WEB_APP_CSP,
    serverPaths: ['/api'],
    notBuiltPage: NOT_BUILT_PAGE,
  });
};
