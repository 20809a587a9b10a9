import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { freePort } from '../../../tests/support/net.ts';
import { startSmtpSink, type SmtpSink } from '../../../tests/support/smtp-sink.ts';
import { deliverOverSmtp, enhancedStatus, sanitizeDiagnostic } from './smtp-outbound.delivery.ts';
import type { DeliveryRoute } from './smtp-outbound.types.ts';

const RAW = Buffer.from(
  'From: a@alpha.test\r\nTo: b@remote.test\r\nSubject: hello\r\nMessage-ID: <x@alpha.test>\r\nDate: Mon, 01 Jan 2024 00:00:00 +0000\r\n\r\nHello there.\r\n',
);
const route = (port: number): DeliveryRoute => ({
  kind: 'override',
  hosts: [{ host: '127.0.0.1', port, preference: 0 }],
});
const opts = {
  heloName: 'alpha.test',
  requireTls: false,
  timeouts: { connectionMs: 5000, greetingMs: 5000, socketMs: 10_000 },
};

describe('SMTP delivery to a real server', () => {
  let tlsSink: SmtpSink;
  let plainSink: SmtpSink;
  beforeAll(async () => {
    tlsSink = await startSmtpSink();
    plainSink = await startSmtpSink({ starttls: false });
  });
  afterAll(async () => {
    await tlsSink.stop();
    await plainSink.stop();
  });

  test('STARTTLS is used when offered and what was negotiated is reported', async () => {
    const r = await deliverOverSmtp(
      route(tlsSink.port),
      { from: 'a@alpha.test', to: ['b@remote.test', 'c@remote.test'] },
      RAW,
      opts,
    );
    assert.deepEqual(
      r.recipients.map((x) => x.outcome),
      ['delivered', 'delivered'],
    );
    assert.equal(r.remoteMta, `127.0.0.1:${tlsSink.port}`);
    assert.match(r.tls?.version ?? '', /^TLSv1\.[23]$/);
    assert.ok(r.tls?.cipher);
    assert.equal(r.tls?.certificateVerified, false, 'a self-signed certificate on an IP is not verified');
    const got = tlsSink.messages.at(-1)!;
    assert.deepEqual(got.to, ['b@remote.test', 'c@remote.test']);
    assert.equal(got.from, 'a@alpha.test');
    assert.equal(got.helo, 'alpha.test');
    assert.equal(got.tls?.version, r.tls?.version);
    assert.ok(got.raw.includes(Buffer.from('Hello there.')));
  });

  test('opportunistic: a server without STARTTLS gets the message in clear, recorded as plaintext', async () => {
    const r = await deliverOverSmtp(route(plainSink.port), { from: 'a@alpha.test', to: ['b@remote.test'] }, RAW, opts);
    assert.equal(r.recipients[0]!.outcome, 'delivered');
    assert.equal(r.tls, null);
    assert.equal(plainSink.messages.at(-1)!.tls, null);
  });

  test('required: a server without STARTTLS is not sent anything (temporary failure, 4.7.4)', async () => {
    const before = plainSink.messages.length;
    const r = await deliverOverSmtp(route(plainSink.port), { from: 'a@alpha.test', to: ['b@remote.test'] }, RAW, {
      ...opts,
      requireTls: true,
    });
    assert.equal(r.recipients[0]!.outcome, 'deferred');
    assert.equal(r.recipients[0]!.status, '4.7.4');
    assert.equal(plainSink.messages.length, before);
  });

  test('per-recipient answers: 5xx fails one, 4xx defers another, the rest are delivered once', async () => {
    tlsSink.behaviour.rejectRecipients.set('gone@remote.test', '550 5.1.1 No such user here');
    tlsSink.behaviour.rejectRecipients.set('busy@remote.test', '452 4.2.2 Mailbox full');
    try {
      const before = tlsSink.messages.length;
      const r = await deliverOverSmtp(
        route(tlsSink.port),
        { from: 'a@alpha.test', to: ['ok@remote.test', 'gone@remote.test', 'busy@remote.test'] },
        RAW,
        opts,
      );
      const by = Object.fromEntries(r.recipients.map((x) => [x.address, x]));
      assert.equal(by['ok@remote.test']!.outcome, 'delivered');
      assert.equal(by['gone@remote.test']!.outcome, 'failed');
      assert.equal(by['gone@remote.test']!.status, '5.1.1');
      assert.match(by['gone@remote.test']!.diagnostic, /No such user here/);
      assert.equal(by['busy@remote.test']!.outcome, 'deferred');
      assert.equal(by['busy@remote.test']!.status, '4.2.2');
      assert.equal(tlsSink.messages.length, before + 1);
      assert.deepEqual(tlsSink.messages.at(-1)!.to, ['ok@remote.test']);
    } finally {
      tlsSink.behaviour.rejectRecipients.clear();
    }
  });

  test('every recipient refused, and the message refused after DATA', async () => {
    tlsSink.behaviour.rejectAll = '550 5.7.1 Go away';
    try {
      const r = await deliverOverSmtp(
        route(tlsSink.port),
        { from: 'a@alpha.test', to: ['x@remote.test', 'y@remote.test'] },
        RAW,
        opts,
      );
      assert.deepEqual(
        r.recipients.map((x) => [x.outcome, x.status]),
        [
          ['failed', '5.7.1'],
          ['failed', '5.7.1'],
        ],
      );
    } finally {
      tlsSink.behaviour.rejectAll = null;
    }
    tlsSink.behaviour.rejectData = '554 5.6.0 Content refused';
    try {
      const r = await deliverOverSmtp(route(tlsSink.port), { from: 'a@alpha.test', to: ['x@remote.test'] }, RAW, opts);
      assert.equal(r.recipients[0]!.outcome, 'failed');
      assert.equal(r.recipients[0]!.status, '5.6.0');
    } finally {
      tlsSink.behaviour.rejectData = null;
    }
    tlsSink.behaviour.rejectData = '451 4.3.0 Try again later';
    try {
      const r = await deliverOverSmtp(route(tlsSink.port), { from: 'a@alpha.test', to: ['x@remote.test'] }, RAW, opts);
      assert.equal(r.recipients[0]!.outcome, 'deferred');
      assert.equal(r.recipients[0]!.status, '4.3.0');
    } finally {
      tlsSink.behaviour.rejectData = null;
    }
  });

  test('nobody listening: deferred (4.4.1), and the next MX host is tried', async () => {
    const closed = await freePort();
    const r = await deliverOverSmtp(route(closed), { from: 'a@alpha.test', to: ['b@remote.test'] }, RAW, opts);
    assert.equal(r.recipients[0]!.outcome, 'deferred');
    assert.equal(r.recipients[0]!.status, '4.4.1');
    assert.equal(r.remoteMta, null);
    const twoHosts: DeliveryRoute = {
      kind: 'mx',
      hosts: [
        { host: '127.0.0.1', port: closed, preference: 5 },
        { host: '127.0.0.1', port: tlsSink.port, preference: 10 },
      ],
    };
    const r2 = await deliverOverSmtp(twoHosts, { from: 'a@alpha.test', to: ['b@remote.test'] }, RAW, opts);
    assert.equal(r2.recipients[0]!.outcome, 'delivered');
    assert.equal(r2.remoteMta, `127.0.0.1:${tlsSink.port}`);
  });
});

describe('reply parsing', () => {
  test('enhanced status codes and diagnostics', () => {
    assert.equal(enhancedStatus('550 5.1.1 No such user', 550, '5.0.0'), '5.1.1');
    assert.equal(enhancedStatus('550 No such user', 550, '5.0.0'), '5.0.0');
    assert.equal(enhancedStatus('421-4.7.0 busy', 421, '4.0.0'), '4.7.0');
    assert.equal(enhancedStatus(undefined, undefined, '4.4.1'), '4.4.1');
    assert.equal(sanitizeDiagnostic('550 bad\r\nInjected: header\u0000 \u00e9'), '550 bad Injected: header');
    assert.equal(sanitizeDiagnostic('x'.repeat(2000)).length, 500);
  });
});
