import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { singlePageAppPlugin } from './single-page-app.plugin.ts';

const CSP = "default-src 'self'";
const NOT_BUILT = '<!doctype html><title>not built</title><p>Run the build.</p>';
const SECRET = 'not-for-the-web-5f1c';
const INDEX = '<!doctype html><title>app</title><script type="module" src="/assets/app-1a2b.js"></script>';

async function serve(distDir: string): Promise<FastifyInstance> {
  const app = Fastify();
  app.get('/api/v1/ping', async () => ({ pong: true }));
  await app.register(singlePageAppPlugin, { distDir, csp: CSP, serverPaths: ['/api'], notBuiltPage: NOT_BUILT });
  await app.ready();
  return app;
}

describe('a built app', () => {
  let dir: string;
  let app: FastifyInstance;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'spa-'));
    mkdirSync(path.join(dir, 'assets'));
    writeFileSync(path.join(dir, 'index.html'), INDEX);
    writeFileSync(path.join(dir, 'assets', 'app-1a2b.js'), 'console.log(1)');
    writeFileSync(path.join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    // Beside the build, never reachable through it.
    writeFileSync(path.join(path.dirname(dir), `${path.basename(dir)}-outside.txt`), SECRET);
    app = await serve(dir);
  });
  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(path.join(path.dirname(dir), `${path.basename(dir)}-outside.txt`), { force: true });
  });

  test('client routes get index.html, never cached, with the security headers', async () => {
    for (const url of ['/', '/discussions/42', '/members/example.org', '/contacts/alice@example.org?tab=keys']) {
      const r = await app.inject({ method: 'GET', url });
      assert.equal(r.statusCode, 200, url);
      assert.equal(r.body, INDEX, url);
      assert.match(r.headers['content-type'] as string, /^text\/html/);
      assert.equal(r.headers['cache-control'], 'no-cache');
      assert.equal(r.headers['content-security-policy'], CSP);
      assert.equal(r.headers['x-frame-options'], 'DENY');
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
      assert.equal(r.headers['referrer-policy'], 'no-referrer');
    }
  });

  test('files by path: hashed assets cached for a year, others for an hour', async () => {
    const js = await app.inject({ method: 'GET', url: '/assets/app-1a2b.js' });
    assert.equal(js.statusCode, 200);
    assert.equal(js.body, 'console.log(1)');
    assert.match(js.headers['content-type'] as string, /javascript/);
    assert.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable');
    const icon = await app.inject({ method: 'GET', url: '/favicon.svg' });
    assert.equal(icon.statusCode, 200);
    assert.match(icon.headers['content-type'] as string, /^image\/svg\+xml/);
    assert.equal(icon.headers['cache-control'], 'public, max-age=3600');
  });

  test('a missing asset is a 404, not the page', async () => {
    for (const url of ['/assets/gone-9z9z.js', '/app.css', '/favicon.ico', '/assets/x.WOFF2']) {
      assert.equal((await app.inject({ method: 'GET', url })).statusCode, 404, url);
    }
  });

  test('the server’s own paths are never the app’s', async () => {
    assert.deepEqual((await app.inject({ method: 'GET', url: '/api/v1/ping' })).json(), { pong: true });
    for (const url of ['/api', '/api/', '/api/v1/unknown']) {
      const r = await app.inject({ method: 'GET', url });
      assert.equal(r.statusCode, 404, url);
      assert.notEqual(r.body, INDEX, url);
    }
  });

  test('hostile paths reach nothing outside the build', async () => {
    const outside = `${path.basename(dir)}-outside.txt`;
    for (const url of [
      `/../${outside}`,
      `/%2e%2e/${outside}`,
      `/assets/%2e%2e/%2e%2e/${outside}`,
      `/..%2f${outside}`,
      '/assets/app-1a2b.js%00.html',
      '/%E0%A4%A',
      '/%2fetc%2fpasswd',
    ]) {
      const r = await app.inject({ method: 'GET', url });
      assert.ok(!r.body.includes(SECRET), `${url} served a file outside the build`);
      assert.ok([200, 400, 404].includes(r.statusCode), `${url}: ${r.statusCode}`);
      if (r.statusCode === 200) assert.equal(r.body, INDEX, url);
    }
  });
});

test('without a build, the app’s paths answer the page saying how to make one (503, no script)', async () => {
  const app = await serve(path.join(tmpdir(), `spa-missing-${process.pid}-${Date.now()}`));
  try {
    for (const url of ['/', '/discussions', '/members/example.org']) {
      const r = await app.inject({ method: 'GET', url });
      assert.equal(r.statusCode, 503, url);
      assert.equal(r.body, NOT_BUILT);
      assert.equal(r.headers['content-security-policy'], CSP);
    }
    assert.equal((await app.inject({ method: 'GET', url: '/app.js' })).statusCode, 404);
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/unknown' })).statusCode, 404);
  } finally {
    await app.close();
  }
});
