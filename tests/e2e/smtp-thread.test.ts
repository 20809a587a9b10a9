import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { TestInstance } from '../support/instance.ts';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.ts';
import { startSmtpInstance } from '../support/mail-world.ts';
import { RawSmtpClient } from '../support/smtp-client.ts';
import { waitFor } from '../support/net.ts';

/**
 * The inbound MX's sessions run on a thread of their own (smtp-inbound.thread.ts, on the embedded store): a whole
 * SMTP transaction — greeting, EHLO, MAIL, RCPT (the recipient looked up in instance.db), DATA and the 250 after the
 * spool commit — completes while the instance's main thread is blocked. The client runs on a thread of the test
 * process, so that it keeps going while this one (where the instance's main thread also runs) is held.
 */

const DOMAIN = 'alpha.test';

/** A raw SMTP client on a thread: connects and reads the greeting, then on 'go' sends one message and reports. */
const CLIENT = `
const { parentPort, workerData } = require('node:worker_threads');
const net = require('node:net');
const socket = net.connect(workerData.port, '127.0.0.1');
let buffer = '';
const waiting = [];
socket.on('data', (d) => {
  buffer += d.toString('latin1');
  let end;
  // A reply is complete at a line whose code is followed by a space ("250 ..."), not a dash ("250-...").
  while ((end = buffer.search(/^\\d{3} .*\\r\\n/m)) >= 0) {
    const stop = buffer.indexOf('\\r\\n', end) + 2;
    const reply = buffer.slice(0, stop);
    buffer = buffer.slice(stop);
    waiting.shift()(reply);
  }
});
const read = () => new Promise((resolve) => waiting.push(resolve));
const command = (line) => { const r = read(); socket.write(line + '\\r\\n'); return r; };
(async () => {
  const greeting = await read();
  parentPort.postMessage({ kind: 'ready', greeting });
  await new Promise((resolve) => parentPort.once('message', resolve));
  const replies = [];
  replies.push(await command('EHLO client.sender.example'));
  replies.push(await command('MAIL FROM:<alice@sender.example>'));
  replies.push(await command('RCPT TO:<bob@${DOMAIN}>'));
  replies.push(await command('DATA'));
  const message = 'From: <alice@sender.example>\\r\\nTo: <bob@${DOMAIN}>\\r\\nSubject: While the main thread was busy\\r\\n' +
    'Message-ID: <busy-main@sender.example>\\r\\n\\r\\nHello.\\r\\n.';
  replies.push(await command(message));
  parentPort.postMessage({ kind: 'done', at: Date.now(), replies });
  await command('QUIT');
  socket.end();
})().catch((e) => parentPort.postMessage({ kind: 'error', message: String(e) }));
`;

let dns: TestDnsServer;
let inst: TestInstance;
let bob: { id: string; token: string };

beforeAll(async () => {
  dns = await startDnsServer();
  inst = await startSmtpInstance({ domain: DOMAIN, dnsServer: `${dns.host}:${dns.port}` });
  bob = await inst.user('bob');
});

afterAll(async () => {
  await inst?.stop();
  await dns?.close();
});

describe('the SMTP sessions on a thread of their own', () => {
  it('take a whole message, recipient look-up and durable spooling included, while the main thread is blocked', async () => {
    const client = new Worker(CLIENT, { eval: true, workerData: { port: inst.running.smtp!.port } });
    try {
      const [ready] = (await once(client, 'message')) as [{ kind: string; greeting: string }];
      assert.equal(ready.kind, 'ready');
      assert.match(ready.greeting, /^220 alpha\.test ESMTP/);
      const done = once(client, 'message');
      client.postMessage('go');
      // This thread — the instance's main thread — does nothing for 4 s: no event loop, no timers, no I/O callbacks.
      const blockedUntil = Date.now() + 4000;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 4000);
      const [report] = (await done) as [{ kind: string; at: number; replies: string[]; message?: string }];
      assert.equal(report.kind, 'done', report.message);
      assert.deepEqual(
        report.replies.map((r) => r.slice(0, 3)),
        ['250', '250', '250', '354', '250'],
        report.replies.join(''),
      );
      assert.match(report.replies[4]!, /^250 2\.0\.0 Ok: queued as \d+/);
      assert.ok(
        report.at < blockedUntil,
        `the 250 came ${report.at - blockedUntil} ms after the main thread was free again: it waited for it`,
      );
    } finally {
      await client.terminate();
    }
    // And the main thread, free again, files it.
    await waitFor(async () => {
      const r = await inst.api('GET', '/api/v1/discussions', { token: bob.token });
      return (r.body?.items ?? []).length === 1;
    }, 30_000);
  });

  it('refuses an unknown recipient from its own read of the accounts, and counts it in the main thread’s metrics', async () => {
    const c = await RawSmtpClient.connect(inst.running.smtp!.port);
    assert.equal((await c.read())?.code, 220);
    assert.equal((await c.command('EHLO client.sender.example'))?.code, 250);
    assert.equal((await c.command('MAIL FROM:<alice@sender.example>'))?.code, 250);
    const refused = await c.command(`RCPT TO:<nobody@${DOMAIN}>`);
    assert.equal(refused?.code, 550);
    assert.match(refused!.text, /5\.1\.1 <nobody@alpha\.test>: no such user here/);
    await c.quit();
    await waitFor(async () => {
      const metrics = await inst.api('GET', '/metrics');
      return /caliopen_smtp_in_rejected_total\{reason="rcpt-550"\} 1\b/.test(metrics.text);
    }, 20_000);
    const metrics = await inst.api('GET', '/metrics');
    assert.match(metrics.text, /caliopen_smtp_in_accepted_total 1\b/, 'the message of the first test');
  });
});
