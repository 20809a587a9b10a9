/**
 * Compose cost (issue 14, item 4): `POST /api/v1/messages` -> stored Sent copy -> delivery job queued, through the real
 * HTTP route of a real instance, and what it costs per message.
 *
 *   node --import tsx tests/bench/compose.bench.ts             # (npm run bench:compose) N=500 C=4 SIZE=10240
 *   N=1000 C=8 TO=local node --import tsx tests/bench/compose.bench.ts
 *   PROFILE=1 node --import tsx tests/bench/compose.bench.ts   # + a CPU profile of the measured burst
 *
 * Knobs (env): N messages (default 500); C concurrent API clients (default 4); SIZE bytes of plain text body (default
 * 10240, ~10 KB); WARMUP messages sent first, not measured (default 20); TO=remote (default: one external recipient,
 * bob@remote.test, routed by SMTP: a delivery job on the 'smtp-out' queue) or TO=local (bob of this instance: Sent copy
 * plus bob's copy, both through ingest, no job); KEY=1 gives alice a server-side OpenPGP key first (`POST /api/v1/keys`
 * mode server): every message is then signed (OpenPGP/MIME) and carries her Autocrypt header, and compose looks for
 * the recipient's key (none is found: sent signed, not encrypted); PROFILE=1 writes the CPU profile of the measured burst
 * (node:inspector Profiler) to PROFILE_OUT (default ./compose.cpuprofile, opens in Chrome DevTools) and prints the top
 * functions by self and by inclusive time.
 *
 * Setup (not timed), as in tests/e2e: one instance in this process (tests/support/instance.ts: embedded engines,
 * SQLite `synchronous=FULL`, data dir under os.tmpdir(), on disk here), one account (alice) signed in over HTTP.
 * For TO=remote, outbound mail for remote.test goes (`outbound.mxOverride`) to a black hole on loopback: a TCP server
 * that accepts and never greets, so the 'smtp-out' worker's few delivery slots hang on the greeting and every other
 * job waits in the queue: nothing is delivered, and the worker costs next to nothing during the measure (first retry
 * an hour later: `outbound.retry.baseDelayMs`).
 *
 * Figures (printed, never asserted; numbers go in docs/benchmarks.md):
 *   msgs/s     = N / (first request sent -> last 202 received), C clients back to back;
 *   latency    = p50 / p99 of one request (HTTP round trip: the Sent copy is durable before the answer);
 *   CPU/msg    = process.cpuUsage() (user+system, every thread of this process: instance AND the fetch clients) over
 *                the burst / N.
 * After the burst (not timed) every answer is checked: a Sent copy stored for alice (tag `sent`, its raw bytes in
 * the blob store: the message as composed, which is DKIM-signed only as it leaves by SMTP, ADR 0030) and, for TO=remote, its delivery job on 'smtp-out'; for TO=local, bob's copy. The
 * counts must equal N, or the run aborts.
 */
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { Session } from 'node:inspector/promises';
import { deliveryJobId, SMTP_OUT_QUEUE } from '@caliopen/instance/delivery/delivery.types.ts';
import { startTestInstance, type ApiResponse } from '../support/instance.ts';

const N = Number(process.env.N ?? 500);
const C = Number(process.env.C ?? 4);
const SIZE = Number(process.env.SIZE ?? 10_240);
const WARMUP = Number(process.env.WARMUP ?? 20);
const TO = process.env.TO ?? 'remote';
const PROFILE = process.env.PROFILE === '1';
const KEY = process.env.KEY === '1';
const PROFILE_OUT = resolve(process.env.PROFILE_OUT ?? 'compose.cpuprofile');
const REMOTE = 'remote.test';

class BenchAbort extends Error {}

const now = () => performance.now();
const fmt = (n: number, digits = 1) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** ~SIZE bytes of plain ASCII text in lines of about 70 characters. */
function bodyText(i: number): string {
  const words = ['compose', 'sent', 'copy', 'queue', 'privacy', 'index', 'message', 'relay', 'label', 'letter'];
  const lines = [`compose bench message ${i}`];
  let size = lines[0]!.length + 2;
  for (let l = 0; size < SIZE; l++) {
    let line = '';
    for (let j = l + i; line.length < 70; j += 3) line += `${words[j % words.length]} `;
    lines.push(line.trimEnd());
    size += line.length + 1;
  }
  return lines.join('\r\n');
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Top functions by self time and by inclusive time (each function counted once per sampled stack). */
function summarise(profile: CpuProfile, top = 25): void {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const root = resolve('.');
  const label = (n: ProfileNode) => {
    const f = n.callFrame;
    const url = f.url.replace(/^file:\/\//, '').replace(`${root}/`, '');
    return `${f.functionName || '(anonymous)'} ${url ? `${url}:${f.lineNumber + 1}` : ''}`.trim();
  };
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    const leaf = byId.get(id)!;
    self.set(label(leaf), (self.get(label(leaf)) ?? 0) + dt);
    const seen = new Set<string>();
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const key = label(byId.get(n)!);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + dt);
    }
  });
  const show = (title: string, m: Map<string, number>) => {
    console.log(`\n${title} (ms over the burst, % of ${fmt(total, 0)} ms sampled)`);
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top))
      console.log(`${fmt(v, 0).padStart(8)} ${fmt((100 * v) / total).padStart(5)}%  ${k}`);
  };
  show('top self time', self);
  const boring = /^\((root|program|idle|garbage collector)\)|^(processTicksAndRejections|runMicrotasks) /;
  show('top inclusive time', new Map([...inclusive].filter(([k]) => !boring.test(k))));
}

async function main() {
  console.log(
    `compose bench: N=${N} messages of ~${SIZE} B text, ${C} clients, to ${TO === 'local' ? 'a local account' : `an external address (SMTP route, ${REMOTE})`}, warm-up ${WARMUP}${KEY ? ', alice with a server-side OpenPGP key (signed, Autocrypt)' : ''}; ` +
      `node ${process.version}, ${cpus().length} CPUs, load ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  );
  if (!['remote', 'local'].includes(TO)) throw new BenchAbort(`TO must be remote or local, not ${TO}`);

  // A black hole for outbound SMTP: accepts connections, never says a word.
  const held = new Set<Socket>();
  const hole = createServer((s) => {
    held.add(s);
    s.on('error', () => undefined);
    s.on('close', () => held.delete(s));
  });
  hole.listen(0, '127.0.0.1');
  await once(hole, 'listening');
  const holePort = (hole.address() as { port: number }).port;

  const inst = await startTestInstance({
    domain: 'alpha.test',
    env: {
      CALIOPEN_OUTBOUND_MX_OVERRIDE: `${REMOTE}=127.0.0.1:${holePort}`,
      CALIOPEN_OUTBOUND_RETRY_BASE_DELAY_MS: String(3600_000),
    },
  });
  try {
    const { services } = inst.running;
    const alice = await inst.user('alice');
    const bob = TO === 'local' ? await inst.user('bob') : null;
    if (KEY) {
      const r = await inst.api('POST', '/api/v1/keys', {
        token: alice.token,
        body: { mode: 'server', password: alice.password },
      });
      if (r.status !== 201) throw new BenchAbort(`alice's key: HTTP ${r.status} ${r.text.slice(0, 300)}`);
    }
    const to = TO === 'local' ? 'bob@alpha.test' : `bob@${REMOTE}`;
    const texts = Array.from({ length: Math.max(N, WARMUP) }, (_, i) => bodyText(i));

    const submit = async (i: number, tag: string): Promise<string> => {
      const r: ApiResponse = await inst.api('POST', '/api/v1/messages', {
        token: alice.token,
        body: { to: [{ address: to }], subject: `compose bench ${tag}${i}`, text: texts[i % texts.length] },
      });
      if (r.status !== 202) throw new BenchAbort(`message ${tag}${i}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
      const expected = TO === 'local' ? { route: 'local', status: 'delivered' } : { route: 'smtp', status: 'queued' };
      const got = r.body.recipients?.[0];
      if (got?.route !== expected.route || got?.status !== expected.status)
        throw new BenchAbort(
          `message ${tag}${i}: recipient ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`,
        );
      if (KEY && r.body.signed !== true)
        throw new BenchAbort(`message ${tag}${i}: not signed with alice's key (KEY=1)`);
      return r.body.id as string;
    };

    for (let w = 0; w < WARMUP; w++) await submit(w, 'w');

    const session = PROFILE ? new Session() : null;
    if (session) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 500 });
      await session.post('Profiler.start');
    }

    const latencies: number[] = [];
    const ids: string[] = [];
    let next = 0;
    const cpu0 = process.cpuUsage();
    const t0 = now();
    await Promise.all(
      Array.from({ length: Math.min(C, N) }, async () => {
        while (next < N) {
          const i = next++;
          const t = now();
          ids.push(await submit(i, 'm'));
          latencies.push(now() - t);
        }
      }),
    );
    const elapsed = now() - t0;
    const cpu = process.cpuUsage(cpu0);

    if (session) {
      const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: CpuProfile };
      session.disconnect();
      writeFileSync(PROFILE_OUT, JSON.stringify(profile));
      console.log(`CPU profile of the burst: ${PROFILE_OUT}`);
      summarise(profile);
    }

    // Checks (not timed): a durable Sent copy per answer, and its delivery job (or bob's copy).
    let sentCopies = 0;
    let jobs = 0;
    for (const id of ids) {
      const m = await services.storage.messages.get(alice.id, id);
      if (m === null || m.direction !== 'outbound' || !m.tags.includes('sent') || m.rawRef === null)
        throw new BenchAbort(`no Sent copy stored for ${id}`);
      const raw = await services.blobs.get(m.rawRef);
      if (raw === null || !/^From: /im.test(raw.toString('latin1')))
        throw new BenchAbort(`the Sent copy of ${id} is not the composed message`);
      sentCopies++;
      if (TO === 'remote') {
        const job = await services.queue.getJob(SMTP_OUT_QUEUE, deliveryJobId(id, REMOTE, 1));
        if (job === null) throw new BenchAbort(`no delivery job queued for ${id}`);
        jobs++;
      }
    }
    // bob's copies (TO=local): every message of his mailbox came from this run (warm-up included).
    if (bob) jobs = (await services.storage.messages.countByAccount(bob.id)) - WARMUP;
    const counts = TO === 'remote' ? await services.queue.counts(SMTP_OUT_QUEUE) : null;
    if (sentCopies !== N || jobs !== N)
      throw new BenchAbort(
        `counts differ from N=${N}: ${sentCopies} Sent copies, ${jobs} ${TO === 'local' ? 'copies for bob' : 'jobs'}`,
      );

    latencies.sort((x, y) => x - y);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    console.log(
      `\nN=${N} C=${C} TO=${TO}${KEY ? ' KEY=1' : ''}: ${fmt((N * 1000) / elapsed)} msg/s (${fmt(elapsed / 1000, 2)} s first request -> last 202), ` +
        `latency p50 ${fmt(percentile(latencies, 50))} ms, p99 ${fmt(percentile(latencies, 99))} ms, ` +
        `CPU ${fmt(cpuMs / N, 2)} ms/msg (user ${fmt(cpu.user / 1000 / N, 2)} + system ${fmt(cpu.system / 1000 / N, 2)})`,
    );
    console.log(
      `checked: ${sentCopies} Sent copies stored (raw in the blob store)` +
        (counts
          ? `, ${jobs} delivery jobs on '${SMTP_OUT_QUEUE}' (queue now: ${counts.waiting} waiting, ${counts.active} active on the black hole, ${counts.delayed} delayed, ${counts.completed} completed, ${counts.dead} dead)`
          : `, ${jobs} copies filed for bob`),
    );
    console.log(
      `load after: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
  } finally {
    for (const s of held) s.destroy();
    hole.close();
    await inst.stop();
  }
}

try {
  await main();
} catch (err) {
  if (err instanceof BenchAbort) {
    console.error(`compose bench aborted: ${err.message}`);
    process.exitCode = 1;
  } else throw err;
}
