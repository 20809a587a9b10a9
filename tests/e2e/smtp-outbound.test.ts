/**
 * Sending mail end to end, through the HTTP API of a running instance: `POST /api/v1/messages` -> DKIM-signed
 * message -> the 'smtp-out' queue -> a real SMTP server this test runs on a free loopback port, playing the
 * recipient domain's MX (reached through outbound.mxOverride). The only "internet" part is the DNS answer for the
 * instance's DKIM key, given to the verifier as a function built from the record `instance dns` prints.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { dnsRecords, loadInstanceIdentity } from '@caliopen/instance/identity/instance-identity.ts';
import { freePort, waitFor } from '../support/net.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';
import { problemBody } from '../support/api-client.ts';
import { queueIdle as isIdle, startTestInstance, type ApiResponse, type TestInstance } from '../support/instance.ts';

const SMTP_OUT = 'smtp-out';

function expectProblem(r: ApiResponse, status: number, code: string, what: string): void {
  problemBody(r, status, what);
  assert.equal(r.body?.code, code, `${what}: ${r.text.slice(0, 300)}`);
}

/** The Message-ID header of a raw message. */
const messageIdOf = (raw: Buffer) => /^Message-ID:\s*(<[^>]+>)/im.exec(raw.toString('latin1'))?.[1] ?? null;

describe('outbound mail through the API', () => {
  let sink: SmtpSink;
  let inst: TestInstance;
  let alice: { id: string; token: string };
  let bob: { id: string; token: string };
  const logLines: Record<string, unknown>[] = [];
  let dkimTxt: string[];

  beforeAll(async () => {
    sink = await startSmtpSink({ port: await freePort() });
    const logs = new PassThrough();
    logs.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n'))
        if (line.trim()) logLines.push(JSON.parse(line) as Record<string, unknown>);
    });
    inst = await startTestInstance({
      domain: 'alpha.test',
      logTo: logs,
      env: {
        CALIOPEN_OUTBOUND_MX_OVERRIDE: `remote.test=127.0.0.1:${sink.port}`,
        CALIOPEN_OUTBOUND_RETRY_ATTEMPTS: '4',
        CALIOPEN_OUTBOUND_RETRY_BASE_DELAY_MS: '100',
        CALIOPEN_OUTBOUND_MAX_ATTACHMENT_BYTES: '65536',
        CALIOPEN_OUTBOUND_MAX_RECIPIENTS: '10',
      },
    });
    alice = await inst.user('alice');
    bob = await inst.user('bob');
    const identity = await loadInstanceIdentity(inst.dataDir, inst.running.services.box);
    const record = dnsRecords(identity).find((r) => r.name === 'caliopen1._domainkey.alpha.test.');
    assert.ok(record, 'instance dns prints the DKIM record');
    dkimTxt = [...record.value.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
  });
  afterAll(async () => {
    await inst.stop();
    await sink.stop();
  });

  /** Plays the internet's DNS for the DKIM verifier: only the instance's published key record exists. */
  const resolver = async (name: string, type: string) => {
    if (type === 'TXT' && name === 'caliopen1._domainkey.alpha.test') return [dkimTxt];
    throw Object.assign(new Error(`no ${type} record for ${name}`), { code: 'ENOTFOUND' });
  };

  const queueIdle = () => isIdle(inst.running, SMTP_OUT);

  /** Every message of an account, through the API (discussions, then their messages). */
  async function mailbox(token: string): Promise<any[]> {
    const d = await inst.api('GET', '/api/v1/discussions?limit=200', { token });
    assert.equal(d.status, 200, d.text);
    const out: any[] = [];
    for (const discussion of d.body.items) {
      const m = await inst.api('GET', `/api/v1/discussions/${discussion.id}/messages?limit=200`, { token });
      assert.equal(m.status, 200, m.text);
      out.push(...m.body.items);
    }
    return out;
  }

  test('a message reaches the remote MX with a DKIM signature that verifies; the local recipient gets it without SMTP', async () => {
    const before = sink.messages.length;
    const r = await inst.api('POST', '/api/v1/messages', {
      token: alice.token,
      body: {
        to: [{ address: 'carol@remote.test', name: 'Carol Remote' }, { address: 'bob@alpha.test' }],
        cc: [{ address: 'dan@remote.test' }],
        subject: 'Les chiffres — 2024',
        text: 'Bonjour,\nvoici les chiffres.\n',
        html: '<p>Bonjour,<br>voici les <b>chiffres</b>.</p>',
        attachments: [
          { filename: 'chiffres.csv', contentType: 'text/csv', content: Buffer.from('a;b\n1;2\n').toString('base64') },
        ],
      },
    });
    assert.equal(r.status, 202, r.text);
    assert.match(r.body.messageId, /^<[0-9a-f-]{36}@alpha\.test>$/);
    const routes = Object.fromEntries(r.body.recipients.map((x: any) => [x.address, [x.route, x.status]]));
    assert.deepEqual(routes, {
      'carol@remote.test': ['smtp', 'queued'],
      'bob@alpha.test': ['local', 'delivered'],
      'dan@remote.test': ['smtp', 'queued'],
    });

    const [got] = (await sink.waitForMessages(before + 1)).slice(before);
    assert.ok(got);
    assert.deepEqual(
      [...got.to].sort(),
      ['carol@remote.test', 'dan@remote.test'],
      'one SMTP transaction for the domain',
    );
    assert.equal(got.from, 'alice@alpha.test');
    assert.equal(got.helo, 'alpha.test');
    assert.equal(messageIdOf(got.raw), r.body.messageId);
    assert.ok(got.tls, 'STARTTLS was negotiated with the MX');

    const verdict = await dkimVerify(got.raw, { resolver: resolver as never });
    assert.equal(verdict.results.length, 1);
    assert.equal(verdict.results[0]!.status.result, 'pass', JSON.stringify(verdict.results[0]));
    assert.equal(verdict.results[0]!.signingDomain, 'alpha.test');
    assert.equal(verdict.results[0]!.selector, 'caliopen1');

    // What was negotiated is recorded in the delivery log (no addresses, no content).
    await waitFor(async () => logLines.some((l) => l.msg === 'delivery attempt' && l.messageId === r.body.id));
    const record = logLines.find((l) => l.msg === 'delivery attempt' && l.messageId === r.body.id)!;
    assert.equal((record.tls as { version: string }).version, got.tls.version);
    assert.equal(record.delivered, 2);
    assert.equal(record.remoteMta, `127.0.0.1:${sink.port}`);
    assert.ok(!JSON.stringify(logLines).includes('voici les chiffres'), 'no body in the logs');

    // The Sent copy is in Alice's mailbox; Bob received the message locally.
    const sent = await inst.api('GET', `/api/v1/messages/${r.body.id}`, { token: alice.token });
    assert.equal(sent.status, 200, sent.text);
    assert.equal(sent.body.direction, 'outbound');
    assert.ok(sent.body.tags.includes('sent'));
    assert.equal(sent.body.conversationId, r.body.conversationId);
    await waitFor(async () =>
      (await mailbox(bob.token)).some((m) => m.subject === 'Les chiffres — 2024' && m.direction === 'inbound'),
    );
    const raw = await inst.api('GET', `/api/v1/messages/${r.body.id}/raw`, { token: alice.token });
    assert.equal(raw.status, 200);
    // The Sent copy is the message as composed: the signature is made as it leaves by SMTP (ADR 0030), at each attempt.
    assert.doesNotMatch(raw.text, /^DKIM-Signature:/im);
    assert.ok(
      got.raw.toString('utf8').endsWith(raw.text.replace(/^Bcc:.*\r\n/im, '')),
      'the MX got the Sent copy, signed',
    );

    // What the deliveries negotiated is on the Sent copy and makes its Privacy Index: TLS with remote.test's MX, local
    // delivery to Bob; the weakest counts (TLS here), and the breakdown says so.
    let pi: any;
    await waitFor(async () => {
      const m = await inst.api('GET', `/api/v1/messages/${r.body.id}`, { token: alice.token });
      pi = m.body.pi;
      return pi.factors.some((f: any) => f.id === 'transport.tls');
    });
    const tls = pi.factors.find((f: any) => f.id === 'transport.tls');
    assert.ok(
      tls.contribution > 0 && tls.evidence.includes(got.tls.version) && tls.evidence.includes(`127.0.0.1:${sink.port}`),
      JSON.stringify(tls),
    );
    assert.equal(
      pi.factors.reduce((n: number, f: any) => n + f.contribution, 0),
      pi.score,
    );
    const listed = (await mailbox(alice.token)).find((m) => m.id === r.body.id);
    assert.equal(listed.pi.score, pi.score, 'the stored summary matches the breakdown');
  });

  test('the MX is down: the message is retried and delivered exactly once when it is back', async () => {
    await sink.stop();
    const before = sink.messages.length;
    const r = await inst.api('POST', '/api/v1/messages', {
      token: alice.token,
      body: { to: [{ address: 'erin@remote.test' }], subject: 'while the MX is down', text: 'retry me' },
    });
    assert.equal(r.status, 202, r.text);
    // The first attempt and the first retry find nobody listening.
    await waitFor(
      async () =>
        logLines.filter((l) => l.msg === 'delivery attempt' && l.messageId === r.body.id && l.deferred === 1).length >=
        2,
      15_000,
      20,
    );
    assert.equal(sink.messages.length, before);
    await sink.start();
    await sink.waitForMessages(before + 1);
    await waitFor(queueIdle);
    assert.equal(
      sink.messages.filter((m) => messageIdOf(m.raw) === r.body.messageId).length,
      1,
      'delivered exactly once',
    );
  });

  test('a permanent refusal (550): the sender finds a bounce in the mailbox, and nothing is retried', async () => {
    sink.behaviour.rejectRecipients.set(
      'nobody@remote.test',
      '550 5.1.1 <nobody@remote.test>: Recipient address rejected',
    );
    try {
      const connectionsBefore = sink.connections;
      const r = await inst.api('POST', '/api/v1/messages', {
        token: alice.token,
        body: { to: [{ address: 'nobody@remote.test' }], subject: 'to nobody', text: 'x' },
      });
      assert.equal(r.status, 202, r.text);
      let bounce: any;
      await waitFor(async () => {
        bounce = (await mailbox(alice.token)).find((m) => m.tags.includes('bounce') && m.direction === 'inbound');
        return bounce !== undefined;
      });
      assert.equal(bounce.from.address.toLowerCase(), 'mailer-daemon@alpha.test');
      const raw = await inst.api('GET', `/api/v1/messages/${bounce.id}/raw`, { token: alice.token });
      assert.match(raw.text, /Content-Type: multipart\/report; report-type=delivery-status/);
      assert.match(raw.text, /Final-Recipient: rfc822; nobody@remote\.test/);
      assert.match(raw.text, /Status: 5\.1\.1/);
      assert.match(raw.text, /Diagnostic-Code: smtp; 550 5\.1\.1 <nobody@remote\.test>: Recipient address rejected/);
      assert.match(raw.text, new RegExp(`In-Reply-To: ${r.body.messageId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      await waitFor(queueIdle);
      assert.equal(sink.connections - connectionsBefore, 1, 'one attempt, no retry after a 5xx');
    } finally {
      sink.behaviour.rejectRecipients.clear();
    }
  });

  test('a temporary refusal (451) then acceptance (250): retried, delivered exactly once, no bounce', async () => {
    sink.behaviour.rejectRecipientsOnce.set('gina@remote.test', '451 4.3.0 Try again later');
    const bounceCount = async () => (await mailbox(alice.token)).filter((m) => m.tags.includes('bounce')).length;
    const bouncesBefore = await bounceCount();
    const connectionsBefore = sink.connections;
    const r = await inst.api('POST', '/api/v1/messages', {
      token: alice.token,
      body: { to: [{ address: 'gina@remote.test' }], subject: 'refused once', text: 'retry me once' },
    });
    assert.equal(r.status, 202, r.text);
    await waitFor(async () => sink.messages.some((m) => messageIdOf(m.raw) === r.body.messageId));
    await waitFor(queueIdle);
    assert.equal(
      sink.messages.filter((m) => messageIdOf(m.raw) === r.body.messageId).length,
      1,
      'delivered exactly once',
    );
    assert.equal(sink.connections - connectionsBefore, 2, 'one refused attempt, one delivering attempt');
    const attempts = logLines.filter((l) => l.msg === 'delivery attempt' && l.messageId === r.body.id);
    assert.deepEqual(
      attempts.map((l) => [l.attempt, l.deferred, l.delivered]),
      [
        [1, 1, 0],
        [2, 0, 1],
      ],
    );
    assert.equal(await bounceCount(), bouncesBefore, 'no bounce');
  });

  test('contacts as recipients: one of mine works, one of another account is refused like a missing one', async () => {
    const mine = await inst.api('POST', '/api/v1/contacts', {
      token: alice.token,
      body: { displayName: 'Fran Remote', identities: [{ address: 'fran@remote.test' }] },
    });
    assert.equal(mine.status, 201, mine.text);
    const bobs = await inst.api('POST', '/api/v1/contacts', {
      token: bob.token,
      body: { displayName: 'Gus', identities: [{ address: 'gus@remote.test' }] },
    });
    assert.equal(bobs.status, 201, bobs.text);
    const before = sink.messages.length;
    const ok = await inst.api('POST', '/api/v1/messages', {
      token: alice.token,
      body: { to: [{ contactId: mine.body.id }], subject: 'to a contact' },
    });
    assert.equal(ok.status, 202, ok.text);
    assert.deepEqual(
      ok.body.recipients.map((x: any) => x.address),
      ['fran@remote.test'],
    );
    const [got] = (await sink.waitForMessages(before + 1)).slice(before);
    assert.match(got!.raw.toString('latin1'), /^To: Fran Remote <fran@remote\.test>/m);
    expectProblem(
      await inst.api('POST', '/api/v1/messages', { token: alice.token, body: { to: [{ contactId: bobs.body.id }] } }),
      404,
      'recipient_unknown',
      "B's contact",
    );
  });

  test('hostile input: precise problem+json codes, and nothing is stored or queued', async () => {
    const storage = inst.running.services.storage;
    await waitFor(queueIdle);
    const before = JSON.stringify([
      await storage.messages.countByAccount(alice.id),
      await storage.messages.countByAccount(bob.id),
      await inst.running.services.queue.counts(SMTP_OUT),
    ]);
    const to = [{ address: 'x@remote.test' }];
    const att = (content: string, more: Record<string, string> = {}) => [
      { filename: 'a.bin', contentType: 'application/octet-stream', content, ...more },
    ];
    const cases: [string, unknown, number, string][] = [
      ['no recipient at all', { subject: 'x' }, 400, 'no_recipients'],
      ['not an address', { to: [{ address: 'not an address' }] }, 400, 'recipient_invalid'],
      ['two @', { to: [{ address: 'a@b@remote.test' }] }, 400, 'recipient_invalid'],
      ['CRLF in an address', { to: [{ address: 'x@remote.test\r\nBcc: victim@evil.test' }] }, 400, 'recipient_invalid'],
      ['CRLF in the subject', { to, subject: 'Hello\r\nBcc: victim@evil.test' }, 400, 'header_invalid'],
      [
        'LF in a display name',
        { to: [{ address: 'x@remote.test', name: 'Eve\nBcc: victim@evil.test' }] },
        400,
        'header_invalid',
      ],
      ['NUL in the subject', { to, subject: 'a\u0000b' }, 400, 'header_invalid'],
      ['unknown contact id', { to: [{ contactId: randomUUID() }] }, 404, 'recipient_unknown'],
      ['unknown local account', { to: [{ address: 'ghost@alpha.test' }] }, 404, 'recipient_unknown'],
      [
        'address and contact id together',
        { to: [{ address: 'x@remote.test', contactId: randomUUID() }] },
        400,
        'recipient_invalid',
      ],
      [
        'too many recipients',
        { to: Array.from({ length: 11 }, (_, i) => ({ address: `r${i}@remote.test` })) },
        400,
        'too_many_recipients',
      ],
      ['bad base64', { to, attachments: att('%%% not base64 %%%') }, 400, 'attachment_invalid'],
      [
        'bad content type',
        { to, attachments: att('QUJD', { contentType: 'text/plain\r\nX-Evil: 1' }) },
        400,
        'attachment_invalid',
      ],
      [
        'CRLF in a filename',
        { to, attachments: att('QUJD', { filename: 'a\r\nContent-Type: text/html' }) },
        400,
        'header_invalid',
      ],
      [
        'oversize attachments',
        { to, attachments: att(Buffer.alloc(70_000).toString('base64')) },
        413,
        'attachments_too_large',
      ],
      ['unknown inReplyTo', { to, inReplyTo: randomUUID() }, 404, 'not_found'],
      ['unknown field', { to, priority: 'high' }, 400, 'validation_failed'],
      ['contact id not a uuid', { to: [{ contactId: '../../etc/passwd' }] }, 400, 'validation_failed'],
    ];
    for (const [what, body, status, code] of cases) {
      expectProblem(await inst.api('POST', '/api/v1/messages', { token: alice.token, body }), status, code, what);
    }
    expectProblem(await inst.api('POST', '/api/v1/messages', { body: { to } }), 401, 'unauthenticated', 'anonymous');
    const after = JSON.stringify([
      await storage.messages.countByAccount(alice.id),
      await storage.messages.countByAccount(bob.id),
      await inst.running.services.queue.counts(SMTP_OUT),
    ]);
    assert.equal(after, before, 'nothing stored, nothing queued');
  });
});
