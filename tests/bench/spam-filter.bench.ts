/**
 * The spam filter's detection rate on the generated corpus (tests/fixtures/spam-corpus.ts), through the instance's
 * rspamd adapter against a real rspamd 3.4 started as the tests start it (tests/support/rspamd.ts: network rules off,
 * Bayes on a throwaway redis-server). Two passes:
 *
 *   1. rules alone: every message checked, nothing learnt;
 *   2. after training: the even-numbered messages of each family taught (spam as spam, ham as ham, as users' junk /
 *      not junk would), then the odd-numbered ones checked again (never checked against what they were taught).
 *
 *   node --import tsx tests/bench/spam-filter.bench.ts          # PER_FAMILY=20 JUNK=6
 *   PER_FAMILY=40 JUNK=5 node --import tsx tests/bench/spam-filter.bench.ts
 *
 * Prints detection (spam scored >= JUNK) and false positives (ham scored >= JUNK), per family and overall, and the
 * check latency. Numbers go in docs/benchmarks.md; never asserted by a test.
 */
import { RspamdSpamFilter } from '@caliopen/instance/spam/spam-filter.rspamd.ts';
import { type CorpusMessage, spamCorpus } from '../fixtures/spam-corpus.ts';
import { startRedisServer } from '../support/redis-server.ts';
import { startRspamd } from '../support/rspamd.ts';

const PER_FAMILY = Number(process.env.PER_FAMILY ?? 20);
const JUNK = Number(process.env.JUNK ?? 6);
const TO = 'bob@bench.test';
const envelope = (m: CorpusMessage) => ({
  clientIp: '203.0.113.9',
  helo: 'mx.sender.example',
  mailFrom: m.mailFrom,
  recipients: [TO],
});

const pct = (a: number, b: number) => (b === 0 ? '-' : `${((100 * a) / b).toFixed(1)} %`);

async function pass(filter: RspamdSpamFilter, messages: CorpusMessage[], label: string): Promise<void> {
  const byFamily = new Map<string, { kind: string; n: number; flagged: number; scores: number[] }>();
  const times: number[] = [];
  for (const m of messages) {
    const t0 = performance.now();
    const check = await filter.check(m.raw, envelope(m));
    times.push(performance.now() - t0);
    const f = byFamily.get(m.family) ?? { kind: m.kind, n: 0, flagged: 0, scores: [] };
    f.n++;
    if (check.score >= JUNK) f.flagged++;
    f.scores.push(check.score);
    byFamily.set(m.family, f);
  }
  console.log(`\n${label} (junk from score ${JUNK}, ${messages.length} messages)`);
  let spam = 0;
  let spamFlagged = 0;
  let ham = 0;
  let hamFlagged = 0;
  for (const [family, f] of byFamily) {
    const sorted = [...f.scores].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    console.log(
      `  ${f.kind.padEnd(4)} ${family.padEnd(12)} ${String(f.flagged).padStart(3)}/${String(f.n).padEnd(3)} flagged  (${pct(f.flagged, f.n)}), median score ${median.toFixed(1)}`,
    );
    if (f.kind === 'spam') {
      spam += f.n;
      spamFlagged += f.flagged;
    } else {
      ham += f.n;
      hamFlagged += f.flagged;
    }
  }
  times.sort((a, b) => a - b);
  console.log(
    `  detection ${pct(spamFlagged, spam)} (${spamFlagged}/${spam}); false positives ${pct(hamFlagged, ham)} (${hamFlagged}/${ham})`,
  );
  console.log(
    `  check latency: median ${times[Math.floor(times.length / 2)]!.toFixed(1)} ms, p95 ${times[Math.floor(times.length * 0.95)]!.toFixed(1)} ms`,
  );
}

const redis = await startRedisServer();
const rspamd = await startRspamd({ redis, minLearns: 10 });
try {
  const filter = new RspamdSpamFilter({
    url: rspamd.url,
    controllerUrl: rspamd.controllerUrl,
    password: rspamd.password,
    timeoutMs: 30_000,
  });
  const corpus = spamCorpus(TO, PER_FAMILY);
  await pass(filter, corpus, '1. rules alone');

  const index = new Map<CorpusMessage, number>();
  const seen = new Map<string, number>();
  for (const m of corpus) {
    const i = seen.get(m.family) ?? 0;
    index.set(m, i);
    seen.set(m.family, i + 1);
  }
  const taught = corpus.filter((m) => index.get(m)! % 2 === 0);
  const held = corpus.filter((m) => index.get(m)! % 2 === 1);
  const outcomes = new Map<string, number>();
  for (const m of taught) {
    const o = await filter.learn(m.raw, m.kind);
    outcomes.set(o, (outcomes.get(o) ?? 0) + 1);
  }
  console.log(`\ntaught ${taught.length} messages: ${JSON.stringify(Object.fromEntries(outcomes))}`);
  await pass(filter, held, '2. after training, held-out half');
} finally {
  await rspamd.stop();
  await redis.stop();
}
