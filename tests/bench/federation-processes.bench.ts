/**
 * Federated delivery vs SMTP relay with each instance in its own process, as deployed (issue 14, target P2): the
 * local federation of `npm start` (`caliopen federation`: a registry, alpha.test and beta.test, labelled by the
 * registry's auditors, a loopback name server for both zones), alice@alpha.test -> bob@beta.test, the same messages
 * both ways, the ratio federation/SMTP in one run.
 *
 *   node --import tsx tests/bench/federation-processes.bench.ts     # (npm run bench:federation:processes)
 *   FED_BENCH_E2E=1 FED_BENCH_ROUNDS=2 node --import tsx tests/bench/federation-processes.bench.ts
 *
 * The same knobs as federation.bench.ts: FED_BENCH_MESSAGES (N, default 200), FED_BENCH_SIZE (10240),
 * FED_BENCH_CLIENTS (4), FED_BENCH_PROCESS_WARMUP (here: `steady` by default, batches of FED_BENCH_WARMUP_BATCH=250 per
 * route until the JIT has settled, at most FED_BENCH_WARMUP_MAX=4000; a number for a fixed count), FED_BENCH_WARMUP (5
 * per phase), FED_BENCH_SERIAL
 * (30), FED_BENCH_ROUNDS (1), FED_BENCH_E2E=1 (OpenPGP end to end: server-held keys for both, alpha finds bob's through
 * beta's key directory, every message sent with `encryption: require`).
 *
 * federation.bench.ts runs both instances and the API client in one process, on one event loop; no deployment does,
 * and there the two instances' main-thread work adds up on one core. Here each instance is a `caliopen instance start`
 * process and the bench is a third, which only talks HTTP to them, as their users' apps do:
 * - a message is submitted through alice's API (`POST /api/v1/messages`) with `route: federation` or
 *   `route: email` (compose's own choice between the two: the federation where it is open, email otherwise);
 * - it counts as arrived when bob's live stream (`GET /api/v1/events`, what bob's web app listens to) announces it:
 *   latency is from the start of the API request to that announcement, throughput N / (first request -> last
 *   announcement);
 * - after each phase (not timed) every message is read back through the API: bob's copy must show the path taken
 *   (via, TLS; sealed, forward secret and sender-authenticated for the federation; SPF, aligned DKIM and DMARC passing
 *   for SMTP; encrypted with FED_BENCH_E2E=1), and alice's Sent copy its delivery by that route (with beta's receipt
 *   for the federation), else the run aborts;
 * - before a phase is measured, both instances must have gone quiet (their CPU below 5 % over half a second), so that
 *   a phase does not pay for the tail of the one before;
 * - each instance's CPU (user + system, from /proc) per message of the phase is printed, and the phase's start and
 *   end on the monotonic clock (microseconds): FED_BENCH_PROFILE=<dir> writes each instance's CPU profiles there
 *   (<dir>/alpha.test, <dir>/beta.test), to be read for that window.
 * Beta's per-IP limits (SMTP and HTTPS) and its per-peer allowance are lifted, as in federation.bench.ts: everything
 * comes from 127.0.0.1. Prints figures; numbers go in docs/benchmarks.md. Never used as a test.
 */
import { createWriteStream, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { spawnCaliopen, untilReady, answers, type CaliopenChild } from '@caliopen/cli/federation.children.ts';
import type { LoopbackResolver } from '@caliopen/cli/federation.resolver.ts';
import { cleanEnv, mergeConfig, prepareLocalFederation, startFederationResolver } from '../support/local-federation.ts';
import { ROOT } from '../support/process.ts';
import { openSse, type SseStream } from '../support/sse-client.ts';
import { tempDir } from '../support/tmp.ts';
import {
  type ArrivalFacts,
  authenticationProblem,
  BenchAbort,
  bodyText,
  calibration,
  fmt,
  KNOBS,
  now,
  pathProblem,
  pathSummary,
  type PhaseResult,
  printFigures,
  SUBJECT,
  sleep,
  subjectOf,
  type Via,
} from './federation.figures.ts';

const {
  n: N,
  size: SIZE,
  clients: CLIENTS,
  warmup: WARMUP,
  processWarmup: PROCESS_WARMUP,
  rounds: ROUNDS,
  serial: SERIAL,
  e2e: E2E,
  phaseTimeoutMs: PHASE_TIMEOUT_MS,
} = KNOBS;
/** Warm-up until the JIT has settled unless FED_BENCH_PROCESS_WARMUP gives a count (see warmUntilSteady). */
const STEADY_WARMUP = (process.env.FED_BENCH_PROCESS_WARMUP ?? 'steady') === 'steady';
const WARMUP_BATCH = Number(process.env.FED_BENCH_WARMUP_BATCH ?? 250);
const WARMUP_MAX = Number(process.env.FED_BENCH_WARMUP_MAX ?? 4000);
const WARMUP_MIN_BATCHES = 4;
/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/** A JSON call to an instance's API (the bench's only way in). */
/**
 * The bench's HTTP client: node:http over kept-alive connections. The bench shares the machine's two cores with both
 * instances, and `fetch` (undici) cost ~1.5 ms of CPU per submitted message here, CPU taken from the instances; users'
 * apps do not run on the server.
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

function api(
  base: string,
  method: string,
  path: string,
  o: { token?: string; body?: unknown } = {},
): Promise<{ status: number; body: any }> {
  const payload = o.body !== undefined ? Buffer.from(JSON.stringify(o.body)) : null;
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base}${path}`,
      {
        method,
        agent,
        timeout: 120_000,
        headers: {
          ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
          ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null });
          } catch (err) {
            reject(err);
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 120 s`)));
    req.on('error', reject);
    req.end(payload ?? undefined);
  });
}

function expect(r: { status: number; body: any }, status: number, what: string): any {
  if (r.status !== status) throw new BenchAbort(`${what}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  return r.body;
}

/** CPU seconds (user + system) in a /proc `stat` line (of a process or of one of its threads). */
function statCpuSeconds(stat: string): number {
  // Fields after the command name (which may hold spaces, inside parentheses): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  return statCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/** CPU seconds the whole machine has spent busy so far (every core; /proc/stat: all but idle and iowait). */
function machineBusySeconds(): number {
  const [, ...f] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq, steal] = f.map(Number) as number[];
  return (user! + nice! + system! + irq! + softirq! + steal!) / USER_HZ;
}

/** CPU seconds each thread of a process has used so far, by thread id, with its name (the main thread: "main"). */
function threadCpu(pid: number): Map<string, { name: string; seconds: number }> {
  const out = new Map<string, { name: string; seconds: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = tid === String(pid) ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      out.set(tid, { name, seconds: statCpuSeconds(stat) });
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/**
 * Per message, the CPU used between two threadCpu() readings: the main thread's, then the others' (Node 20 leaves its
 * threads unnamed: worker threads, libuv's pool where file and WebCrypto work runs, V8's GC helpers), each thread's
 * share largest first; threads started since count from 0.
 */
function threadBreakdown(
  before: Map<string, { name: string; seconds: number }>,
  after: Map<string, { name: string; seconds: number }>,
  n: number,
): string {
  const used = [...after].map(([tid, t]) => ({
    name: t.name,
    ms: ((t.seconds - (before.get(tid)?.seconds ?? 0)) * 1000) / n,
  }));
  const main = used.find((t) => t.name === 'main')?.ms ?? 0;
  const others = used.filter((t) => t.name !== 'main' && t.ms > 0).sort((x, y) => y.ms - x.ms);
  const sum = others.reduce((acc, t) => acc + t.ms, 0);
  return `main ${fmt(main)}, other threads ${fmt(sum)} (${others.map((t) => fmt(t.ms)).join(' + ') || 'none'})`;
}

/** The number of threads a process runs now. */
/** Where a child's output lines go with FED_BENCH_OUTPUT (a diagnostic knob: V8's --trace-* flags print there). */
const outputs: NodeJS.WritableStream[] = [];
function outputTo(file: string): (line: string, stream: 'stdout' | 'stderr') => void {
  mkdirSync(join(file, '..'), { recursive: true });
  const out = createWriteStream(file, { flags: 'a' });
  outputs.push(out);
  return (line, stream) => out.write(`${stream === 'stderr' ? 'E ' : ''}${line}\n`);
}

function threadsOf(pid: number): number {
  return Number(/^Threads:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

/**
 * bob's new inbound messages as his live stream announces them: a function giving, by message id in order, when each
 * was announced (on this process's clock); it reads only the events received since its last call.
 */
function inboundAnnouncements(stream: SseStream): () => Map<string, number> {
  const at = new Map<string, number>();
  let read = 0;
  return () => {
    for (; read < stream.events.length; read++) {
      const e = stream.events[read]!;
      if (e.event === 'message.new' && e.data.direction === 'inbound' && !at.has(e.data.messageId))
        at.set(e.data.messageId, e.at);
    }
    return at;
  };
}

async function main() {
  const os = await import('node:os');
  console.log(
    `federation bench, one process per instance: N=${N} messages of ~${SIZE} B per phase, ${CLIENTS} API clients, warm-up ${STEADY_WARMUP ? `until settled (batches of ${WARMUP_BATCH}, at most ${WARMUP_MAX})` : PROCESS_WARMUP} per route then ${WARMUP} per phase, ${ROUNDS} round(s)${E2E ? ', OpenPGP end to end' : ''}; ` +
      `node ${process.version}, ${os.cpus().length} CPUs, load ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
  );

  // --- setup (not timed): the local federation, as `npm start` makes it --------------------------------------------
  const tmp = tempDir('caliopen-fedbench-');
  const dataDir = join(tmp.dir, 'federation');
  const running: CaliopenChild[] = [];
  let resolver: LoopbackResolver | null = null;
  let live: SseStream | null = null;
  try {
    console.log('setting up the local federation (caliopen federation: registry, audit, labels)...');
    const { ports, passwordOf } = await prepareLocalFederation(dataDir);
    const alpha = `http://127.0.0.1:${ports.alpha.http}`;
    const beta = `http://127.0.0.1:${ports.beta.http}`;

    // The same processes, started one by one: delivery retries soon (a refused message does not wait a minute), and
    // TLS is required on alpha's SMTP relay (it always gets STARTTLS here, as between real MTAs).
    mergeConfig(join(dataDir, 'alpha.test'), (c) => {
      c.outbound = {
        ...c.outbound,
        tlsPolicy: 'required',
        retry: { attempts: 3, baseDelayMs: 1000, maxDelayMs: 2000 },
      };
    });
    resolver = await startFederationResolver(ports);
    const start = async (name: string, args: string[], ready: string, env: Record<string, string> = {}) => {
      // FED_BENCH_PROFILE=<dir>: a CPU profile of each instance's threads, written there when it stops.
      // FED_BENCH_NODE_ARGS: Node options for both instances (e.g. --max-semi-space-size=64), to try a runtime setting.
      // FED_BENCH_OUTPUT=<dir>: each instance's output written to <dir>/<name>.log (e.g. with --trace-deopt).
      const instance = name !== 'registry';
      const nodeArgs = [
        ...(instance && process.env.FED_BENCH_PROFILE
          ? ['--cpu-prof', `--cpu-prof-dir=${process.env.FED_BENCH_PROFILE}/${name}`]
          : []),
        ...(instance ? (process.env.FED_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean) : []),
      ];
      const child = spawnCaliopen(args, {
        name,
        cwd: ROOT,
        env: cleanEnv(env),
        ...(nodeArgs.length > 0 ? { nodeArgs } : {}),
        ...(instance && process.env.FED_BENCH_OUTPUT
          ? { onLine: outputTo(join(process.env.FED_BENCH_OUTPUT, `${name}.log`)) }
          : {}),
      });
      running.push(child);
      await untilReady(child, () => answers(ready), 120_000);
      return child;
    };
    const [alphaProcess, betaProcess] = await Promise.all([
      start('alpha.test', ['instance', 'start', '--data-dir', join(dataDir, 'alpha.test')], `${alpha}/healthz`),
      start('beta.test', ['instance', 'start', '--data-dir', join(dataDir, 'beta.test')], `${beta}/healthz`, {
        CALIOPEN_SMTP_MAX_CONNECTIONS_PER_IP: '0',
        CALIOPEN_SMTP_MESSAGES_PER_MINUTE_PER_IP: '0',
        CALIOPEN_HTTPS_IP_BURST: '1000000',
        CALIOPEN_HTTPS_IP_PER_SECOND: '100000',
        CALIOPEN_HTTPS_PEER_BURST: '1000000',
        CALIOPEN_HTTPS_PEER_PER_SECOND: '100000',
      }),
    ]);
    await start(
      'registry',
      ['registry', 'start', '--data-dir', join(dataDir, 'registry')],
      `http://127.0.0.1:${ports.registry}/v1/keys`,
    );
    const pids = { alpha: alphaProcess!.process.pid!, beta: betaProcess!.process.pid! };

    const login = async (base: string, username: string) =>
      expect(
        await api(base, 'POST', '/api/v1/auth/login', { body: { username, password: passwordOf(username) } }),
        200,
        `${username} logs in`,
      ).token as string;
    const alice = await login(alpha, 'alice');
    const bob = await login(beta, 'bob');
    expect(
      await api(beta, 'POST', '/api/v1/contacts', {
        token: bob,
        body: { displayName: 'Alice', identities: [{ address: 'alice@alpha.test' }] },
      }),
      201,
      'bob adds alice',
    );
    if (E2E) {
      // Server-held keys on both sides; alpha finds bob's through beta's key directory.
      expect(
        await api(beta, 'POST', '/api/v1/keys', { token: bob, body: { mode: 'server', password: passwordOf('bob') } }),
        201,
        'bob makes a key',
      );
      expect(
        await api(alpha, 'POST', '/api/v1/keys', {
          token: alice,
          body: { mode: 'server', password: passwordOf('alice') },
        }),
        201,
        'alice makes a key',
      );
    }
    // Each member's directory must list the other as labelled (synced from the registry) before anything is sent.
    const until = Date.now() + 120_000;
    while (
      (await api(alpha, 'GET', '/api/v1/routes?to=bob@beta.test', { token: alice })).body?.chosen !== 'federation'
    ) {
      if (Date.now() > until) throw new BenchAbort('alpha never listed beta as a labelled member');
      await sleep(250);
    }
    live = await openSse(`${beta}/api/v1/events`, bob);
    if (live.status !== 200) throw new BenchAbort(`bob's live stream: HTTP ${live.status}`);
    const announced = inboundAnnouncements(live);

    const texts = new Map<number, string>();
    const textOf = (i: number) => {
      let t = texts.get(i);
      if (t === undefined) texts.set(i, (t = bodyText(`fedbench message ${i}`, SIZE)));
      return t;
    };
    /** alice's message (her Sent copy) by key. */
    const sentIds = new Map<string, string>();

    /** Submits one message through alice's API by `via`; returns alpha's message id. */
    async function submit(key: string, i: number, via: Via): Promise<string> {
      const body: Record<string, unknown> = {
        to: [{ address: 'bob@beta.test' }],
        subject: subjectOf(key),
        text: textOf(i),
        route: via === 'federation' ? 'federation' : 'email',
      };
      if (E2E) body['encryption'] = 'require';
      const sent = expect(await api(alpha, 'POST', '/api/v1/messages', { token: alice, body }), 202, `submit ${key}`);
      if (sent.recipients[0].route !== via)
        throw new BenchAbort(`${key}: compose routed it by ${sent.recipients[0].route}, expected ${via}`);
      if (E2E && sent.encrypted !== true) throw new BenchAbort(`${key}: compose did not encrypt it end to end`);
      sentIds.set(key, sent.id);
      return sent.id;
    }

    /** Waits until `count` more inbound messages than `before` were announced to bob. */
    async function waitAnnounced(before: number, count: number, what: string): Promise<void> {
      const limit = Date.now() + PHASE_TIMEOUT_MS;
      while (announced().size < before + count) {
        if (Date.now() > limit)
          throw new BenchAbort(`${what}: ${before + count - announced().size} message(s) never reached bob`);
        await sleep(5);
      }
    }

    /**
     * Not timed: bob's copies of the messages announced since `before` (read through his API), by key, each checked
     * for the path `via` (and SMTP's authentication), and alice's Sent copies for their delivery by `via`.
     */
    async function readBack(via: Via, before: number): Promise<Map<string, { at: number; facts: ArrivalFacts }>> {
      const byKey = new Map<string, { at: number; facts: ArrivalFacts }>();
      for (const [id, at] of [...announced()].slice(before)) {
        const m = expect(await api(beta, 'GET', `/api/v1/messages/${id}`, { token: bob }), 200, `bob reads ${id}`);
        const key = SUBJECT.exec(m.subject ?? '')?.[1];
        if (key === undefined) continue;
        const problem = pathProblem(via, m.facts, E2E) ?? authenticationProblem(via, m.facts);
        if (problem !== null) throw new BenchAbort(`${key}: ${problem}`);
        byKey.set(key, { at, facts: m.facts });
      }
      const limit = Date.now() + 60_000;
      for (const key of byKey.keys()) {
        for (;;) {
          const m = expect(
            await api(alpha, 'GET', `/api/v1/messages/${sentIds.get(key)}`, { token: alice }),
            200,
            `alice reads ${key}`,
          );
          const delivery = (m.deliveries as { domain: string; via: string; receipt: string | null }[]).find(
            (d) => d.domain === 'beta.test',
          );
          if (delivery) {
            if (delivery.via !== via)
              throw new BenchAbort(`${key}: alice's Sent copy says via=${delivery.via}, expected ${via}`);
            if (via === 'federation' && !delivery.receipt)
              throw new BenchAbort(`${key}: no receipt recorded for a federated delivery`);
            break;
          }
          if (Date.now() > limit) throw new BenchAbort(`${key}: no delivery fact on alice's Sent copy`);
          await sleep(20);
        }
      }
      return byKey;
    }

    /** Waits (at most 60 s) until both instances' CPU stays under 5 % for half a second; resolves the time taken. */
    async function waitQuiet(): Promise<number> {
      const t = now();
      const limit = Date.now() + 60_000;
      for (;;) {
        const before = cpuSeconds(pids.alpha) + cpuSeconds(pids.beta);
        await sleep(500);
        const used = cpuSeconds(pids.alpha) + cpuSeconds(pids.beta) - before;
        if (used < 0.05 || Date.now() > limit) return now() - t;
      }
    }

    /** `keys` submitted by `clients` callers back to back: when each request started, and how long each took. */
    async function send(
      via: Via,
      keys: readonly string[],
      clients: number,
    ): Promise<{ started: Map<string, number>; submitMs: number[] }> {
      const started = new Map<string, number>();
      const submitMs: number[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(clients, keys.length) }, async () => {
          while (next < keys.length) {
            const i = next++;
            const t = now();
            started.set(keys[i]!, t);
            await submit(keys[i]!, i, via);
            submitMs.push(now() - t);
          }
        }),
      );
      return { started, submitMs };
    }

    /**
     * Warms one route in batches of WARMUP_BATCH messages (CLIENTS at once) until the JIT has settled: V8 optimises a
     * function only after it has run many times, so code run once or twice per message is still being compiled after
     * hundreds of messages (`--trace-opt`: ~200 functions compiled for the first time in a phase measured after 100
     * warm-up messages; `perf`: 14 % of the machine's samples in TurboFan on V8's helper threads). A long-running
     * instance lives in the settled state. Settled: a batch's whole-machine CPU per message, from its first request
     * until both instances are quiet, is not more than 3 % below the previous batch's; at least four batches (one
     * batch's figure is noisy on a shared machine: 38.2 then 38.0 ms once, where 30 came two batches later), at most
     * WARMUP_MAX messages.
     */
    async function warmUntilSteady(via: Via): Promise<void> {
      const perBatch: number[] = [];
      for (let b = 0; b * WARMUP_BATCH < WARMUP_MAX; b++) {
        const before = announced().size;
        const machine0 = machineBusySeconds();
        await send(
          via,
          Array.from({ length: WARMUP_BATCH }, (_, i) => `p${via[0]}-${b}-${i}`),
          CLIENTS,
        );
        await waitAnnounced(before, WARMUP_BATCH, `${via} process warm-up`);
        await waitQuiet();
        perBatch.push(((machineBusySeconds() - machine0) * 1000) / WARMUP_BATCH);
        await readBack(via, before);
        const [previous, last] = perBatch.slice(-2);
        if (perBatch.length >= WARMUP_MIN_BATCHES && last! >= previous! * 0.97) break;
      }
      console.log(
        `process warm-up by ${via}: ${perBatch.length} batches of ${WARMUP_BATCH}, whole-machine CPU per message ${perBatch.map((c) => fmt(c)).join(', ')} ms${perBatch.length * WARMUP_BATCH >= WARMUP_MAX ? ' (stopped at the limit, not settled)' : ''}`,
      );
    }

    async function phase(via: Via, round: number): Promise<PhaseResult> {
      const tag = `${via[0]}${round}`;
      let before = announced().size;
      const warm = Array.from({ length: WARMUP }, (_, w) => `${tag}-w${w}`);
      await send(via, warm, 1);
      await waitAnnounced(before, warm.length, `${via} warm-up`);
      const warmed = await readBack(via, before);
      console.log(
        `  warm-up ok: ${pathSummary(via, warmed.values().next().value!.facts)}; alice's Sent copy: delivered via=${via}${via === 'federation' ? ' with a receipt' : ''}`,
      );
      console.log(`  waited ${fmt(await waitQuiet(), 0)} ms for both instances to go quiet`);
      console.log(`  calibration: ${fmt(calibration(), 0)} ms (100,000 chained SHA-256; lower is faster)`);

      // Measured: CLIENTS callers submit the N messages back to back.
      before = announced().size;
      const keys = Array.from({ length: N }, (_, i) => `${tag}-${i}`);
      const cpu0 = {
        alpha: cpuSeconds(pids.alpha),
        beta: cpuSeconds(pids.beta),
        bench: cpuSeconds(process.pid),
        machine: machineBusySeconds(),
      };
      const threadCpu0 = { alpha: threadCpu(pids.alpha), beta: threadCpu(pids.beta) };
      const threads0 = `alpha ${threadsOf(pids.alpha)}, beta ${threadsOf(pids.beta)}`;
      // Monotonic microseconds, the clock of the instances' CPU profiles (FED_BENCH_PROFILE): to window them.
      const mark = (what: string) => {
        const line = `  mark ${via} ${what} ${process.hrtime.bigint() / 1000n}`;
        console.log(line);
        for (const out of outputs) out.write(`${line}\n`);
      };
      mark('start');
      const t0 = now();
      const { started, submitMs } = await send(via, keys, CLIENTS);
      await waitAnnounced(before, N, via);
      mark('end');
      const threads1 = `alpha ${threadsOf(pids.alpha)}, beta ${threadsOf(pids.beta)}`;
      const cpu = {
        alpha: ((cpuSeconds(pids.alpha) - cpu0.alpha) * 1000) / N,
        beta: ((cpuSeconds(pids.beta) - cpu0.beta) * 1000) / N,
        bench: ((cpuSeconds(process.pid) - cpu0.bench) * 1000) / N,
        machine: ((machineBusySeconds() - cpu0.machine) * 1000) / N,
      };
      machineCpu.set(`${via}/${round}`, cpu.machine);
      const byThread = {
        alpha: threadBreakdown(threadCpu0.alpha, threadCpu(pids.alpha), N),
        beta: threadBreakdown(threadCpu0.beta, threadCpu(pids.beta), N),
      };
      const byKey = await readBack(via, before);
      const missing = keys.filter((k) => !byKey.has(k));
      if (missing.length > 0) throw new BenchAbort(`${via}: ${missing.length} message(s) not found in bob's mailbox`);
      const last = Math.max(...keys.map((k) => byKey.get(k)!.at));
      const latencies = keys.map((k) => byKey.get(k)!.at - started.get(k)!).sort((x, y) => x - y);

      // One at a time: each message submitted once the previous one was announced to bob (no queueing).
      const serial: number[] = [];
      for (let i = 0; i < SERIAL; i++) {
        const b = announced().size;
        const t = now();
        await submit(`${tag}-s${i}`, i, via);
        await waitAnnounced(b, 1, `${via} one at a time`);
        serial.push([...announced().values()].at(-1)! - t);
      }
      if (SERIAL > 0) await readBack(via, announced().size - SERIAL);
      return {
        via,
        n: N,
        elapsedMs: last - t0,
        latencies,
        submitMs: submitMs.sort((x, y) => x - y),
        serial: serial.sort((x, y) => x - y),
        note: `CPU per message: alpha ${fmt(cpu.alpha)} ms, beta ${fmt(cpu.beta)} ms (each process, all its threads), this bench's API clients ${fmt(cpu.bench)} ms, the whole machine ${fmt(cpu.machine)} ms; threads at the start ${threads0}, at the end ${threads1}\n    by thread (ms per message): alpha ${byThread.alpha}\n                                beta ${byThread.beta}`,
      };
    }

    // Both routes warmed, as a measured phase sends (CLIENTS at once), before either is measured: a fixed count with
    // FED_BENCH_PROCESS_WARMUP=<n>, else until the JIT has settled (below).
    for (const via of ['federation', 'smtp'] as Via[]) {
      if (STEADY_WARMUP) {
        await warmUntilSteady(via);
        continue;
      }
      if (PROCESS_WARMUP <= 0) continue;
      console.log(`process warm-up: ${PROCESS_WARMUP} messages by ${via}...`);
      const before = announced().size;
      await send(
        via,
        Array.from({ length: PROCESS_WARMUP }, (_, i) => `p${via[0]}-${i}`),
        CLIENTS,
      );
      await waitAnnounced(before, PROCESS_WARMUP, `${via} process warm-up`);
      await readBack(via, before);
    }

    const results: PhaseResult[] = [];
    /** Whole-machine CPU per message of each measured phase, by `${via}/${round}`. */
    const machineCpu = new Map<string, number>();
    for (let r = 0; r < ROUNDS; r++) {
      const order: Via[] = r % 2 === 0 ? ['federation', 'smtp'] : ['smtp', 'federation'];
      for (const via of order) {
        console.log(`round ${r + 1}: ${via}...`);
        results.push(await phase(via, r));
      }
    }
    printFigures(results, { rounds: ROUNDS, clients: CLIENTS });
    // Each route's throughput is bound either by the CPU or by its deliveries in flight (outbound.concurrency at once,
    // each as long as its round trip); this says what the ratio would be if both were bound by the CPU alone.
    for (let r = 0; r < ROUNDS; r++) {
      const fed = machineCpu.get(`federation/${r}`)!;
      const smtp = machineCpu.get(`smtp/${r}`)!;
      console.log(
        `round ${r + 1}: whole-machine CPU per message, relay ${fmt(smtp)} ms ÷ federation ${fmt(fed)} ms = ${fmt(smtp / fed, 2)} (the throughput ratio if both routes were bound by the CPU alone)`,
      );
    }
  } finally {
    live?.close();
    agent.destroy();
    for (const child of running.reverse()) await child.stop('SIGTERM');
    await resolver?.close();
    tmp.cleanup();
  }
}

try {
  await main();
} catch (err) {
  if (err instanceof BenchAbort) {
    console.error(`federation bench (processes) aborted: ${err.message}`);
    process.exitCode = 1;
  } else throw err;
}
