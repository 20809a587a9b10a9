import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { test } from 'vitest';
import { freePort } from '../../../tests/support/net.ts';
import { startSmtpSink } from '../../../tests/support/smtp-sink.ts';
import { dkimTxtStrings, generateDkimKeyPair, type DkimKey } from '../identity/dkim-key.ts';
import { MxResolver } from './mx-resolver.ts';
import { describeTransportConformance } from './transport.conformance.ts';
import { SmtpTransport } from './transport.smtp.ts';

const dkimKey = (selector: string): DkimKey => ({ domain: 'alpha.test', selector, ...generateDkimKeyPair() });

// SMTP against a real SMTP server (smtp-server on a loopback port) playing remote.test's MX: 250, 451 and 550 by RCPT.
describeTransportConformance('SMTP', async () => {
  const sink = await startSmtpSink({ port: await freePort() });
  sink.behaviour.rejectRecipients.set('later@remote.test', '451 4.2.0 Mailbox busy, try later');
  sink.behaviour.rejectRecipients.set('gone@remote.test', '550 5.1.1 No such user here');
  const key = dkimKey('caliopen1');
  return {
    transport: new SmtpTransport({
      domain: 'alpha.test',
      clock: () => new Date(),
      resolver: new MxResolver({ mxOverride: [`remote.test=127.0.0.1:${sink.port}`] }),
      tlsPolicy: 'opportunistic',
      timeouts: { connectionMs: 5000, greetingMs: 5000, socketMs: 10_000 },
      dkim: async () => key,
    }),
    domain: 'remote.test',
    accepted: 'ok@remote.test',
    temporary: 'later@remote.test',
    permanent: 'gone@remote.test',
    stop: () => sink.stop(),
  };
});

test('each attempt signs the message as it leaves, with the DKIM key in force then; the Sent copy is not touched', async () => {
  const sink = await startSmtpSink({ port: await freePort() });
  const keys = { caliopen1: dkimKey('caliopen1'), caliopen2: dkimKey('caliopen2') };
  let current = keys.caliopen1;
  // The receiving side's DNS: both selectors published.
  const resolver = async (name: string, type: string) => {
    const selector = /^(caliopen\d)\._domainkey\.alpha\.test$/.exec(name)?.[1] as keyof typeof keys | undefined;
    if (type === 'TXT' && selector) return [dkimTxtStrings(keys[selector].publicKeyPem)];
    throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
  };
  const transport = new SmtpTransport({
    domain: 'alpha.test',
    clock: () => new Date(),
    resolver: new MxResolver({ mxOverride: [`remote.test=127.0.0.1:${sink.port}`] }),
    tlsPolicy: 'opportunistic',
    timeouts: { connectionMs: 5000, greetingMs: 5000, socketMs: 10_000 },
    dkim: async () => current,
  });
  const id = randomUUID();
  const transmitted = Buffer.from(
    `From: alice@alpha.test\r\nTo: carol@remote.test\r\nSubject: signed on the way out\r\nDate: ${new Date().toUTCString()}\r\nMessage-ID: <${id}@alpha.test>\r\n\r\nbody\r\n`,
  );
  const original = Buffer.from(transmitted);
  const job = {
    accountId: randomUUID(),
    messageId: randomUUID(),
    from: 'alice@alpha.test',
    domain: 'remote.test',
    recipients: ['carol@remote.test'],
    attempt: 1,
    queuedAt: new Date().toISOString(),
    history: [],
  };
  try {
    for (const selector of ['caliopen1', 'caliopen2'] as const) {
      current = keys[selector];
      const result = await transport.attempt(job, {
        message: { externalId: `<${id}@alpha.test>`, subject: 's' },
        transmitted,
      });
      assert.equal(result.kind, 'attempted');
      const [got] = (await sink.waitForMessages(selector === 'caliopen1' ? 1 : 2)).slice(-1);
      assert.ok(got!.raw.subarray(0, 15).equals(Buffer.from('DKIM-Signature:')), 'the signature heads the message');
      assert.ok(got!.raw.subarray(got!.raw.length - original.length).equals(original), 'then the message as stored');
      const verdict = await dkimVerify(got!.raw, { resolver: resolver as never });
      assert.equal(verdict.results.length, 1);
      assert.equal(verdict.results[0]!.status.result, 'pass', JSON.stringify(verdict.results[0]!.status));
      assert.equal(verdict.results[0]!.selector, selector, 'the key in force at this attempt');
    }
    assert.ok(transmitted.equals(original), 'the Sent copy itself is never changed');
  } finally {
    await sink.stop();
  }
});
