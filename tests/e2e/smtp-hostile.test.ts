import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { TestInstance } from '../support/instance.ts';
import { startSmtpInstance } from '../support/mail-world.ts';
import { waitFor } from '../support/net.ts';
import { RawSmtpClient } from '../support/smtp-client.ts';
import { startInternetDns, type InternetDns } from './fixtures/internet-dns.ts';

/**
 * Hostile input on the SMTP boundary of a running instance: every case gets a clear SMTP reply (or a closed
 * connection), nothing half-received is stored or acknowledged, and the server keeps serving.
 */

const DOMAIN = 'gamma.test';
let dns: InternetDns;
let inst: TestInstance;
let port: number;
let token: string;

async function session(ehlo = 'mail.sender.example'): Promise<RawSmtpClient> {
  const c = await RawSmtpClient.connect(port);
  assert.equal((await c.read())?.code, 220);
  if (ehlo) assert.equal((await c.command(`EHLO ${ehlo}`))?.code, 250);
  return c;
}

const letter = (subject: string, body = 'hello\r\n', headers = '') =>
  `From: alice@sender.example\r\nTo: bob@${DOMAIN}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '-')}@sender.example>\r\n${headers}\r\n${body}`;

async function subjects(): Promise<string[]> {
  const out: string[] = [];
  const discussions = await inst.api('GET', '/api/v1/discussions', { token });
  for (const d of discussions.body?.items ?? []) {
    const messages = await inst.api('GET', `/api/v1/discussions/${d.id}/messages?limit=200`, { token });
    for (const m of messages.body?.items ?? []) out.push(m.subject);
  }
  return out;
}

/** The server still takes and delivers a normal message. */
async function stillServing(subject: string): Promise<void> {
  const c = await session();
  const reply = await c.send('alice@sender.example', [`bob@${DOMAIN}`], letter(subject));
  assert.equal(reply?.code, 250, `after the hostile input, a normal message is accepted (${subject})`);
  await c.quit();
  await waitFor(async () => (await subjects()).includes(subject), 20_000);
}

beforeAll(async () => {
  dns = await startInternetDns({ 'sender.example': ['v=spf1 ip4:127.0.0.1 -all'] });
  inst = await startSmtpInstance({
    domain: DOMAIN,
    dnsServer: dns.server,
    env: { CALIOPEN_SMTP_MAX_MESSAGE_BYTES: String(4 * 1024 * 1024) },
  });
  port = inst.running.smtp!.port;
  token = (await inst.user('bob')).token;
});

afterAll(async () => {
  await inst?.stop();
  await dns?.stop();
});

describe('hostile input on the SMTP boundary', () => {
  it('8-bit garbage in the envelope: refused cleanly (bad EHLO name, invalid bytes, non-ASCII without SMTPUTF8)', async () => {
    const c = await session('');
    assert.equal(
      (await c.command(Buffer.from('EHLO \xff\xfe\x80.example', 'latin1')))?.code,
      250,
      'smtp-server takes the EHLO line...',
    );
    const helo = await c.command('MAIL FROM:<alice@sender.example>');
    assert.equal(helo?.code, 501, '...and the transaction is refused until a clean EHLO name is given');
    assert.match(helo!.text, /^5\.5\.4 /);
    assert.equal((await c.command('EHLO mail.sender.example'))?.code, 250);
    const bytes = await c.command(Buffer.from('MAIL FROM:<al\xffice@sender.example>', 'latin1'));
    assert.equal(bytes?.code, 501);
    assert.match(bytes!.text, /^5\.1\.7 /);
    const utf8 = await c.command(Buffer.from('MAIL FROM:<élodie@sender.example>', 'utf8'));
    assert.equal(utf8?.code, 553);
    assert.match(utf8!.text, /^5\.6\.7 .*SMTPUTF8/);
    assert.equal(
      (await c.command(Buffer.from('MAIL FROM:<élodie@sender.example> SMTPUTF8', 'utf8')))?.code,
      250,
      'allowed with SMTPUTF8',
    );
    const rcpt = await c.command(Buffer.from(`RCPT TO:<b\xf0\x28\x8c\xbcb@${DOMAIN}>`, 'latin1'));
    assert.equal(rcpt?.code, 501);
    await c.quit();
  });

  it('NUL bytes: refused in commands, kept as they are inside a message', async () => {
    const c = await session();
    assert.equal((await c.command(Buffer.from('MAIL FROM:<a\x00b@sender.example>', 'latin1')))?.code, 501);
    const reply = await c.send(
      'alice@sender.example',
      [`bob@${DOMAIN}`],
      letter('NUL inside', 'before\x00\x00after\r\n'),
    );
    assert.equal(reply?.code, 250);
    await c.quit();
    await waitFor(async () => (await subjects()).includes('NUL inside'), 20_000);
  });

  it('bad addresses get 501/550 replies with text', async () => {
    const c = await session();
    assert.equal((await c.command('MAIL FROM:<alice@sender.example>'))?.code, 250);
    for (const bad of [
      '<a@b@c>',
      '<>',
      `bob@${DOMAIN}`,
      `<"bob smith"@${DOMAIN}>`,
      `<${'x'.repeat(300)}@${DOMAIN}>`,
      '<postmaster>',
    ]) {
      const r = await c.command(`RCPT TO:${bad}`);
      assert.ok(r && [501, 550, 553].includes(r.code), `RCPT TO:${bad.slice(0, 40)} -> ${r?.code} ${r?.text}`);
      assert.match(r!.text, /^5\.\d\.\d+ \S/);
    }
    assert.equal(
      (await c.command(`RCPT TO:<@relay.example:bob@${DOMAIN}>`))?.code,
      250,
      'a source route is ignored (RFC 5321 §3.6.1)',
    );
    await c.quit();
  });

  it('commands out of order get 503 and the session goes on', async () => {
    const c = await session('');
    assert.equal((await c.command('MAIL FROM:<alice@sender.example>'))?.code, 503, 'MAIL before EHLO');
    assert.equal((await c.command('EHLO mail.sender.example'))?.code, 250);
    assert.equal((await c.command(`RCPT TO:<bob@${DOMAIN}>`))?.code, 503, 'RCPT before MAIL');
    assert.equal((await c.command('DATA'))?.code, 503, 'DATA before MAIL');
    assert.equal((await c.command('MAIL FROM:<alice@sender.example>'))?.code, 250);
    assert.equal((await c.command('MAIL FROM:<alice@sender.example>'))?.code, 503, 'nested MAIL');
    assert.equal((await c.command(`RCPT TO:<nobody@${DOMAIN}>`))?.code, 550);
    assert.equal((await c.command('DATA'))?.code, 503, 'DATA when every recipient was refused');
    assert.equal((await c.command('RSET'))?.code, 250);
    assert.equal((await c.send('alice@sender.example', [`bob@${DOMAIN}`], letter('After the disorder')))?.code, 250);
    await c.quit();
  });

  it('an overlong command line (1 MB without CRLF) gets 421 and a closed connection; talking before the greeting and HTTP too', async () => {
    const c = await session();
    c.write('MAIL FROM:<' + 'a'.repeat(1024 * 1024));
    const r = await c.read();
    assert.equal(r?.code, 421);
    assert.match(r!.text, /too long/i);
    assert.equal(await c.read(), null);

    const early = await RawSmtpClient.connect(port);
    early.write('EHLO impatient.example\r\n');
    assert.equal((await early.read())?.code, 421);
    early.destroy();

    const http = await session('');
    assert.equal((await http.command('POST /api/v1/auth/login HTTP/1.1'))?.code, 421);
    http.destroy();
    await stillServing('After long lines');
  });

  it('pipelining abuse: 1,000 recipients, a whole transaction in one write, 5,000 unread NOOPs', async () => {
    const c = await session();
    assert.equal((await c.command('MAIL FROM:<alice@sender.example>'))?.code, 250);
    c.write(Array.from({ length: 1000 }, () => `RCPT TO:<bob@${DOMAIN}>\r\n`).join(''));
    const codes = new Map<number, number>();
    for (let i = 0; i < 1000; i++) {
      const r = await c.read();
      codes.set(r!.code, (codes.get(r!.code) ?? 0) + 1);
    }
    assert.deepEqual([...codes], [[250, 1000]], 'the same recipient repeated counts once, so all are accepted');
    assert.equal((await c.command('RSET'))?.code, 250);
    assert.equal((await c.command('MAIL FROM:<alice@sender.example>'))?.code, 250);
    c.write(Array.from({ length: 150 }, (_, i) => `RCPT TO:<bob+${i}@${DOMAIN}>\r\n`).join(''));
    const many: number[] = [];
    for (let i = 0; i < 150; i++) many.push((await c.read())!.code);
    assert.equal(many.filter((x) => x === 250).length, 100);
    assert.ok(
      many.slice(100).every((x) => x === 452),
      'beyond 100 recipients: 452',
    );
    assert.equal((await c.command('RSET'))?.code, 250);

    c.write(
      `MAIL FROM:<alice@sender.example>\r\nRCPT TO:<bob@${DOMAIN}>\r\nDATA\r\n${letter('Pipelined whole')}.\r\nNOOP\r\n`,
    );
    const replies = [await c.read(), await c.read(), await c.read(), await c.read(), await c.read()].map(
      (r) => r?.code,
    );
    assert.deepEqual(replies, [250, 250, 354, 250, 250]);

    c.write('NOOP\r\n'.repeat(5000));
    let ok = 0;
    for (let i = 0; i < 5000; i++) if ((await c.read())?.code === 250) ok++;
    assert.equal(ok, 5000);
    await c.quit();
    await waitFor(async () => (await subjects()).includes('Pipelined whole'), 20_000);
  });

  it('a client that disconnects mid-DATA gets nothing acknowledged and nothing is stored', async () => {
    const spool = inst.running.smtp!.spool;
    // The pipelined message of the test before may still be in the spool on a loaded machine: start from empty.
    await waitFor(async () => (await spool.counts()).queued === 0, 120_000);
    const c = await session();
    assert.equal((await c.command('MAIL FROM:<alice@sender.example>'))?.code, 250);
    assert.equal((await c.command(`RCPT TO:<bob@${DOMAIN}>`))?.code, 250);
    assert.equal((await c.command('DATA'))?.code, 354);
    c.write(letter('Cut in the middle', 'first half of the body\r\n'.repeat(2000)));
    c.destroy();
    await stillServing('After the cut');
    // A message is in the mailbox a moment before its spool entry goes (removed once its commit is on disk): wait for
    // the spool to empty, then nothing of the cut message may be anywhere.
    await waitFor(async () => (await spool.counts()).queued === 0, 30_000);
    assert.deepEqual(await spool.counts(), { queued: 0, dead: 0 });
    assert.ok(!(await subjects()).includes('Cut in the middle'));
  });

  it('hostile messages (1 MB header line, 1,000-deep multipart, no headers at all, 8-bit garbage) are accepted and stored', async () => {
    const c = await session();
    const longHeader = letter('Megabyte header', 'body\r\n', `X-Long: ${'h'.repeat(1024 * 1024)}\r\n`);
    let nested = 'the innermost part\r\n';
    for (let i = 0; i < 1000; i++)
      nested = `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n${nested}\r\n--b${i}--\r\n`;
    const deep = `From: alice@sender.example\r\nSubject: Deep nesting\r\nMessage-ID: <deep@sender.example>\r\nMIME-Version: 1.0\r\n${nested}`;
    const garbage = Buffer.concat([
      Buffer.from(letter('Eight-bit garbage', ''), 'latin1'),
      Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) % 256)),
    ]);
    for (const message of [longHeader, deep, 'no header, no blank line, just text\r\n', garbage]) {
      const reply = await c.send('alice@sender.example', [`bob@${DOMAIN}`], message);
      assert.equal(reply?.code, 250);
    }
    await c.quit();
    await waitFor(async () => (await inst.running.smtp!.spool.counts()).queued === 0, 30_000);
    const seen = await subjects();
    for (const s of ['Megabyte header', 'Deep nesting', 'Eight-bit garbage'])
      assert.ok(seen.includes(s), `${s} is in the mailbox`);
    assert.deepEqual(
      await inst.running.smtp!.spool.counts(),
      { queued: 0, dead: 0 },
      'every one was delivered, none given up',
    );
    await stillServing('After hostile messages');
  });

  it('a storm of connections that open and drop without a word does not stop the server', async () => {
    await Promise.all(
      Array.from({ length: 15 }, async () => {
        const c = await RawSmtpClient.connect(port);
        c.destroy();
      }),
    );
    await stillServing('After the storm');
  });
});
