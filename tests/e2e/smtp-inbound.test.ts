import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { dkimSign } from 'mailauth';
import nodemailer from 'nodemailer';
import type { TestInstance } from '../support/instance.ts';
import { startSmtpInstance } from '../support/mail-world.ts';
import { waitFor } from '../support/net.ts';
import { RawSmtpClient } from '../support/smtp-client.ts';
import { startInternetDns, type InternetDns } from './fixtures/internet-dns.ts';

/**
 * Inbound SMTP through the real entry point: a running instance (startSmtpInstance, SMTP on a free port) and real
 * SMTP clients (nodemailer, and a raw socket where the exact replies matter). The recipient sees the message through
 * the API, with the transport and authentication facts that were measured and verified. The only fake is the DNS of
 * the remote sender domain (SPF, DKIM and DMARC records on the internet), served by a DNS server on loopback.
 */

const DOMAIN = 'alpha.test';
const MAX_BYTES = 64 * 1024;
const dkimKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const dkimPrivatePem = dkimKey.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

let dns: InternetDns;
let inst: TestInstance;
let port: number;
let cert: string;
let bob: { id: string; token: string };

async function signed(message: string): Promise<string> {
  const result = await dkimSign(message, {
    canonicalization: 'relaxed/relaxed',
    signTime: new Date(), // explicit: mailauth otherwise computes t= twice, which rarely breaks the signature
    signatureData: [{ signingDomain: 'sender.example', selector: 'sel', privateKey: dkimPrivatePem }],
  } as Parameters<typeof dkimSign>[1]);
  assert.deepEqual(result.errors, []);
  return result.signatures + message;
}

const letter = (subject: string, extra = '') =>
  `From: Alice Martin <alice@sender.example>\r\nTo: Bob <bob@${DOMAIN}>\r\nSubject: ${subject}\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\nMessage-ID: <${subject.replace(/\W/g, '-')}@sender.example>\r\n${extra}\r\nHello Bob,\r\n\r\nsee you at the meeting.\r\n-- \r\nAlice\r\n`;

/** Waits until the message with this subject is in Bob's mailbox (through the API) and resolves its detail. */
async function delivered(subject: string): Promise<any> {
  let found: any = null;
  await waitFor(async () => {
    const discussions = await inst.api('GET', '/api/v1/discussions', { token: bob.token });
    for (const d of discussions.body?.items ?? []) {
      const messages = await inst.api('GET', `/api/v1/discussions/${d.id}/messages`, { token: bob.token });
      const m = (messages.body?.items ?? []).find((x: any) => x.subject === subject);
      if (m) {
        found = { discussion: d, ...(await inst.api('GET', `/api/v1/messages/${m.id}`, { token: bob.token })).body };
        return true;
      }
    }
    return false;
  }, 20_000);
  return found;
}

async function session(): Promise<RawSmtpClient> {
  const c = await RawSmtpClient.connect(port);
  const greeting = await c.read();
  assert.equal(greeting?.code, 220);
  return c;
}

beforeAll(async () => {
  dns = await startInternetDns({
    'sender.example': ['v=spf1 ip4:127.0.0.1 -all'],
    '_dmarc.sender.example': ['v=DMARC1; p=reject; adkim=s; aspf=s'],
    'sel._domainkey.sender.example': [
      `v=DKIM1; k=rsa; p=${dkimKey.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`,
    ],
  });
  inst = await startSmtpInstance({
    domain: DOMAIN,
    dnsServer: dns.server,
    env: { CALIOPEN_SMTP_MAX_MESSAGE_BYTES: String(MAX_BYTES) },
  });
  assert.ok(inst.running.smtp, 'smtp.enabled=true starts the SMTP server');
  port = inst.running.smtp.port;
  cert = readFileSync(join(inst.dataDir, 'keys', 'tls.crt'), 'utf8');
  bob = await inst.user('bob');
});

afterAll(async () => {
  await inst?.stop();
  await dns?.stop();
});

describe('inbound SMTP on a running instance', () => {
  it('greets with the instance domain, offers STARTTLS, SIZE and enhanced status codes, and no AUTH', async () => {
    const c = await RawSmtpClient.connect(port);
    const greeting = await c.read();
    assert.equal(greeting?.code, 220);
    assert.match(greeting!.text, /^alpha\.test ESMTP/);
    const ehlo = await c.command('EHLO client.sender.example');
    assert.equal(ehlo?.code, 250);
    assert.match(ehlo!.lines[0]!, /^alpha\.test /);
    assert.ok(ehlo!.lines.includes('STARTTLS'));
    assert.ok(ehlo!.lines.includes(`SIZE ${MAX_BYTES}`));
    assert.ok(ehlo!.lines.includes('ENHANCEDSTATUSCODES'));
    assert.ok(!ehlo!.lines.some((l) => l.startsWith('AUTH')), 'an inbound MX takes no logins');
    assert.equal((await c.command('AUTH PLAIN AGJvYgBwYXNzd29yZA=='))?.code, 500);
    await c.quit();
  });

  it('delivers a DKIM-signed message sent over STARTTLS (nodemailer) into the recipient’s discussion, with verified facts', async () => {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port,
      secure: false,
      requireTLS: true,
      name: 'mail.sender.example',
      tls: { ca: cert, servername: DOMAIN },
    });
    const info = await transport.sendMail({
      envelope: { from: 'alice@sender.example', to: [`bob@${DOMAIN}`] },
      raw: await signed(letter('Minutes of Tuesday')),
    });
    transport.close();
    assert.match(info.response, /^250 2\.0\.0 Ok: queued as \d+/);

    const m = await delivered('Minutes of Tuesday');
    assert.equal(m.from.address, 'alice@sender.example');
    assert.ok(
      m.discussion.participants.some((p: any) => p.address === 'alice@sender.example'),
      'the discussion is the one with Alice',
    );
    assert.equal(m.facts.transport.via, 'smtp');
    assert.equal(m.facts.transport.tls.version, 'TLSv1.3', 'the version negotiated on our socket');
    assert.match(m.facts.transport.tls.cipher, /^TLS_/);
    assert.equal(m.facts.transport.clientIp, '127.0.0.1');
    assert.equal(m.facts.transport.helo, 'mail.sender.example');
    assert.deepEqual(m.facts.authentication, {
      spf: { result: 'pass', domain: 'sender.example' },
      dkim: [{ result: 'pass', domain: 'sender.example', selector: 'sel', aligned: true }],
      dmarc: { result: 'pass', domain: 'sender.example', policy: 'reject' },
    });
    const raw = await inst.api('GET', `/api/v1/messages/${m.id}/raw`, { token: bob.token });
    assert.equal(raw.status, 200);
    assert.match(raw.text, /^DKIM-Signature: v=1;/, 'the raw message is kept as received');
  });

  it('records the TLS version actually negotiated (a client limited to TLS 1.2 gets TLSv1.2 on its message)', async () => {
    const c = await session();
    await c.command('EHLO mail.sender.example');
    const socket = await c.startTls({ ca: cert, servername: DOMAIN, maxVersion: 'TLSv1.2' });
    const negotiated = { version: socket.getProtocol(), cipher: socket.getCipher().name };
    await c.command('EHLO mail.sender.example');
    const reply = await c.send('alice@sender.example', [`bob@${DOMAIN}`], await signed(letter('Over TLS 1.2')));
    assert.equal(reply?.code, 250);
    await c.quit();
    const m = await delivered('Over TLS 1.2');
    assert.deepEqual(m.facts.transport.tls, negotiated);
    assert.equal(negotiated.version, 'TLSv1.2');
  });

  it('records a plaintext delivery as such, and a present-but-invalid DKIM signature as fail, never pass', async () => {
    const c = await session();
    await c.command('EHLO mail.sender.example');
    const tampered = (await signed(letter('Tampered in transit'))).replace(
      'see you at the meeting',
      'wire 5000 EUR to this account',
    );
    const reply = await c.send('alice@sender.example', [`bob@${DOMAIN}`], tampered);
    assert.equal(reply?.code, 250);
    await c.quit();
    const m = await delivered('Tampered in transit');
    assert.equal(m.facts.transport.tls, null);
    assert.deepEqual(
      m.facts.authentication.dkim.map((d: any) => d.result),
      ['fail'],
    );
  });

  it('records the Received chain of the hops before us, with the external and plaintext hop counts', async () => {
    const trace =
      'Received: from laptop.sender.example (laptop [10.0.0.2]) by mail.sender.example (Postfix) with ESMTPSA id 1; Sun, 22 Nov 2026 09:59:58 +0000\r\n' +
      'Received: from old-relay.example by laptop.sender.example with SMTP; Sun, 22 Nov 2026 09:59:50 +0000\r\n';
    const c = await session();
    await c.command('EHLO mail.sender.example');
    assert.equal((await c.send('alice@sender.example', [`bob@${DOMAIN}`], trace + letter('With a trace')))?.code, 250);
    await c.quit();
    const m = await delivered('With a trace');
    assert.deepEqual(
      m.facts.transport.receivedChain.map((h: any) => [h.by, h.with, h.tls]),
      [
        ['mail.sender.example', 'ESMTPSA', true],
        ['laptop.sender.example', 'SMTP', false],
      ],
    );
    assert.equal(m.facts.transport.externalHops, 2);
    assert.equal(m.facts.transport.plaintextHops, 1);
    assert.equal(m.facts.authentication.spf.result, 'pass');
    assert.deepEqual(m.facts.authentication.dkim, [], 'unsigned: no DKIM result at all');
  });

  it('validates recipients: unknown 550 5.1.1, disabled 550 5.2.1, over quota 452 4.2.2, other domains 550 5.7.1', async () => {
    const carol = await inst.running.services.accounts.create({ username: 'carol', password: 'pw-carol-0123456789' });
    await inst.running.services.accounts.update(carol.id, { disabled: true });
    const dave = await inst.running.services.accounts.create({
      username: 'dave',
      password: 'pw-dave-0123456789',
      quotaBytes: 0,
    });
    assert.ok(dave);
    const c = await session();
    await c.command('EHLO mail.sender.example');
    assert.equal((await c.command('MAIL FROM:<alice@sender.example>'))?.code, 250);
    const unknown = await c.command(`RCPT TO:<nobody@${DOMAIN}>`);
    assert.equal(unknown?.code, 550);
    assert.match(unknown!.text, /^5\.1\.1 <nobody@alpha\.test>: no such user here$/);
    const disabled = await c.command(`RCPT TO:<carol@${DOMAIN}>`);
    assert.equal(disabled?.code, 550);
    assert.match(disabled!.text, /^5\.2\.1 .*disabled/);
    const full = await c.command(`RCPT TO:<dave@${DOMAIN}>`);
    assert.equal(full?.code, 452);
    assert.match(full!.text, /^4\.2\.2 .*full/);
    const relay = await c.command('RCPT TO:<bob@elsewhere.example>');
    assert.equal(relay?.code, 550);
    assert.match(relay!.text, /^5\.7\.1 .*relay/);
    assert.equal((await c.command(`RCPT TO:<BOB@Alpha.TEST>`))?.code, 250, 'addresses are case-insensitive');
    assert.equal((await c.command(`RCPT TO:<bob+lists@${DOMAIN}>`))?.code, 250, 'sub-addresses reach the account');
    assert.equal((await c.command('DATA'))?.code, 354);
    c.write(`${letter('Two addresses, one copy')}.\r\n`);
    assert.equal((await c.read())?.code, 250);
    await c.quit();
    const m = await delivered('Two addresses, one copy');
    assert.equal(m.to[0].address, `bob@${DOMAIN}`);
  });

  it('refuses an oversize message with 552 5.3.4, declared (SIZE=) or not, stores nothing and keeps the session usable', async () => {
    const spool = inst.running.smtp!.spool;
    // The previous test's message may still be leaving the spool (removed once its commit is on disk).
    await waitFor(async () => (await spool.counts()).queued === 0, 30_000);
    const before = await spool.counts();
    const c = await session();
    await c.command('EHLO mail.sender.example');
    const declared = await c.command(`MAIL FROM:<alice@sender.example> SIZE=${MAX_BYTES + 1}`);
    assert.equal(declared?.code, 552);
    assert.match(declared!.text, /^5\.3\.4 /);
    const big =
      letter('Too big', '') +
      'x'
        .repeat(76)
        .concat('\r\n')
        .repeat(Math.ceil(MAX_BYTES / 78) + 10);
    const reply = await c.send('alice@sender.example', [`bob@${DOMAIN}`], big);
    assert.equal(reply?.code, 552);
    assert.match(reply!.text, /^5\.3\.4 Message exceeds the maximum size of 65536 bytes$/);
    assert.deepEqual(await spool.counts(), before, 'nothing stored');
    assert.equal((await c.send('alice@sender.example', [`bob@${DOMAIN}`], letter('Small after big')))?.code, 250);
    await c.quit();
    await delivered('Small after big');
  });

  it('accepts postmaster@ (RFC 5321) for the administrator', async () => {
    const admin = await inst.user('root', 'admin');
    const c = await session();
    await c.command('EHLO mail.sender.example');
    assert.equal(
      (await c.send('alice@sender.example', [`Postmaster@${DOMAIN}`], letter('To the postmaster')))?.code,
      250,
    );
    await c.quit();
    await waitFor(async () => {
      const d = await inst.api('GET', '/api/v1/discussions', { token: admin.token });
      return (d.body?.items ?? []).length === 1;
    });
  });
});

describe('per-client limits', () => {
  let limited: TestInstance;
  beforeAll(async () => {
    limited = await startSmtpInstance({
      domain: 'beta.test',
      dnsServer: dns.server,
      env: {
        CALIOPEN_SMTP_MAX_CONNECTIONS_PER_IP: '2',
        CALIOPEN_SMTP_MESSAGES_PER_MINUTE_PER_IP: '3',
      },
    });
    await limited.running.services.accounts.create({ username: 'erin', password: 'pw-erin-0123456789' });
  });
  afterAll(async () => limited?.stop());

  it('refuses a third simultaneous connection from one address with 421, and takes it again once one closes', async () => {
    const p = limited.running.smtp!.port;
    const a = await RawSmtpClient.connect(p);
    const b = await RawSmtpClient.connect(p);
    assert.equal((await a.read())?.code, 220);
    assert.equal((await b.read())?.code, 220);
    const third = await RawSmtpClient.connect(p);
    const refused = await third.read();
    assert.equal(refused?.code, 421);
    assert.match(refused!.text, /^4\.7\.0 .*too many connections/);
    assert.equal(await third.read(), null, 'and the server closes it');
    await a.quit();
    await waitFor(async () => {
      const again = await RawSmtpClient.connect(p);
      const r = await again.read();
      again.destroy();
      return r?.code === 220;
    });
    b.destroy();
  });

  it('answers 450 4.7.1 once the per-minute message allowance is used up, without closing the session', async () => {
    const c = await RawSmtpClient.connect(limited.running.smtp!.port);
    await c.read();
    await c.command('EHLO mail.sender.example');
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await c.command('MAIL FROM:<alice@sender.example>');
      codes.push(r!.code);
      if (r!.code === 450) assert.match(r!.text, /^4\.7\.1 Too many messages/);
      await c.command('RSET');
    }
    assert.deepEqual(codes, [250, 250, 250, 450]);
    assert.equal((await c.command('NOOP'))?.code, 250);
    await c.quit();
  });
});
