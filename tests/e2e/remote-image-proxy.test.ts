/**
 * The remote-image proxy over HTTP (GET /api/v1/messages/:id/remote-image?url=): the instance fetches a mail's remote
 * image for its reader, so that the sender never sees the reader's address. A real instance and a local image server
 * (the only non-public address the test config allows: 127.0.0.1). Hostile URLs each get their problem+json code:
 * other schemes, credentials, internal addresses (loopback, private, link-local metadata, IPv6, decimal and mapped
 * forms), redirects to internal addresses or other schemes, redirect loops, non-images (HTML, SVG), huge bodies
 * (declared or streamed), a host that never answers, URLs that are not in the message, another user's message.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { startTestInstance, type TestInstance } from '../support/instance.ts';

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAAABJRU5ErkJggg==',
  'base64',
);
const MAX_BYTES = 64 * 1024;

function htmlMail(from: string, to: string, html: string): Buffer {
  return Buffer.from(
    [
      `From: ${from}`,
      `To: ${to}`,
      'Subject: Images',
      `Message-ID: <${randomUUID()}@test.example>`,
      `Date: ${new Date().toUTCString()}`,
      'MIME-Version: 1.0',
      'Content-Type: text/html; charset=utf-8',
      'Content-Transfer-Encoding: base64',
      '',
      ...(Buffer.from(html, 'utf8')
        .toString('base64')
        .match(/.{1,76}/g) ?? []),
      '',
    ].join('\r\n'),
  );
}

describe('the remote-image proxy', () => {
  let inst: TestInstance;
  let images: Server;
  let base: string;
  let port: number;
  let user: { id: string; token: string };
  let other: { id: string; token: string };
  let messageId: string;
  let othersMessageId: string;
  const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
  const hanging = new Set<ServerResponse>();

  beforeAll(async () => {
    images = createServer((req, res) => {
      seen.push({ url: req.url ?? '', headers: req.headers });
      const path = (req.url ?? '/').split('?')[0];
      const png = (body: Buffer, extra: Record<string, string> = {}) => {
        res.writeHead(200, { 'content-type': 'image/png', ...extra });
        res.end(body);
      };
      switch (path) {
        case '/logo.png':
        case '/with-query.png':
          return png(PNG);
        case '/redirect-ok':
          res.writeHead(302, { location: '/logo.png' });
          return res.end();
        case '/redirect-private':
          res.writeHead(302, { location: `http://127.0.0.2:${port}/logo.png` });
          return res.end();
        case '/redirect-metadata':
          res.writeHead(301, { location: 'http://169.254.169.254/latest/meta-data/' });
          return res.end();
        case '/redirect-file':
          res.writeHead(302, { location: 'file:///etc/passwd' });
          return res.end();
        case '/redirect-loop':
          res.writeHead(302, { location: '/redirect-loop' });
          return res.end();
        case '/page.html':
          res.writeHead(200, { 'content-type': 'text/html' });
          return res.end('<script>alert(1)</script>');
        case '/evil.svg':
          res.writeHead(200, { 'content-type': 'image/svg+xml' });
          return res.end('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>');
        case '/untyped':
          res.writeHead(200);
          return res.end(PNG);
        case '/huge-declared.png':
          return png(Buffer.alloc(MAX_BYTES * 4));
        case '/huge-streamed.png': {
          res.writeHead(200, { 'content-type': 'image/png', 'transfer-encoding': 'chunked' });
          let sent = 0;
          const more = () => {
            while (sent < MAX_BYTES * 8) {
              sent += 8192;
              if (!res.write(Buffer.alloc(8192))) return void res.once('drain', more);
            }
            res.end();
          };
          res.on('error', () => {});
          return more();
        }
        case '/slow.png':
          hanging.add(res);
          return;
        default:
          res.writeHead(404, { 'content-type': 'text/plain' });
          return res.end('no');
      }
    });
    images.listen(0, '127.0.0.1');
    await once(images, 'listening');
    port = (images.address() as AddressInfo).port;
    base = `http://127.0.0.1:${port}`;

    inst = await startTestInstance({
      env: {
        CALIOPEN_REMOTE_IMAGES_ALLOW_ADDRESSES: '127.0.0.1',
        CALIOPEN_REMOTE_IMAGES_MAX_BYTES: String(MAX_BYTES),
        CALIOPEN_REMOTE_IMAGES_TIMEOUT_MS: '1500',
      },
    });
    user = await inst.user('iris');
    other = await inst.user('otto');
    const hostile = [
      'file:///etc/passwd',
      'ftp://files.example/x.png',
      'data:image/png;base64,AAAA',
      'javascript:alert(1)',
      `http://user:secret@127.0.0.1:${port}/logo.png`,
      `http://127.0.0.2:${port}/logo.png`,
      'http://10.0.0.1/x.png',
      'http://192.168.1.1/x.png',
      'http://169.254.169.254/latest/meta-data/',
      `http://[::1]:${port}/logo.png`,
      `http://0.0.0.0:${port}/logo.png`,
      'http://2130706434/x.png',
      `http://[::ffff:127.0.0.2]:${port}/logo.png`,
      'http://100.64.0.1/cgnat.png',
      'https://no-such-host.invalid/x.png',
    ];
    const html = [
      `<img src="${base}/logo.png">`,
      `<img src="http://localhost:${port}/logo.png">`,
      `<img src="${base}/with-query.png?a=1&amp;b=2">`,
      `<div style="background:url('${base}/redirect-ok')"></div>`,
      ...[
        'redirect-private',
        'redirect-metadata',
        'redirect-file',
        'redirect-loop',
        'page.html',
        'evil.svg',
        'untyped',
        'huge-declared.png',
        'huge-streamed.png',
        'slow.png',
        'missing.png',
      ].map((p) => `<img src="${base}/${p}">`),
      ...hostile.map((u) => `<img src="${u}">`),
    ].join('\n');
    messageId = (
      await inst.running.services.ingest.ingest({
        accountId: user.id,
        direction: 'inbound',
        receivedAt: new Date(),
        raw: htmlMail('News <news@shop.example>', 'iris@alpha.test', html),
        facts: { transport: null, authentication: null },
      })
    ).message.id;
    othersMessageId = (
      await inst.running.services.ingest.ingest({
        accountId: other.id,
        direction: 'inbound',
        receivedAt: new Date(),
        raw: htmlMail('News <news@shop.example>', 'otto@alpha.test', `<img src="${base}/logo.png">`),
        facts: { transport: null, authentication: null },
      })
    ).message.id;
  });

  afterAll(async () => {
    for (const res of hanging) res.destroy();
    images?.closeAllConnections();
    await new Promise<void>((resolve) => (images ? images.close(() => resolve()) : resolve()));
    await inst?.stop();
  });

  async function proxy(url: string, token = user.token, id = messageId) {
    const r = await fetch(
      `${inst.url}/api/v1/messages/${id}/remote-image?url=${encodeURIComponent(url)}`,
      token ? { headers: { authorization: `Bearer ${token}` } } : {},
    );
    const bytes = Buffer.from(await r.arrayBuffer());
    const type = r.headers.get('content-type') ?? '';
    return {
      status: r.status,
      headers: r.headers,
      bytes,
      problem: type.startsWith('application/problem+json') ? JSON.parse(bytes.toString('utf8')) : null,
    };
  }

  async function refused(url: string, status: number, code: string) {
    const r = await proxy(url);
    assert.equal(r.status, status, `${url}: ${JSON.stringify(r.problem)}`);
    assert.equal(r.problem?.code, code, `${url}: ${JSON.stringify(r.problem)}`);
  }

  test('an image of the message is fetched for the reader: no cookie, referrer or credentials leave', async () => {
    seen.length = 0;
    const r = await proxy(`${base}/logo.png`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.bytes, PNG);
    assert.equal(r.headers.get('content-type'), 'image/png');
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.match(r.headers.get('content-security-policy') ?? '', /default-src 'none'; sandbox/);
    assert.equal(seen.length, 1);
    const h = seen[0]!.headers;
    for (const name of ['cookie', 'referer', 'authorization', 'x-forwarded-for', 'forwarded'])
      assert.equal(h[name], undefined, name);
    assert.equal(h['user-agent'], 'Caliopen image proxy');
    // The URL as the browser reads it (entities decoded), and a redirect to the same public host.
    assert.equal((await proxy(`${base}/with-query.png?a=1&b=2`)).status, 200);
    const redirected = await proxy(`${base}/redirect-ok`);
    assert.equal(redirected.status, 200);
    assert.deepEqual(redirected.bytes, PNG);
  });

  test('a host name is resolved first, then the connection goes to the checked address', async () => {
    const addresses = (await lookup('localhost', { all: true, verbatim: true })).map((a) => a.address);
    seen.length = 0;
    const r = await proxy(`http://localhost:${port}/logo.png`);
    if (addresses.every((a) => a === '127.0.0.1')) {
      assert.equal(r.status, 200, JSON.stringify(r.problem));
      assert.deepEqual(r.bytes, PNG);
      assert.equal(seen[0]?.headers.host, `localhost:${port}`, 'the name stays in the Host header');
    } else {
      // localhost also names ::1 here, which the test config does not allow: every address must pass.
      assert.equal(r.problem?.code, 'remote_image_host_forbidden');
      assert.equal(seen.length, 0);
    }
  });

  test('URLs that are not in the message, another user’s message, no session: refused', async () => {
    await refused(`${base}/logo.png?not=in-the-mail`, 404, 'remote_image_not_in_message');
    await refused(`${base}/elsewhere.png`, 404, 'remote_image_not_in_message');
    const r = await proxy(`${base}/logo.png`, user.token, othersMessageId);
    assert.equal(r.status, 404);
    assert.equal(r.problem?.code, 'not_found');
    const anonymous = await proxy(`${base}/logo.png`, '');
    assert.equal(anonymous.status, 401);
    const missing = await fetch(`${inst.url}/api/v1/messages/${messageId}/remote-image`, {
      headers: { authorization: `Bearer ${user.token}` },
    });
    assert.equal(missing.status, 400);
    assert.equal(((await missing.json()) as { code: string }).code, 'validation_failed');
    await refused(`${base}/${'x'.repeat(5000)}.png`, 400, 'validation_failed');
  });

  test('other schemes and credentials: remote_image_url_invalid', async () => {
    for (const url of [
      'file:///etc/passwd',
      'ftp://files.example/x.png',
      'data:image/png;base64,AAAA',
      'javascript:alert(1)',
      `http://user:secret@127.0.0.1:${port}/logo.png`,
      '/relative.png',
    ])
      await refused(url, 400, 'remote_image_url_invalid');
  });

  test('internal addresses, however written: remote_image_host_forbidden, nothing reaches them', async () => {
    seen.length = 0;
    for (const url of [
      `http://127.0.0.2:${port}/logo.png`,
      'http://10.0.0.1/x.png',
      'http://192.168.1.1/x.png',
      'http://169.254.169.254/latest/meta-data/',
      `http://[::1]:${port}/logo.png`,
      `http://0.0.0.0:${port}/logo.png`,
      'http://2130706434/x.png',
      `http://[::ffff:127.0.0.2]:${port}/logo.png`,
      'http://100.64.0.1/cgnat.png',
    ])
      await refused(url, 403, 'remote_image_host_forbidden');
    assert.equal(seen.length, 0, 'the image server saw none of them');
  });

  test('redirects are checked hop by hop', async () => {
    await refused(`${base}/redirect-private`, 403, 'remote_image_host_forbidden');
    await refused(`${base}/redirect-metadata`, 403, 'remote_image_host_forbidden');
    await refused(`${base}/redirect-file`, 400, 'remote_image_url_invalid');
    await refused(`${base}/redirect-loop`, 502, 'remote_image_unreachable');
  });

  test('only raster images, within the size cap and the time limit', async () => {
    await refused(`${base}/page.html`, 502, 'remote_image_not_image');
    await refused(`${base}/evil.svg`, 502, 'remote_image_not_image');
    await refused(`${base}/untyped`, 502, 'remote_image_not_image');
    await refused(`${base}/huge-declared.png`, 502, 'remote_image_too_large');
    await refused(`${base}/huge-streamed.png`, 502, 'remote_image_too_large');
    await refused(`${base}/slow.png`, 504, 'remote_image_timeout');
    await refused(`${base}/missing.png`, 502, 'remote_image_unreachable');
    await refused('https://no-such-host.invalid/x.png', 502, 'remote_image_unreachable');
  });
});
