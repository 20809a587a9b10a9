import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { isAppError } from '../shared/errors.ts';
import { fetchRemoteImage, parseRemoteImageUrl } from './remote-image.fetcher.undici.ts';
import { urlAppearsIn } from './message-html.routes.ts';

const PNG = Buffer.from('89504e470d0a1a0a', 'hex');

describe('the remote-image fetcher', () => {
  const server = createServer((req, res) => {
    hosts.push(req.headers.host ?? '');
    res.writeHead(200, { 'content-type': 'image/png' });
    res.end(PNG);
  });
  const hosts: string[] = [];
  let port = 0;
  beforeAll(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const options = { maxBytes: 1024, timeoutMs: 5000, allowAddresses: ['127.0.0.1'] };

  test('connects to the address it checked, whatever the system resolver would say; the name stays the Host', async () => {
    const asked: string[] = [];
    const image = await fetchRemoteImage(`http://images.invalid:${port}/x.png`, {
      ...options,
      lookup: async (host) => {
        asked.push(host);
        return ['127.0.0.1'];
      },
    });
    assert.deepEqual(image.bytes, PNG);
    assert.deepEqual(asked, ['images.invalid'], 'resolved once, by the check');
    assert.equal(hosts.at(-1), `images.invalid:${port}`);
  });

  test('one non-public address among the answers is enough to refuse', async () => {
    await assert.rejects(
      fetchRemoteImage(`http://mixed.invalid:${port}/x.png`, {
        ...options,
        lookup: async () => ['127.0.0.1', '10.1.2.3'],
      }),
      (e) => isAppError(e) && e.code === 'remote_image_host_forbidden',
    );
  });

  test('URLs: http(s) only, no credentials', () => {
    for (const bad of ['file:///etc/passwd', 'gopher://x/', 'http://a:b@x.example/', 'x.png', ''])
      assert.throws(
        () => parseRemoteImageUrl(bad),
        (e) => isAppError(e) && e.code === 'remote_image_url_invalid',
      );
    assert.equal(parseRemoteImageUrl('HTTPS://Img.Example/a.png').hostname, 'img.example');
  });

  test('a URL appears in a message as the browser reads it (entities decoded, protocol-relative)', () => {
    const html = '<img src="https://img.example/a.png?x=1&amp;y=2"><img src="//cdn.example/b.png">';
    assert.ok(urlAppearsIn(html, 'https://img.example/a.png?x=1&y=2'));
    assert.ok(urlAppearsIn(html, 'https://cdn.example/b.png'));
    assert.ok(!urlAppearsIn(html, 'https://img.example/other.png'));
    assert.ok(!urlAppearsIn(html, 'https://evil.example/a.png'));
    // Only whole URLs: not the start, nor a part, of one that is there.
    assert.ok(!urlAppearsIn(html, 'https://img.example/a.png'));
    assert.ok(!urlAppearsIn(html, 'https://img.example/'));
    assert.ok(!urlAppearsIn(html, 'https://cdn.example/b.pn'));
    assert.ok(urlAppearsIn('<div style="background:url(https://img.example/c.png)">', 'https://img.example/c.png'));
    assert.ok(
      urlAppearsIn(
        '<img srcset="https://img.example/1.png 1x,https://img.example/2.png 2x">',
        'https://img.example/2.png',
      ),
    );
  });
});
