/**
 * The user's web app in real Chromium against a real instance with a big mailbox (issue 12, "Performance"):
 *
 *   npm run bench:web                      # (= node --import tsx tests/bench/web-app.bench.ts)
 *   WEB_BENCH_DISCUSSIONS=2000 WEB_BENCH_MESSAGES=200 npm run bench:web
 *
 * Needs the built app (`npm run build -w web`) and Debian's chromium (playwright-core drives /usr/bin/chromium).
 * Knobs (env): WEB_BENCH_DISCUSSIONS (10,000) one-message discussions, each with another correspondent;
 * WEB_BENCH_MESSAGES (200) messages in the one long discussion; WEB_BENCH_SCROLL_STEP (840 px, 10 rows: a fast fling, ~50,000 px/s at 60 frames/s) scrolled
 * per animation frame; WEB_BENCH_REPS (3) sign-ins and discussion openings, each in a fresh browser context (cold
 * caches, no HTTP cache), the median and the spread printed.
 *
 * Setup: a real instance in this process (`startTestInstance`: embedded engines, its HTTP server serving web/dist
 * under the app's CSP), its data on /dev/shm when there is one (seeding is not what is measured); one account,
 * seeded through the instance's ingest port (`services.ingest.ingest`, what SMTP and the federation inbox call): the
 * discussions with a mix of the facts each route records (plain SMTP, DKIM/DMARC-checked SMTP, federation from a
 * labelled member), then the long discussion last, so that it is the most recent.
 *
 * Measured in the page (performance.now(), a MutationObserver for the element, then the next animation frame so that
 * it has been painted):
 *  1. sign-in: from the submit click to the first discussion rows painted, then to every visible row's trust level
 *     painted; the requests the page made until then;
 *  2. scrolling the whole list, end to end (the app loads the next page of 100 as the end nears): frame times from
 *     requestAnimationFrame deltas (p50 / p95 / max, frames over 50 ms), long tasks (PerformanceObserver
 *     'longtask': main-thread tasks over 50 ms), the requests made while scrolling, rows in the DOM at the end;
 *  3. opening the long discussion from its row: click to its newest message painted; the requests it made;
 *  4. the bundle: the entry script named by index.html gzipped, and all the JavaScript in web/dist/assets.
 * Prints figures; numbers go in docs/benchmarks.md. Never used as a test (no wall-clock assertion anywhere).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { randomUUID } from 'node:crypto';
import { chromium, type Page } from 'playwright-core';
import { startTestInstance } from '../support/instance.ts';

const DISCUSSIONS = Number(process.env.WEB_BENCH_DISCUSSIONS ?? 10_000);
const MESSAGES = Number(process.env.WEB_BENCH_MESSAGES ?? 200);
const STEP = Number(process.env.WEB_BENCH_SCROLL_STEP ?? 840);
const REPS = Number(process.env.WEB_BENCH_REPS ?? 3);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIST = path.join(ROOT, 'web', 'dist');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

const fmt = (n: number, digits = 1) => n.toLocaleString('en-US', { maximumFractionDigits: digits });
const kb = (bytes: number) => `${fmt(bytes / 1024)} KB`;
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const pct = (xs: number[], p: number) => sorted(xs)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const median = (xs: number[]) => pct(xs, 50);
const spread = (xs: number[]) => `median ${fmt(median(xs))} ms (runs: ${xs.map((x) => fmt(x)).join(', ')})`;

function rfc5322(o: { from: string; to: string; subject: string; body: string; date: Date }): Buffer {
  return Buffer.from(
    [
      `From: ${o.from}`,
      `To: ${o.to}`,
      `Subject: ${o.subject}`,
      `Message-ID: <${randomUUID()}@bench.example>`,
      `Date: ${o.date.toUTCString()}`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      o.body,
      '',
    ].join('\r\n'),
  );
}

const tls = { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' };
/** What each route records (as in tests/e2e/web-app.test.ts), in turn: the list shows every trust level. */
function factsFor(i: number) {
  switch (i % 3) {
    case 0:
      return { transport: null, authentication: null };
    case 1:
      return {
        transport: {
          via: 'smtp',
          tls,
          clientIp: '192.0.2.7',
          helo: 'mx.example',
          receivedChain: [],
          externalHops: 1,
          plaintextHops: 0,
        },
        authentication: {
          spf: { result: 'pass', domain: 'mail.example' },
          dkim: [{ result: 'pass', domain: 'mail.example', selector: 's1', aligned: true }],
          dmarc: { result: 'pass', domain: 'mail.example', policy: 'reject' },
        },
      };
    default:
      return {
        transport: {
          via: 'federation',
          tls,
          clientIp: '127.0.0.1',
          helo: null,
          receivedChain: [],
          externalHops: 0,
          plaintextHops: 0,
        },
        authentication: null,
        federation: {
          peerDomain: 'beta.test',
          labelValid: true,
          peerInstancePi: 80,
          sealed: true,
          forwardSecret: true,
          senderAuthenticated: true,
          envelopeId: randomUUID(),
          e2e: false,
        },
      };
  }
}

function bundleFigures() {
  const html = readFileSync(path.join(DIST, 'index.html'), 'utf8');
  const entry = /<script[^>]+src="\/assets\/([^"]+\.js)"/.exec(html)?.[1];
  if (!entry) throw new Error('no entry script in web/dist/index.html');
  const assets = path.join(DIST, 'assets');
  const js = readdirSync(assets).filter((f) => f.endsWith('.js'));
  const size = (f: string) => {
    const b = readFileSync(path.join(assets, f));
    return { raw: b.length, gz: gzipSync(b, { level: 9 }).length };
  };
  const all = js.map(size);
  return {
    entry: { name: entry, ...size(entry) },
    chunks: js.length,
    totalRaw: all.reduce((s, x) => s + x.raw, 0),
    totalGz: all.reduce((s, x) => s + x.gz, 0),
  };
}

/** In the page: clicks `click`, resolves with the ms until `selector` exists and one more frame has been painted. */
const CLICK_UNTIL = `({ click, selector }) => new Promise((resolve) => {
  const t0 = performance.now();
  const done = () => requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - t0)));
  const mo = new MutationObserver(() => { if (document.querySelector(selector)) { mo.disconnect(); done(); } });
  mo.observe(document.body, { childList: true, subtree: true, characterData: true, attributes: true });
  document.querySelector(click).click();
})`;

/** In the page: the ms from now until `ready()` is true, checked on every mutation, then one more frame. */
const UNTIL = `(fn) => new Promise((resolve) => {
  const ready = new Function('return (' + fn + ')()');
  const t0 = performance.now();
  const done = () => requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - t0)));
  if (ready()) return done();
  const mo = new MutationObserver(() => { if (ready()) { mo.disconnect(); done(); } });
  mo.observe(document.body, { childList: true, subtree: true, characterData: true, attributes: true });
})`;

/** In the page: scrolls the list to its very end (waiting for each next page), sampling every frame and long task. */
const SCROLL = `({ step, total }) => new Promise((resolve) => {
  const el = document.querySelector('.discussion-scroll');
  const frames = [];
  const longTasks = [];
  const po = new PerformanceObserver((list) => { for (const e of list.getEntries()) longTasks.push(e.duration); });
  po.observe({ type: 'longtask', buffered: false });
  let last = performance.now();
  const t0 = last;
  const tick = (now) => {
    frames.push(now - last);
    last = now;
    el.scrollTop += step;
    const rows = document.querySelectorAll('.discussion-row');
    const lastRow = rows[rows.length - 1];
    const atEnd = el.scrollTop + el.clientHeight >= el.scrollHeight - 2;
    if (atEnd && lastRow && lastRow.getAttribute('aria-posinset') === String(total)) {
      po.disconnect();
      resolve({ frames, longTasks, ms: performance.now() - t0, domRows: rows.length });
      return;
    }
    if (performance.now() - t0 > 600000) { po.disconnect(); resolve({ frames, longTasks, ms: -1, domRows: rows.length }); return; }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame((now) => { last = now; requestAnimationFrame(tick); });
})`;

const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim() || 100);

/**
 * CPU time (user + system, ms) used so far by the Chromium this process launched: its renderer processes, and all its
 * processes. Wall-clock frame times on a shared machine include waiting for a core; CPU time per frame does not.
 */
function chromiumCpu(): { renderer: number; all: number } {
  const procs = new Map<number, { ppid: number; cpu: number; renderer: boolean }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      procs.set(Number(entry), {
        ppid: Number(f[1]),
        cpu: (Number(f[11]) + Number(f[12])) * TICK_MS,
        renderer: cmdline.includes('--type=renderer'),
      });
    } catch {
      // gone meanwhile
    }
  }
  const mine = (pid: number): boolean => {
    for (let p = procs.get(pid)?.ppid, hops = 0; p !== undefined && p > 1 && hops < 10; hops++) {
      if (p === process.pid) return true;
      p = procs.get(p)?.ppid;
    }
    return false;
  };
  let renderer = 0;
  let all = 0;
  for (const [pid, p] of procs) {
    if (!mine(pid)) continue;
    all += p.cpu;
    if (p.renderer) renderer += p.cpu;
  }
  return { renderer, all };
}

async function main() {
  if (!existsSync(path.join(DIST, 'index.html'))) throw new Error('web/dist is missing: run `npm run build -w web`');
  if (existsSync('/dev/shm')) process.env.TMPDIR = '/dev/shm';
  const bundle = bundleFigures();
  console.log(
    `web bench: ${DISCUSSIONS} discussions + one of ${MESSAGES} messages; ${os.cpus().length} × ${os.cpus()[0]?.model}, ` +
      `${fmt(os.totalmem() / 2 ** 30, 0)} GiB, Node ${process.version}, load ${os
        .loadavg()
        .map((l) => fmt(l, 2))
        .join(' ')}`,
  );

  const inst = await startTestInstance();
  try {
    const alice = await inst.user('alice');
    const ingest = inst.running.services.ingest;
    const start = Date.now() - (DISCUSSIONS + MESSAGES + 10) * 60_000;
    const t0 = performance.now();
    for (let i = 0; i < DISCUSSIONS; i++) {
      const n = String(i).padStart(5, '0');
      await ingest.ingest({
        accountId: alice.id,
        direction: 'inbound',
        receivedAt: new Date(start + i * 60_000),
        raw: rfc5322({
          from: `Correspondent ${n} <c${n}@list${i % 50}.example>`,
          to: 'alice@alpha.test',
          subject: `About item ${n}`,
          body: `A short note about item ${n}.\n\nRegards.`,
          date: new Date(start + i * 60_000),
        }),
        facts: factsFor(i) as never,
      });
      if ((i + 1) % 1000 === 0)
        process.stdout.write(`  seeded ${i + 1} (${fmt((i + 1) / ((performance.now() - t0) / 1000), 0)}/s)\n`);
    }
    const longStart = start + DISCUSSIONS * 60_000;
    for (let i = 1; i <= MESSAGES; i++) {
      await ingest.ingest({
        accountId: alice.id,
        direction: 'inbound',
        receivedAt: new Date(longStart + i * 60_000),
        raw: rfc5322({
          from: 'Dana Long <dana@long.example>',
          to: 'alice@alpha.test',
          subject: `Chapter ${i}`,
          body: `Message ${i} of ${MESSAGES}.\n\n${'Some text of a real length, a few lines of it. '.repeat(8)}`,
          date: new Date(longStart + i * 60_000),
        }),
        facts: factsFor(i) as never,
      });
    }
    console.log(`seeded ${DISCUSSIONS + MESSAGES} messages in ${fmt((performance.now() - t0) / 1000)} s`);

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
    });
    console.log(`Chromium ${browser.version()}`);
    const signIn: number[] = [];
    const trusted: number[] = [];
    const open: number[] = [];
    let signInRequests = 0;
    let openRequests = 0;
    let scroll: {
      frames: number[];
      longTasks: number[];
      ms: number;
      domRows: number;
      requests: number;
      rendererCpu: number;
      allCpu: number;
    } | null = null;

    for (let rep = 0; rep < REPS; rep++) {
      const context = await browser.newContext({ locale: 'en-GB', viewport: { width: 1200, height: 800 } });
      context.setDefaultTimeout(300_000);
      const page: Page = await context.newPage();
      let requests = 0;
      page.on('request', (r) => {
        if (r.url().includes('/api/')) requests++;
      });
      await page.goto(`${inst.url}/sign-in`);
      await page.getByLabel('Username').fill('alice');
      await page.getByLabel('Password').fill(alice.password);
      requests = 0;
      signIn.push(
        (await page.evaluate(
          `(${CLICK_UNTIL})(${JSON.stringify({ click: 'button[type=submit]', selector: '.discussion-row' })})`,
        )) as number,
      );
      // Every row in view shows its correspondent's trust level.
      const rest = (await page.evaluate(
        `(${UNTIL})(${JSON.stringify(`() => { const rows = [...document.querySelectorAll('.discussion-row')].filter((r) => r.getBoundingClientRect().top < innerHeight); return rows.length > 0 && rows.every((r) => r.querySelector('.trust-compact')); }`)})`,
      )) as number;
      trusted.push(signIn[rep]! + rest);
      await page.waitForLoadState('networkidle');
      signInRequests = requests;

      if (rep === 0) {
        requests = 0;
        const cpu0 = chromiumCpu();
        const r = (await page.evaluate(`(${SCROLL})(${JSON.stringify({ step: STEP, total: DISCUSSIONS + 1 })})`)) as {
          frames: number[];
          longTasks: number[];
          ms: number;
          domRows: number;
        };
        const cpu1 = chromiumCpu();
        scroll = { ...r, requests, rendererCpu: cpu1.renderer - cpu0.renderer, allCpu: cpu1.all - cpu0.all };
        await page.evaluate("document.querySelector('.discussion-scroll').scrollTop = 0");
        await page.locator('.discussion-row[aria-posinset="1"]').waitFor();
      }

      requests = 0;
      const lastText = `Message ${MESSAGES} of ${MESSAGES}.`;
      const first = (await page.evaluate(
        `(${CLICK_UNTIL})(${JSON.stringify({ click: '.discussion-row[aria-posinset="1"] a.discussion-link', selector: '.message' })})`,
      )) as number;
      // From the same click: until the newest message's text is in the page too.
      const tail = (await page.evaluate(
        `(${UNTIL})(${JSON.stringify(`() => [...document.querySelectorAll('.message-body')].some((b) => b.textContent.includes(${JSON.stringify(lastText)}))`)})`,
      )) as number;
      open[rep] = first + tail;
      await page.waitForLoadState('networkidle');
      openRequests = requests;
      await context.close();
    }
    await browser.close();

    console.log('\n--- results ---');
    console.log(`sign-in → first rows painted        : ${spread(signIn)}`);
    console.log(`sign-in → visible trust levels      : ${spread(trusted)}`);
    console.log(`API requests after sign-in (idle)   : ${signInRequests}`);
    if (scroll) {
      const f = scroll.frames;
      console.log(
        `scroll ${DISCUSSIONS + 1} rows end to end : ${fmt(scroll.ms / 1000)} s, ${f.length} frames, p50 ${fmt(pct(f, 50))} ms, ` +
          `p95 ${fmt(pct(f, 95))} ms, max ${fmt(Math.max(...f))} ms, frames > 50 ms: ${f.filter((x) => x > 50).length}`,
      );
      console.log(
        `  long tasks: ${scroll.longTasks.length} (total ${fmt(scroll.longTasks.reduce((s, x) => s + x, 0))} ms, ` +
          `max ${fmt(Math.max(0, ...scroll.longTasks))} ms); API requests while scrolling: ${scroll.requests}; rows in the DOM at the end: ${scroll.domRows}`,
      );
    }
    if (scroll)
      console.log(
        `  CPU while scrolling: renderer ${fmt(scroll.rendererCpu)} ms (${fmt(scroll.rendererCpu / scroll.frames.length, 2)} ms per frame), ` +
          `all Chromium processes ${fmt(scroll.allCpu)} ms (${fmt(scroll.allCpu / scroll.frames.length, 2)} ms per frame)`,
      );
    console.log(`open the ${MESSAGES}-message discussion → newest message painted: ${spread(open)}`);
    console.log(`API requests to open it            : ${openRequests}`);
    console.log(
      `bundle: entry ${bundle.entry.name} ${kb(bundle.entry.raw)} (${kb(bundle.entry.gz)} gz); ` +
        `all JS (${bundle.chunks} files) ${kb(bundle.totalRaw)} (${kb(bundle.totalGz)} gz)`,
    );
    console.log(
      `load average at the end: ${os
        .loadavg()
        .map((l) => fmt(l, 2))
        .join(' ')}`,
    );
  } finally {
    await inst.stop();
  }
}

await main();
