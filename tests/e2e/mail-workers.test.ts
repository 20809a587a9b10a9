/**
 * Issue 14 (P1): arriving mail is parsed and its SPF/DKIM/DMARC verified on worker threads
 * (instance/src/app/mail-workers.piscina.ts). These tests hold the threads to what the main thread would have done,
 * on the hostile corpus and a real DNS server; a batch is one exchange between threads; threads come and go with
 * the work; and closing the pool while a batch is in a thread loses nothing.
 */
import assert from 'node:assert/strict';
import pino from 'pino';
import { afterEach, describe, test } from 'vitest';
import { startMailWorkers, type MailWorkers } from '@caliopen/instance/app/mail-workers.piscina.ts';
import { systemDnsResolver, verifyAuthentication } from '@caliopen/instance/email/smtp-inbound.authentication.ts';
import { hostileCorpus } from '@caliopen/instance/mail/hostile-mail.fixture.ts';
import { parseMessage } from '@caliopen/instance/mail/message.parser.ts';
import { startDnsServer } from '../support/dns-server.ts';
import { dkimKey, dkimSigned, sendingDomain } from '../support/mail-world.ts';
import { waitFor } from '../support/net.ts';

const logger = pino({ level: 'silent' });
let workers: MailWorkers | null = null;

afterEach(async () => {
  await workers?.close();
  workers = null;
});

const plain = (n: number, body = `message ${n}\r\n`) =>
  Buffer.from(
    `From: Alice <alice@sender.example>\r\nTo: bob@alpha.test\r\nSubject: number ${n}\r\nMessage-ID: <n${n}@sender.example>\r\nDate: Sun, 06 Dec 2026 10:00:00 +0000\r\n\r\n${body}`,
  );

describe('mail worker threads', () => {
  test('parse the hostile corpus exactly as the main thread does, a batch as one task', async () => {
    workers = startMailWorkers({ threads: 1, dnsServers: [], logger });
    const corpus = hostileCorpus();
    assert.ok(corpus.length > 10);
    // Asked in one turn of the event loop, as ingestBatch asks: one task per 64 messages.
    const inThreads = await Promise.all(corpus.map((m) => workers!.parse(m.raw)));
    const here = await Promise.all(corpus.map((m) => parseMessage(m.raw)));
    for (const [i, m] of corpus.entries()) assert.deepEqual(inThreads[i], here[i], m.name);
    const stats = workers.stats();
    assert.equal(stats.messages, corpus.length);
    assert.equal(stats.tasks, Math.ceil(corpus.length / 64));
    assert.ok(stats.runningThreads >= 1);
    assert.ok(
      inThreads.every((p) => p.date === null || p.date instanceof Date),
      'dates cross as Dates',
    );
  });

  test('verify SPF, DKIM and DMARC with the instance DNS servers, as the main thread does', async () => {
    const key = dkimKey();
    const dns = await startDnsServer({ zone: sendingDomain('sender.example', 'sel', key) });
    try {
      const servers = [`${dns.host}:${dns.port}`];
      workers = startMailWorkers({ threads: 1, dnsServers: servers, logger });
      const signed = Buffer.from(await dkimSigned(key, { domain: 'sender.example', selector: 'sel' }, plain(1)));
      const tampered = Buffer.from(signed.toString().replace('message 1', 'message 2'));
      const input = { ip: '127.0.0.1', helo: 'mx.sender.example', sender: 'alice@sender.example', mta: 'alpha.test' };
      const [good, bad] = await Promise.all([
        workers.authenticate(signed, input),
        workers.authenticate(tampered, input),
      ]);
      assert.equal(workers.stats().tasks, 1, 'both in one task');
      assert.equal(good.spf.result, 'pass');
      assert.deepEqual(
        good.dkim.map((d) => [d.result, d.domain, d.aligned]),
        [['pass', 'sender.example', true]],
      );
      assert.equal(good.dmarc.result, 'pass');
      assert.equal(bad.dkim[0]?.result, 'fail', 'the body changed after signing');
      assert.equal(bad.dmarc.result, 'pass', 'DMARC still passes by the aligned SPF');
      const resolver = systemDnsResolver(servers);
      assert.deepEqual(good, await verifyAuthentication(signed, { ...input, resolver }));
      assert.deepEqual(bad, await verifyAuthentication(tampered, { ...input, resolver }));
      assert.ok(
        dns.queries.some((q) => q.name === 'sel._domainkey.sender.example'),
        'the key was asked of the configured server',
      );
    } finally {
      await dns.close();
    }
  });

  test('the DNS of SPF/DKIM/DMARC is asked once for a burst from one domain; absences are kept briefly, failures not at all', async () => {
    const key = dkimKey();
    const dns = await startDnsServer({ zone: sendingDomain('sender.example', 'sel', key) });
    try {
      const resolver = systemDnsResolver([`${dns.host}:${dns.port}`]);
      const input = { ip: '127.0.0.1', helo: 'mx.sender.example', sender: 'alice@sender.example', mta: 'alpha.test' };
      const burst = await Promise.all(
        Array.from({ length: 8 }, async (_, n) =>
          verifyAuthentication(
            Buffer.from(await dkimSigned(key, { domain: 'sender.example', selector: 'sel' }, plain(n))),
            {
              ...input,
              resolver,
            },
          ),
        ),
      );
      assert.ok(
        burst.every((f) => f.spf.result === 'pass' && f.dkim[0]?.result === 'pass' && f.dmarc.result === 'pass'),
      );
      const asked = (name: string) => dns.queries.filter((q) => q.name === name && q.type === 'TXT').length;
      assert.equal(asked('sel._domainkey.sender.example'), 1, 'the DKIM key, once for the burst');
      assert.equal(asked('sender.example'), 1, 'the SPF record, once');
      assert.equal(asked('_dmarc.sender.example'), 1, 'the DMARC record, once');

      // An absence (NXDOMAIN) is kept for negativeTtlMs (30 s by default) and asked again after it.
      const kept = systemDnsResolver([`${dns.host}:${dns.port}`]);
      await assert.rejects(kept('nothing.sender.example', 'TXT'), { code: 'ENOTFOUND' });
      await assert.rejects(kept('nothing.sender.example', 'TXT'), { code: 'ENOTFOUND' });
      assert.equal(asked('nothing.sender.example'), 1, 'the absence answered from the cache');
      const short = systemDnsResolver([`${dns.host}:${dns.port}`], { negativeTtlMs: 1 });
      await assert.rejects(short('gone.sender.example', 'TXT'), { code: 'ENOTFOUND' });
      const t = Date.now();
      await waitFor(async () => Date.now() > t + 5);
      await assert.rejects(short('gone.sender.example', 'TXT'), { code: 'ENOTFOUND' });
      assert.equal(asked('gone.sender.example'), 2, 'asked again once the absence expired');
      dns.behaviour = 'servfail';
      await assert.rejects(kept('broken.sender.example', 'TXT'));
      dns.behaviour = 'normal';
      dns.zone['broken.sender.example'] = [{ type: 'TXT', data: 'v=spf1 -all' }];
      assert.deepEqual(await kept('broken.sender.example', 'TXT'), [['v=spf1 -all']], 'the failure was not kept');
      // Each caller gets its own copy of an answer.
      const first = (await kept('broken.sender.example', 'TXT')) as string[][];
      first[0]![0] = 'changed';
      assert.deepEqual(await kept('broken.sender.example', 'TXT'), [['v=spf1 -all']]);
    } finally {
      await dns.close();
    }
  });

  test('closing while a batch is in a thread: the batch is parsed on the caller, nothing is lost', async () => {
    workers = startMailWorkers({ threads: 1, dnsServers: [], logger });
    // A batch big enough to still be in the thread when close() comes (about 16 MiB of text to parse).
    const body = `${'0123456789abcdef'.repeat(4)}\r\n`.repeat(16 * 1024);
    const batch = Array.from({ length: 16 }, (_, n) => plain(n, `${n}\r\n${body}`));
    const parsing = Promise.all(batch.map((raw) => workers!.parse(raw)));
    await waitFor(async () => workers!.stats().tasks === 1);
    await workers.close();
    const parsed = await parsing;
    for (const [n, p] of parsed.entries()) {
      assert.equal(p.problem, null);
      assert.equal(p.subject, `number ${n}`);
      assert.ok(p.text.startsWith(`${n}\n`), 'the text of each message, parsed');
    }
  });

  test('threads stop when idle and start again with the next message; after close, work stays on the caller', async () => {
    workers = startMailWorkers({ threads: 1, dnsServers: [], logger, idleTimeoutMs: 200 });
    assert.equal(workers.stats().runningThreads, 0, 'no thread before any mail');
    await workers.parse(plain(1));
    await waitFor(async () => workers!.stats().runningThreads === 0, 30_000);
    assert.equal((await workers.parse(plain(2))).subject, 'number 2');
    assert.equal(workers.stats().tasks, 2);
    await workers.close();
    assert.equal((await workers.parse(plain(3))).subject, 'number 3');
    assert.equal(workers.stats().tasks, 2, 'parsed on the calling thread');
  });

  test('0 threads: everything on the calling thread', async () => {
    workers = startMailWorkers({ threads: 0, dnsServers: [], logger });
    assert.equal((await workers.parse(plain(1))).subject, 'number 1');
    assert.deepEqual(workers.stats(), { tasks: 0, messages: 0, runningThreads: 0 });
  });
});
