/**
 * `GET /api/v1/discussions?include=trust`: each discussion of the page carries `senderFacts`, the verified facts of
 * its newest received message (what the web app derives the correspondent's trust level from), in one request for
 * the whole page; null when the discussion holds only messages the account sent; absent without `include`. Bad
 * values of `include` are refused by the schema.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { startTestInstance, type TestInstance } from '../support/instance.ts';

function rfc5322(from: string, to: string, subject: string): Buffer {
  return Buffer.from(
    [
      `From: ${from}`,
      `To: ${to}`,
      `Subject: ${subject}`,
      `Message-ID: <${randomUUID()}@test.example>`,
      `Date: ${new Date().toUTCString()}`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Hello.',
      '',
    ].join('\r\n'),
  );
}

describe('discussions with their sender facts', () => {
  let inst: TestInstance;
  let alice: { id: string; token: string };

  beforeAll(async () => {
    inst = await startTestInstance();
    alice = await inst.user('alice');
    const ingest = inst.running.services.ingest;
    const at = Date.now() - 3_600_000;
    // Carol: an old unauthenticated message, then a newer one with DMARC passed: the newer one counts.
    await ingest.ingest({
      accountId: alice.id,
      direction: 'inbound',
      receivedAt: new Date(at),
      raw: rfc5322('Carol <carol@mail.example>', 'alice@alpha.test', 'First'),
      facts: { transport: null, authentication: null },
    });
    await ingest.ingest({
      accountId: alice.id,
      direction: 'inbound',
      receivedAt: new Date(at + 60_000),
      raw: rfc5322('Carol <carol@mail.example>', 'alice@alpha.test', 'Second'),
      facts: {
        transport: {
          via: 'smtp',
          tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
          clientIp: '192.0.2.7',
          helo: 'mx.mail.example',
          receivedChain: [],
          externalHops: 1,
          plaintextHops: 0,
        },
        authentication: {
          spf: { result: 'pass', domain: 'mail.example' },
          dkim: [{ result: 'pass', domain: 'mail.example', selector: 's1', aligned: true }],
          dmarc: { result: 'pass', domain: 'mail.example', policy: 'reject' },
        },
      },
    });
    // Dan: only a message alice sent.
    await ingest.ingest({
      accountId: alice.id,
      direction: 'outbound',
      receivedAt: new Date(at + 120_000),
      raw: rfc5322('Alice <alice@alpha.test>', 'Dan <dan@else.example>', 'Sent only'),
      facts: { transport: null, authentication: null },
    });
  });

  afterAll(async () => {
    await inst?.stop();
  });

  test('include=trust: the newest received message’s facts, or null when there is none', async () => {
    const r = await inst.api('GET', '/api/v1/discussions?include=trust', { token: alice.token });
    assert.equal(r.status, 200, r.text);
    const byTitle = new Map(r.body.items.map((d: { title: string }) => [d.title, d]));
    const carol = byTitle.get('Carol') as { senderFacts: { authentication: { dmarc: { result: string } } } };
    assert.ok(carol, [...byTitle.keys()].join(', '));
    assert.equal(carol.senderFacts.authentication.dmarc.result, 'pass');
    const dan = byTitle.get('Dan') as { senderFacts: unknown };
    assert.ok(dan, [...byTitle.keys()].join(', '));
    assert.equal(dan.senderFacts, null);
  });

  test('without include, no sender facts; a bad include is refused', async () => {
    const plain = await inst.api('GET', '/api/v1/discussions', { token: alice.token });
    assert.equal(plain.status, 200);
    for (const d of plain.body.items) assert.equal('senderFacts' in d, false);
    for (const bad of ['facts', 'trust,trust', '', "trust'--"]) {
      const r = await inst.api('GET', `/api/v1/discussions?include=${encodeURIComponent(bad)}`, {
        token: alice.token,
      });
      assert.equal(r.status, 400, `${bad}: ${r.text}`);
      assert.equal(r.body.code, 'validation_failed');
    }
    assert.equal((await inst.api('GET', '/api/v1/discussions?include=trust')).status, 401);
  });
});
