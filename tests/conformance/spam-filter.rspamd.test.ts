import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { RspamdSpamFilter } from '@caliopen/instance/spam/spam-filter.rspamd.ts';
import { SpamFilterError } from '@caliopen/instance/spam/spam-filter.port.ts';
import { neutralCampaign, neutralLetter, spamCorpus } from '../fixtures/spam-corpus.ts';
import { redisServerComponent, startRedisServer, type RedisServer } from '../support/redis-server.ts';
import { rspamdComponent, startRspamd, type RspamdServer } from '../support/rspamd.ts';

/**
 * The rspamd adapter against a real rspamd 3.4 (Bayes on a real redis-server), and against a tiny fake HTTP server
 * for what a real rspamd never does (garbage, silence, a flood): every such answer is a SpamFilterError, in bounded
 * time, never a verdict.
 */
const components = { redis: redisServerComponent(), rspamd: rspamdComponent() };
const skip = components.redis.skip || components.rspamd.skip;

describe.skipIf(skip)('rspamd adapter (real rspamd)', () => {
  let redis: RedisServer;
  let rspamd: RspamdServer;
  let filter: RspamdSpamFilter;

  beforeAll(async () => {
    redis = await startRedisServer(components.redis.path);
    rspamd = await startRspamd({ redis, minLearns: 3 });
    filter = new RspamdSpamFilter({
      url: rspamd.url,
      controllerUrl: rspamd.controllerUrl,
      password: rspamd.password,
      timeoutMs: 20_000,
    });
  });
  afterAll(async () => {
    await rspamd?.stop();
    await redis?.stop();
  });

  it('scores a message with its envelope: a lottery scam scores high with its rules named, a letter low', async () => {
    const [scam, letter] = [
      spamCorpus('bob@alpha.test', 1).find((m) => m.family === 'lottery')!,
      spamCorpus('bob@alpha.test', 1).find((m) => m.family === 'colleague')!,
    ];
    const envelope = { clientIp: '203.0.113.9', helo: 'mx.example', recipients: ['bob@alpha.test'] };
    const bad = await filter.check(scam.raw, { ...envelope, mailFrom: scam.mailFrom });
    const good = await filter.check(letter.raw, { ...envelope, mailFrom: letter.mailFrom });
    assert.ok(bad.score >= 6, `scam scored ${bad.score}`);
    assert.ok(good.score < 6, `letter scored ${good.score}`);
    const names = bad.symbols.map((s) => s.name);
    assert.ok(names.includes('SUBJ_ALL_CAPS'), names.join(' '));
    assert.ok(bad.symbols.every((s) => Number.isFinite(s.score) && /^[A-Za-z0-9_.:-]+$/.test(s.name)));
    // Highest weight first.
    const weights = bad.symbols.map((s) => Math.abs(s.score));
    assert.deepEqual(
      weights,
      [...weights].sort((a, b) => b - a),
    );
  });

  it('learns spam and ham through the controller with its password; Bayes then speaks on a look-alike', async () => {
    const before = await filter.check(neutralCampaign('bob@alpha.test', 50));
    assert.ok(!before.symbols.some((s) => s.name === 'BAYES_SPAM'));
    for (let i = 0; i < 3; i++) {
      assert.equal(await filter.learn(neutralCampaign('bob@alpha.test', i), 'spam'), 'learned');
      assert.equal(await filter.learn(neutralLetter('bob@alpha.test', i), 'ham'), 'learned');
    }
    assert.equal(await filter.learn(neutralCampaign('bob@alpha.test', 0), 'spam'), 'already-learned');
    const after = await filter.check(neutralCampaign('bob@alpha.test', 51));
    assert.ok(
      after.symbols.some((s) => s.name === 'BAYES_SPAM' && s.score > 0),
      after.symbols.map((s) => s.name).join(' '),
    );
    assert.ok(after.score > before.score);
  });

  it('a wrong password is refused, said as such', async () => {
    const wrong = new RspamdSpamFilter({
      url: rspamd.url,
      controllerUrl: rspamd.controllerUrl,
      password: 'not-the-password',
      timeoutMs: 20_000,
    });
    await assert.rejects(wrong.learn(neutralCampaign('bob@alpha.test', 7), 'spam'), (e: unknown) => {
      assert.ok(e instanceof SpamFilterError);
      assert.equal(e.reason, 'refused');
      assert.ok(!e.message.includes('not-the-password'));
      return true;
    });
  });

  it('a filter without controller cannot learn', async () => {
    const scanOnly = new RspamdSpamFilter({ url: rspamd.url, controllerUrl: null, password: null, timeoutMs: 5000 });
    assert.equal(scanOnly.canLearn, false);
    await assert.rejects(scanOnly.learn(Buffer.from('Subject: x\r\n\r\nx\r\n'), 'ham'), SpamFilterError);
  });
});

describe('rspamd adapter against a hostile or broken server', () => {
  let server: Server;
  let url: string;
  let answer: (res: import('node:http').ServerResponse) => void = (res) => res.end();

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => answer(res));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const filter = (timeoutMs = 2000) => new RspamdSpamFilter({ url, controllerUrl: url, password: 'pw', timeoutMs });
  const raw = Buffer.from('From: a@example.org\r\nSubject: hi\r\n\r\nhello\r\n');
  const expectError = async (p: Promise<unknown>, reason: SpamFilterError['reason']) =>
    assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof SpamFilterError, String(e));
      assert.equal(e.reason, reason);
      return true;
    });

  it('garbage, wrong shapes and wrong statuses are bad answers, never verdicts', async () => {
    const cases: [number, string][] = [
      [200, 'this is not json'],
      [200, '[1,2,3]'],
      [200, '{"score":"9","action":"reject"}'],
      [200, '{"score":1e308,"action":"reject"}'],
      [200, '{"score":3,"action":"<script>"}'],
      [200, '{"score":3,"action":"no action","symbols":[1]}'],
      [500, '{"error":"internal"}'],
      [200, ''],
    ];
    for (const [status, body] of cases) {
      answer = (res) => {
        res.statusCode = status;
        res.end(body);
      };
      await expectError(filter().check(raw), 'bad-answer');
    }
  });

  it('odd symbols are dropped, the rest kept and bounded', async () => {
    const symbols: Record<string, unknown> = {
      GOOD: { name: 'GOOD', score: 2, description: 'fine\r\nX-Injected: yes' },
      'BAD NAME': { name: 'BAD NAME', score: 1 },
      NOSCORE: { name: 'NOSCORE', score: 'x' },
      NULLED: null,
    };
    for (let i = 0; i < 100; i++) symbols[`MANY_${i}`] = { name: `MANY_${i}`, score: 0.01 * i };
    answer = (res) => res.end(JSON.stringify({ score: 4, action: 'no action', symbols }));
    const check = await filter().check(raw);
    assert.equal(check.score, 4);
    assert.ok(check.symbols.length <= 40);
    assert.equal(check.symbols[0]!.name, 'GOOD');
    assert.ok(!check.symbols[0]!.description!.includes('\n'));
    assert.ok(!check.symbols.some((s) => ['BAD NAME', 'NOSCORE', 'NULLED'].includes(s.name)));
  });

  it('a flood is cut off; silence times out; a closed port is unavailable', async () => {
    answer = (res) => {
      res.write(`{"score":1,"action":"no action","pad":"`);
      const chunk = 'x'.repeat(64 * 1024);
      let sent = 0;
      const more = () => {
        while (sent < 40 && res.write(chunk)) sent++;
        if (sent < 40) res.once('drain', more);
        else res.end('"}');
      };
      more();
    };
    await expectError(filter().check(raw), 'bad-answer');

    answer = () => {}; // never answers
    await expectError(filter(300).check(raw), 'timeout');
    answer = (res) => {
      res.writeHead(200);
      res.write('{"score":'); // then silence
    };
    await expectError(filter(300).check(raw), 'timeout');

    const closed = new RspamdSpamFilter({
      url: 'http://127.0.0.1:9',
      controllerUrl: null,
      password: null,
      timeoutMs: 2000,
    });
    await expectError(closed.check(raw), 'unavailable');
  });

  it('learning: 401 is refused, 208 already learned, 204 skipped, 200 without success a bad answer', async () => {
    const expect: [number, string, string][] = [
      [208, '{"error":"already learned"}', 'already-learned'],
      [204, '', 'skipped'],
      [200, '{"success":true}', 'learned'],
    ];
    for (const [status, body, outcome] of expect) {
      answer = (res) => {
        res.statusCode = status;
        res.end(body);
      };
      assert.equal(await filter().learn(raw, 'spam'), outcome);
    }
    answer = (res) => {
      res.statusCode = 401;
      res.end('{"error":"Unauthorized"}');
    };
    await expectError(filter().learn(raw, 'ham'), 'refused');
    answer = (res) => res.end('{"success":false}');
    await expectError(filter().learn(raw, 'ham'), 'bad-answer');
  });
});
