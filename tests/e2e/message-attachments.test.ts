/**
 * GET /api/v1/messages/:id/attachments/:index over HTTP: the decoded bytes, as a download that can never run in the
 * instance's origin, whatever name and type the sender chose; someone else's message is a 404 like everywhere.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { ok, problemBody } from '../support/api-client.ts';
import { startTestInstance, type TestInstance } from '../support/instance.ts';

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);
const LONG = `${'a'.repeat(300)}.pdf`;

interface Part {
  /** The Content-Disposition parameter as written (filename*=... or filename="..."), or '' for none. */
  name: string;
  type: string;
  content: Buffer;
}

/** The hostile attachments: names and types a sender chooses to escape a download or run in the app's origin. */
const PARTS: Part[] = [
  { name: `filename="../../etc/passwd"`, type: 'text/plain', content: Buffer.from('root:x:0:0\n') },
  {
    name: `filename*=UTF-8''evil%0D%0ASet-Cookie%3A%20x%3Dy.html`,
    type: 'text/html',
    content: Buffer.from('<script>alert(1)</script>'),
  },
  { name: `filename="${LONG}"`, type: 'image/svg+xml', content: Buffer.from('<svg onload="alert(1)"/>') },
  { name: `filename*=UTF-8''invoice%E2%80%AEfdp.exe`, type: 'application/javascript', content: Buffer.from('x()') },
  { name: '', type: 'application/xhtml+xml', content: Buffer.from('<html/>') },
  { name: `filename*=UTF-8''photo%20%C3%A9t%C3%A9.png`, type: 'image/png', content: PNG },
  { name: `filename="..\\\\..\\\\boot.ini"`, type: 'text/xml; charset=utf-8', content: Buffer.from('<a/>') },
];

function mime(parts: Part[]): Buffer {
  const b = 'BOUNDARY-attach-test';
  const lines = [
    'From: Mallory <mallory@m.example>',
    'To: alice@alpha.test',
    'Subject: hostile attachments',
    'Message-ID: <hostile-attachments@m.example>',
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${b}"`,
    '',
    `--${b}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    'see attached',
  ];
  for (const p of parts) {
    lines.push(
      `--${b}`,
      `Content-Type: ${p.type}`,
      `Content-Disposition: attachment${p.name ? `; ${p.name}` : ''}`,
      'Content-Transfer-Encoding: base64',
      '',
      p.content.toString('base64'),
    );
  }
  lines.push(`--${b}--`, '');
  return Buffer.from(lines.join('\r\n'));
}

/** The name a browser saves under: the RFC 8187 `filename*` of a Content-Disposition. */
function savedName(disposition: string): string {
  const m = /filename\*=UTF-8''([^;\s]*)/.exec(disposition);
  assert.ok(m, `no filename* in ${disposition}`);
  return decodeURIComponent(m[1]!);
}

describe('received attachments as downloads', () => {
  let inst: TestInstance;
  let alice: Awaited<ReturnType<TestInstance['user']>>;
  let bob: Awaited<ReturnType<TestInstance['user']>>;
  let messageId: string;

  beforeAll(async () => {
    inst = await startTestInstance();
    alice = await inst.user('alice');
    bob = await inst.user('bob');
    const { message } = await inst.running.services.ingest.ingest({
      accountId: alice.id,
      raw: mime(PARTS),
      direction: 'inbound',
      receivedAt: new Date(),
      facts: { transport: null, authentication: null },
    });
    messageId = message.id;
  });
  afterAll(async () => {
    await inst?.stop();
  });

  const get = (index: number | string, token = alice.token) =>
    inst.api('GET', `/api/v1/messages/${messageId}/attachments/${index}`, { token });

  test('the message lists its attachments, and each downloads with its decoded bytes and safe headers', async () => {
    const detail = ok(await inst.api('GET', `/api/v1/messages/${messageId}`, { token: alice.token }));
    assert.equal(detail.attachments.length, PARTS.length);
    for (const [i, part] of PARTS.entries()) {
      const r = await get(i);
      assert.equal(r.status, 200, `attachment ${i}: ${r.text.slice(0, 200)}`);
      assert.deepEqual(Buffer.from(r.bytes), part.content, `attachment ${i} bytes`);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(r.headers.get('content-security-policy'), "sandbox; default-src 'none'");
      assert.equal(r.headers.get('cache-control'), 'private, no-store');
      const disposition = r.headers.get('content-disposition') ?? '';
      assert.match(disposition, /^attachment; filename="[\x20-\x7e]*"; filename\*=UTF-8''/);
      const name = savedName(disposition);
      assert.ok(name.length > 0 && name.length <= 120, `attachment ${i}: ${name.length} characters`);
      assert.doesNotMatch(name, /[/\\\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/u, `attachment ${i}: ${name}`);
      assert.doesNotMatch(name, /^\./, `attachment ${i}: hidden or relative name ${name}`);
      assert.equal(detail.attachments[i].size, part.content.length);
    }
  });

  test('hostile names are reduced to a last segment without control, reserved or direction characters', async () => {
    const names = await Promise.all(
      PARTS.map(async (_, i) => savedName((await get(i)).headers.get('content-disposition')!)),
    );
    assert.equal(names[0], 'passwd');
    assert.equal(names[1], 'evilSet-Cookie_ x=y.html');
    assert.match(names[2]!, /^a+\.pdf$/);
    assert.equal(names[2]!.length, 120);
    assert.equal(names[3], 'invoicefdp.exe');
    assert.equal(names[4], 'attachment');
    assert.equal(names[5], 'photo été.png');
    assert.equal(names[6], 'boot.ini');
    // The CRLF never reaches a header: no injected Set-Cookie.
    assert.equal((await get(1)).headers.get('set-cookie'), null);
  });

  test('types a browser could run are served as application/octet-stream; passive ones keep theirs', async () => {
    const types = await Promise.all(PARTS.map(async (_, i) => (await get(i)).headers.get('content-type')));
    assert.deepEqual(types, [
      'text/plain; charset=utf-8',
      'application/octet-stream',
      'application/octet-stream',
      'application/octet-stream',
      'application/octet-stream',
      'image/png',
      'application/octet-stream',
    ]);
  });

  test('an index out of range is attachment_not_found; a bad index is a validation error', async () => {
    const past = problemBody(await get(PARTS.length), 404, 'past the end');
    assert.equal(past.code, 'attachment_not_found');
    assert.equal(problemBody(await get(9999), 404, 'far past').code, 'attachment_not_found');
    assert.equal(problemBody(await get(-1), 400, 'negative').code, 'validation_failed');
    assert.equal(problemBody(await get('x'), 400, 'not a number').code, 'validation_failed');
    assert.equal(problemBody(await get(1e6), 400, 'huge').code, 'validation_failed');
  });

  test("another user's message is a 404 not_found, and anonymous callers are refused", async () => {
    assert.equal(problemBody(await get(0, bob.token), 404, 'as bob').code, 'not_found');
    const anonymous = await inst.api('GET', `/api/v1/messages/${messageId}/attachments/0`);
    assert.equal(problemBody(anonymous, 401, 'anonymous').code, 'unauthenticated');
  });

  test('GET /api/v1/messages/limits tells what one message may carry', async () => {
    assert.deepEqual(ok(await inst.api('GET', '/api/v1/messages/limits', { token: alice.token })), {
      maxAttachmentBytes: 10 * 1024 * 1024,
      maxAttachments: 100,
    });
    assert.equal((await inst.api('GET', '/api/v1/messages/limits')).status, 401);
  });

  test('an attachment sent through POST /api/v1/messages downloads at the recipient byte for byte', async () => {
    const content = Buffer.from([0, 1, 2, 254, 255, 10, 13, 0x41]);
    const sent = ok(
      await inst.api('POST', '/api/v1/messages', {
        token: alice.token,
        body: {
          to: [{ address: 'bob@alpha.test' }],
          subject: 'files',
          text: 'two files',
          attachments: [
            { filename: 'données ✓.bin', contentType: 'application/octet-stream', content: content.toString('base64') },
            { filename: 'notes.txt', contentType: 'text/plain', content: Buffer.from('hello').toString('base64') },
          ],
        },
      }),
      202,
    );
    assert.equal(sent.recipients[0].status, 'delivered');
    const search = ok(await inst.api('GET', '/api/v1/search?q=subject:files', { token: bob.token }));
    const received = search.items.find((i: { message: { id: string } }) => i.message.id !== sent.id);
    assert.ok(received, 'bob has the message');
    const id = received.message.id as string;
    const detail = ok(await inst.api('GET', `/api/v1/messages/${id}`, { token: bob.token }));
    assert.deepEqual(
      detail.attachments.map((a: { filename: string }) => a.filename),
      ['données ✓.bin', 'notes.txt'],
    );
    const r = await inst.api('GET', `/api/v1/messages/${id}/attachments/0`, { token: bob.token });
    assert.equal(r.status, 200);
    assert.deepEqual(Buffer.from(r.bytes), content);
    assert.equal(savedName(r.headers.get('content-disposition')!), 'données ✓.bin');
    assert.match(r.headers.get('content-disposition')!, /^attachment; filename="donn_es _\.bin"/);
    // Alice's Sent copy is hers, not bob's.
    assert.equal(
      problemBody(await inst.api('GET', `/api/v1/messages/${sent.id}/attachments/0`, { token: bob.token }), 404, 'x')
        .code,
      'not_found',
    );
    const own = await inst.api('GET', `/api/v1/messages/${sent.id}/attachments/1`, { token: alice.token });
    assert.equal(Buffer.from(own.bytes).toString(), 'hello');
  });
});
