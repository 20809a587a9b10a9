import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer as createHttpsServer, request } from 'node:https';
import { createServer as createTcpServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { tempDir } from '../../../tests/support/tmp.ts';
import { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import { createInstanceIdentity, type InstanceIdentity } from '../identity/instance-identity.ts';
import { LocalPartDirectory } from './local-part.directory.ts';
import { MemoryPublishedKeys } from './published-keys.memory.ts';
import { lookupWkd, wkdHash, wkdRoutes, wkdUrls } from './wkd.ts';

function get(
  port: number,
  path: string,
  method = 'GET',
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method, rejectUnauthorized: false, servername: 'alpha.test' },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('Web Key Directory', () => {
  const tmp = tempDir('caliopen-wkd-');
  const keys = new MemoryPublishedKeys();
  const aliceKey = randomBytes(700);
  let identity: InstanceIdentity;
  let app: FastifyInstance;
  let port: number;
  let connectTo: Record<string, string>;

  beforeAll(async () => {
    identity = await createInstanceIdentity(tmp.dir, 'alpha.test', new SecretBox(randomBytes(32)));
    keys
      .set('alice', aliceKey)
      .set('huge', randomBytes(70 * 1024))
      .set('empty', new Uint8Array());
    const localParts = new LocalPartDirectory({
      listUsernames: async (after) => (after === undefined ? ['alice', 'bob', 'huge', 'empty'] : []),
    });
    app = Fastify({ https: { key: identity.tls.keyPem, cert: identity.tls.certPem } });
    await app.register(wkdRoutes({ domain: 'alpha.test', keys, localParts }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
    connectTo = { 'alpha.test': `127.0.0.1:${port}` };
  });
  afterAll(async () => {
    await app.close();
    tmp.cleanup();
  });

  it('URLs of the draft example', () => {
    assert.deepEqual(wkdUrls('Joe.Doe@Example.ORG'), {
      direct: 'https://example.org/.well-known/openpgpkey/hu/iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=Joe.Doe',
      advanced:
        'https://openpgpkey.example.org/.well-known/openpgpkey/example.org/hu/iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=Joe.Doe',
    });
    assert.equal(wkdUrls('nope'), null);
  });

  it('serves the binary key by hash (direct and advanced paths), with CORS', async () => {
    const hash = wkdHash('alice');
    for (const path of [
      `/.well-known/openpgpkey/hu/${hash}?l=alice`,
      `/.well-known/openpgpkey/hu/${hash}`,
      `/.well-known/openpgpkey/alpha.test/hu/${hash}?l=Alice`,
    ]) {
      const r = await get(port, path);
      assert.equal(r.status, 200, path);
      assert.equal(r.headers['content-type'], 'application/octet-stream');
      assert.equal(r.headers['access-control-allow-origin'], '*');
      assert.deepEqual(r.body, aliceKey);
    }
    // The `l` hint never overrides the hash.
    assert.deepEqual((await get(port, `/.well-known/openpgpkey/hu/${hash}?l=bob`)).body, aliceKey);
    const head = await get(port, `/.well-known/openpgpkey/hu/${hash}`, 'HEAD');
    assert.equal(head.status, 200);
  });

  it('404 for users without key, unknown users, malformed hashes, other domains; the policy file exists', async () => {
    for (const path of [
      `/.well-known/openpgpkey/hu/${wkdHash('bob')}`,
      `/.well-known/openpgpkey/hu/${wkdHash('nobody')}?l=nobody`,
      '/.well-known/openpgpkey/hu/0000',
      `/.well-known/openpgpkey/hu/${'y'.repeat(64)}`,
      `/.well-known/openpgpkey/hu/${wkdHash('alice').toUpperCase()}`,
      `/.well-known/openpgpkey/beta.test/hu/${wkdHash('alice')}`,
      '/.well-known/openpgpkey/hu/..%2F..%2Fkeys',
    ]) {
      const r = await get(port, path);
      assert.equal(r.status, 404, path);
      assert.equal(r.headers['access-control-allow-origin'], '*', path);
    }
    assert.equal(
      (await get(port, `/.well-known/openpgpkey/hu/${wkdHash('alice')}?l=${'a'.repeat(300)}`)).status,
      400,
      'an absurd hint is a bad request',
    );
    const policy = await get(port, '/.well-known/openpgpkey/policy');
    assert.equal(policy.status, 200);
    assert.equal(policy.body.length, 0);
    assert.equal((await get(port, '/.well-known/openpgpkey/alpha.test/policy')).status, 200);
    assert.equal((await get(port, '/.well-known/openpgpkey/beta.test/policy')).status, 404);
  });

  it('lookupWkd: trusts exactly the given certificate and reads the key', async () => {
    const found = await lookupWkd('alice@alpha.test', { ca: identity.tls.certPem, connectTo });
    assert.equal(found.error, null);
    assert.deepEqual(found.key, new Uint8Array(aliceKey));
    assert.equal(found.url, `https://alpha.test/.well-known/openpgpkey/hu/${wkdHash('alice')}?l=alice`);
    const none = await lookupWkd('nobody@alpha.test', { ca: identity.tls.certPem, connectTo });
    assert.deepEqual([none.key, none.status, none.error], [null, 404, null]);
  });

  it('lookupWkd: untrusted certificate, oversized or empty key, unreachable server, bad address are errors', async () => {
    const other = await createInstanceIdentity(join(tmp.dir, 'other'), 'alpha.test', new SecretBox(randomBytes(32)));
    assert.equal((await lookupWkd('alice@alpha.test', { ca: other.tls.certPem, connectTo })).error?.code, 'wkd_tls');
    assert.equal(
      (await lookupWkd('alice@alpha.test', { connectTo })).error?.code,
      'wkd_tls',
      'a self-signed certificate is not trusted by default',
    );
    // The certificate is for alpha.test: the advanced host is not covered, and only a missing sub-domain falls back.
    const advanced = await lookupWkd('alice@alpha.test', {
      ca: identity.tls.certPem,
      connectTo: { ...connectTo, 'openpgpkey.alpha.test': `127.0.0.1:${port}` },
      method: 'advanced',
    });
    assert.equal(advanced.error?.code, 'wkd_tls');
    assert.match(advanced.url!, /^https:\/\/openpgpkey\.alpha\.test\//);
    const huge = await lookupWkd('huge@alpha.test', { ca: identity.tls.certPem, connectTo });
    assert.deepEqual([huge.key, huge.error?.code], [null, 'wkd_too_large']);
    assert.equal(
      (await lookupWkd('alice@alpha.test', { ca: identity.tls.certPem, connectTo, maxBytes: 100 })).error?.code,
      'wkd_too_large',
    );
    assert.deepEqual(
      (await lookupWkd('empty@alpha.test', { ca: identity.tls.certPem, connectTo })).status,
      404,
      'an empty key is not served',
    );
    assert.equal((await lookupWkd('"x y"@alpha.test', { ca: identity.tls.certPem, connectTo })).status, 404);
    assert.equal((await lookupWkd('not-an-address', {})).error?.code, 'wkd_invalid_address');
    assert.equal(
      (await lookupWkd('alice@alpha.test', { ca: identity.tls.certPem, connectTo: { 'alpha.test': '127.0.0.1:1' } }))
        .error?.code,
      'wkd_network',
    );
  });

  it('lookupWkd: statuses other than 200 and 404 (redirects included) and empty bodies are errors', async () => {
    let status = 500;
    const server = createHttpsServer({ key: identity.tls.keyPem, cert: identity.tls.certPem }, (_req, res) => {
      res.writeHead(status, status === 302 ? { location: 'https://elsewhere.test/key' } : {});
      res.end(status === 200 ? '' : 'no');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const target = { 'alpha.test': `127.0.0.1:${(server.address() as { port: number }).port}` };
    try {
      for (status of [500, 302, 403]) {
        const r = await lookupWkd('alice@alpha.test', { ca: identity.tls.certPem, connectTo: target });
        assert.deepEqual([r.key, r.status, r.error?.code], [null, status, 'wkd_http_status']);
      }
      status = 200;
      const empty = await lookupWkd('alice@alpha.test', { ca: identity.tls.certPem, connectTo: target });
      assert.deepEqual([empty.key, empty.error?.code], [null, 'wkd_empty']);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('lookupWkd: a server that never answers, or answers forever, hits the deadline', async () => {
    const accepted: import('node:net').Socket[] = [];
    const silent: Server = createTcpServer((socket) => accepted.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as { port: number }).port;
    const slow = createHttpsServer({ key: identity.tls.keyPem, cert: identity.tls.certPem }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(Buffer.alloc(10));
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const slowPort = (slow.address() as { port: number }).port;
    try {
      const stalled = await lookupWkd('alice@alpha.test', {
        ca: identity.tls.certPem,
        connectTo: { 'alpha.test': `127.0.0.1:${silentPort}` },
        timeoutMs: 300,
      });
      assert.equal(stalled.error?.code, 'wkd_timeout');
      const dribble = await lookupWkd('alice@alpha.test', {
        ca: identity.tls.certPem,
        connectTo: { 'alpha.test': `127.0.0.1:${slowPort}` },
        timeoutMs: 300,
      });
      assert.equal(dribble.error?.code, 'wkd_timeout');
    } finally {
      slow.closeAllConnections();
      await new Promise((resolve) => slow.close(resolve));
      for (const socket of accepted) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
