import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { neutralCampaign, neutralLetter, spamCorpus } from '../fixtures/spam-corpus.ts';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.ts';
import type { TestInstance } from '../support/instance.ts';
import { mailbox, startSmtpInstance } from '../support/mail-world.ts';
import { waitFor } from '../support/net.ts';
import { redisServerComponent, startRedisServer, type RedisServer } from '../support/redis-server.ts';
import { rspamdComponent, startRspamd, type RspamdServer } from '../support/rspamd.ts';
import { RawSmtpClient, type SmtpReply } from '../support/smtp-client.ts';

/**
 * Central spam filtering through the real entry points: a running instance receiving mail over SMTP, a real rspamd
 * 3.4 (its Bayes on a real redis-server) at `spam.rspamdUrl`, the user's junk / not junk through the API. The only
 * fake is a tiny HTTP server standing in for an rspamd that answers garbage or nothing (the last suite).
 */

const DOMAIN = 'alpha.test';
const BOB = `bob@${DOMAIN}`;
const components = { redis: redisServerComponent(), rspamd: rspamdComponent() };

async function send(inst: TestInstance, from: string, raw: Buffer): Promise<SmtpReply | null> {
  const c = await RawSmtpClient.connect(inst.running.smtp!.port);
  try {
    assert.equal((await c.read())?.code, 220);
    assert.equal((await c.command('EHLO mx.sender.example'))?.code, 250);
    return await c.send(from, [BOB], raw);
  } finally {
    await c.quit();
  }
}

async function accepted(inst: TestInstance, from: string, raw: Buffer): Promise<void> {
  const reply = await send(inst, from, raw);
  assert.equal(reply?.code, 250, `${reply?.code} ${reply?.text}`);
}

const subjectOf = (raw: Buffer) => /^Subject: (.*)$/m.exec(raw.toString('utf8'))![1]!.trim();

/** The message with this subject in the account's mailbox (waited for), as `GET /api/v1/messages/:id` shows it. */
async function detail(inst: TestInstance, token: string, subject: string, until?: (m: any) => boolean): Promise<any> {
  let found: any = null;
  await waitFor(async () => {
    const m = (await mailbox(inst, token)).find((x) => x.subject === subject);
    if (!m) return false;
    found = (await inst.api('GET', `/api/v1/messages/${m.id}`, { token })).body;
    return until ? until(found) : true;
  }, 30_000).catch(async (e: Error) => {
    const seen = (await mailbox(inst, token)).map((x) => x.subject);
    throw new Error(`${e.message}: "${subject}" not found (or not as awaited) among ${JSON.stringify(seen)}`);
  });
  return found;
}

async function metric(inst: TestInstance, line: RegExp): Promise<number> {
  const text = (await inst.api('GET', '/metrics')).text;
  const m = line.exec(text);
  return m ? Number(m[1]) : 0;
}

describe.skipIf(components.redis.skip || components.rspamd.skip)('spam filtering with a real rspamd', () => {
  let redis: RedisServer;
  let rspamd: RspamdServer;
  let dns: TestDnsServer;
  let inst: TestInstance;
  let bob: { id: string; token: string };

  beforeAll(async () => {
    redis = await startRedisServer(components.redis.path);
    rspamd = await startRspamd({ redis, minLearns: 3 });
    dns = await startDnsServer({ zone: {} });
    inst = await startSmtpInstance({
      domain: DOMAIN,
      dnsServer: `${dns.host}:${dns.port}`,
      env: {
        CALIOPEN_RSPAMD_URL: rspamd.url,
        CALIOPEN_RSPAMD_CONTROLLER_URL: rspamd.controllerUrl,
        CALIOPEN_RSPAMD_PASSWORD: rspamd.password,
        // Bayes alone gives at most 5.1: a trained campaign with no other tell must reach junk with room to spare.
        CALIOPEN_SPAM_JUNK_SCORE: '4.5',
        CALIOPEN_SPAM_REJECT_SCORE: '15',
        CALIOPEN_SPAM_TIMEOUT_MS: '10000',
        CALIOPEN_SPAM_RECHECK_DELAY_MS: '300',
      },
    });
    bob = await inst.user('bob');
  });
  afterAll(async () => {
    await inst?.stop();
    await rspamd?.stop();
    await dns?.close();
    await redis?.stop();
  });

  it("rspamd's verdicts over SMTP: spam filed as junk with its rules, ham normal, far beyond junk refused with 550", async () => {
    const corpus = spamCorpus(BOB, 1);
    const spam = corpus.filter((m) => ['lottery', 'inheritance'].includes(m.family));
    const ham = corpus.filter((m) => ['colleague', 'family', 'list'].includes(m.family));
    for (const m of [...spam, ...ham]) await accepted(inst, m.mailFrom, m.raw);

    for (const m of spam) {
      const d = await detail(inst, bob.token, subjectOf(m.raw));
      assert.equal(d.facts.spam.status, 'checked');
      assert.equal(d.facts.spam.verdict, 'spam', `${m.family} scored ${d.facts.spam.score}`);
      assert.ok(d.facts.spam.score >= 4.5);
      assert.ok(d.facts.spam.symbols.some((s: any) => s.name === 'SUBJ_ALL_CAPS' && s.score > 0));
      assert.equal(d.importance, 'junk', 'spam is filed as junk, never dropped');
      assert.ok(d.importanceReasons.some((r: any) => r.id === 'spam.filter'));
    }
    for (const m of ham) {
      const d = await detail(inst, bob.token, subjectOf(m.raw));
      assert.equal(d.facts.spam.verdict, 'ham', `${m.family} scored ${d.facts.spam.score}`);
      assert.notEqual(d.importance, 'junk');
    }

    // GTUBE: rspamd scores it at its reject threshold (15): refused at SMTP time, the sender's server keeps it.
    const gtube = Buffer.from(
      `From: tester@sender.example\r\nTo: ${BOB}\r\nSubject: GTUBE probe\r\nDate: ${new Date().toUTCString()}\r\nMessage-ID: <gtube@sender.example>\r\n\r\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n`,
    );
    const refused = await send(inst, 'tester@sender.example', gtube);
    assert.equal(refused?.code, 550);
    assert.match(refused!.text, /^5\.7\.1 Message refused as spam \(score \d+\.\d\)/);
    assert.ok(!(await mailbox(inst, bob.token)).some((m) => m.subject === 'GTUBE probe'));

    assert.ok((await metric(inst, /caliopen_spam_checks_total\{when="smtp",outcome="spam"\} (\d+)/)) >= 2);
    assert.ok((await metric(inst, /caliopen_spam_checks_total\{when="smtp",outcome="ham"\} (\d+)/)) >= 3);
    assert.equal(await metric(inst, /caliopen_spam_checks_total\{when="smtp",outcome="rejected"\} (\d+)/), 1);
    assert.equal(await metric(inst, /caliopen_smtp_in_rejected_total\{reason="spam"\} (\d+)/), 1);
  });

  it('junk and not junk through the API train rspamd: a later message of the same campaign turns junk', async () => {
    const from = (raw: Buffer) => /^From: .*<(.*)>$/m.exec(raw.toString('latin1'))![1]!;
    const before = neutralCampaign(BOB, 0);
    await accepted(inst, from(before), before);
    const first = await detail(inst, bob.token, subjectOf(before));
    assert.equal(first.facts.spam.verdict, 'ham', `an untrained campaign passes (score ${first.facts.spam.score})`);
    assert.ok(!first.facts.spam.symbols.some((s: any) => s.name === 'BAYES_SPAM'));

    const lessons: { raw: Buffer; word: 'junk' | 'not-junk' }[] = [{ raw: before, word: 'junk' }];
    for (let i = 1; i < 3; i++) lessons.push({ raw: neutralCampaign(BOB, i), word: 'junk' });
    for (let i = 0; i < 3; i++) lessons.push({ raw: neutralLetter(BOB, i), word: 'not-junk' });
    for (const l of lessons) {
      if (l.raw !== before) await accepted(inst, from(l.raw), l.raw);
      const d = await detail(inst, bob.token, subjectOf(l.raw));
      const r = await inst.api('PATCH', `/api/v1/messages/${d.id}`, { token: bob.token, body: { importance: l.word } });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.importance, l.word === 'junk' ? 'junk' : 'normal');
    }
    await waitFor(
      async () => (await metric(inst, /caliopen_spam_lessons_total\{as="spam",outcome="learned"\} (\d+)/)) >= 3,
      30_000,
    );
    await waitFor(
      async () => (await metric(inst, /caliopen_spam_lessons_total\{as="ham",outcome="learned"\} (\d+)/)) >= 3,
      30_000,
    );

    const later = neutralCampaign(BOB, 7);
    await accepted(inst, from(later), later);
    const d = await detail(inst, bob.token, subjectOf(later));
    assert.ok(
      d.facts.spam.symbols.some((s: any) => s.name === 'BAYES_SPAM' && s.score > 0),
      d.facts.spam.symbols.map((s: any) => s.name).join(' '),
    );
    assert.equal(d.facts.spam.verdict, 'spam', `trained: score ${d.facts.spam.score}`);
    assert.equal(d.importance, 'junk');

    // Not junk on it: at least normal again, whatever the filter said.
    const back = await inst.api('PATCH', `/api/v1/messages/${d.id}`, {
      token: bob.token,
      body: { importance: 'not-junk' },
    });
    assert.equal(back.body.importance, 'normal');
    const bad = await inst.api('PATCH', `/api/v1/messages/${d.id}`, {
      token: bob.token,
      body: { importance: 'spam' },
    });
    assert.equal(bad.status, 400);
  });

  it('rspamd down then up loses nothing: mail is filed unchecked, then checked again and the verdict applied', async () => {
    await rspamd.stop();
    const [scam, letter] = [
      spamCorpus(BOB, 3).filter((m) => m.family === 'lottery')[2]!,
      spamCorpus(BOB, 3).filter((m) => m.family === 'colleague')[2]!,
    ];
    await accepted(inst, scam.mailFrom, scam.raw);
    await accepted(inst, letter.mailFrom, letter.raw);
    const waiting = await detail(inst, bob.token, subjectOf(scam.raw));
    assert.equal(waiting.facts.spam.status, 'unchecked');
    assert.equal(waiting.facts.spam.verdict, null);
    assert.equal(waiting.importance, 'normal', 'filed in the mailbox meanwhile, not junk yet');
    assert.ok((await metric(inst, /caliopen_spam_checks_total\{when="smtp",outcome="unchecked"\} (\d+)/)) >= 2);

    rspamd = await startRspamd({
      redis,
      minLearns: 3,
      password: rspamd.password,
      normalPort: rspamd.normalPort,
      controllerPort: rspamd.controllerPort,
    });
    const checked = await detail(inst, bob.token, subjectOf(scam.raw), (m) => m.facts.spam.status === 'checked');
    assert.equal(checked.facts.spam.verdict, 'spam');
    assert.equal(checked.importance, 'junk');
    const fine = await detail(inst, bob.token, subjectOf(letter.raw), (m) => m.facts.spam.status === 'checked');
    assert.equal(fine.facts.spam.verdict, 'ham');
    assert.equal(fine.importance, 'normal');
    // The discussion moved with it.
    const discussions = (await inst.api('GET', '/api/v1/discussions?limit=200', { token: bob.token })).body.items;
    assert.equal(discussions.find((x: any) => x.id === checked.conversationId).importance, 'junk');
  });
});

describe('spam filtering with an rspamd that answers garbage or nothing', () => {
  let fake: Server;
  let dns: TestDnsServer;
  let inst: TestInstance;
  let bob: { id: string; token: string };
  let mode: 'garbage' | 'silent' | 'fine' = 'garbage';

  beforeAll(async () => {
    fake = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (mode === 'garbage') res.end('<html>502 Bad Gateway</html>');
        else if (mode === 'fine') res.end(JSON.stringify({ score: 9.5, action: 'add header', symbols: {} }));
        // silent: never answers
      });
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    dns = await startDnsServer({ zone: {} });
    inst = await startSmtpInstance({
      domain: DOMAIN,
      dnsServer: `${dns.host}:${dns.port}`,
      env: {
        CALIOPEN_RSPAMD_URL: `http://127.0.0.1:${(fake.address() as AddressInfo).port}`,
        CALIOPEN_SPAM_TIMEOUT_MS: '500',
        CALIOPEN_SPAM_RECHECK_DELAY_MS: '200',
      },
    });
    bob = await inst.user('bob');
  });
  afterAll(async () => {
    await inst?.stop();
    fake?.closeAllConnections();
    await new Promise((r) => fake?.close(r));
    await dns?.close();
  });

  it('garbage and silence: the mail is accepted and filed unchecked; a sane answer later applies the verdict', async () => {
    const [a, b] = spamCorpus(BOB, 1).filter((m) => m.kind === 'ham');
    mode = 'garbage';
    await accepted(inst, a!.mailFrom, a!.raw);
    mode = 'silent';
    await accepted(inst, b!.mailFrom, b!.raw);
    for (const m of [a!, b!]) {
      const d = await detail(inst, bob.token, subjectOf(m.raw));
      assert.equal(d.facts.spam.status, 'unchecked');
      assert.equal(d.importance, 'normal');
    }
    mode = 'fine';
    for (const m of [a!, b!]) {
      const d = await detail(inst, bob.token, subjectOf(m.raw), (x) => x.facts.spam.status === 'checked');
      assert.equal(d.facts.spam.verdict, 'spam');
      assert.equal(d.facts.spam.score, 9.5);
      assert.equal(d.importance, 'junk');
    }
  });
});
