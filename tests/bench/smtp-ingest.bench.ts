/**
 * P1: SMTP ingest into a real instance process — N messages of SIZE bytes on CONNS connections, `250` only after the
 * spool commit — and, in the same run, the Postfix anchor (../shared/bench/postfix-ingest.sh) with the same N, SIZE
 * and CONNS, then the ratio.
 *
 *   node --import tsx tests/bench/smtp-ingest.bench.ts            # N=10000 SIZE=10240 CONNS=8, anchor when root
 *   N=2000 ANCHOR=0 node --import tsx tests/bench/smtp-ingest.bench.ts
 *
 * The client is Postfix's `smtp-source` (the anchor's own client: same traffic for both) when it is installed, else a
 * Node client sending the same shape of message (CLIENT=node forces it). Prints figures; numbers go in
 * docs/benchmarks.md. Never used as a test.
 *
 *   accepted  = N / (time from the first message until the last 250): durably stored, since the 250 follows the commit
 *   ingested  = N / (time until all N are in the mailbox: parsed, authenticated, filed in conversations)
 *   indexed   = N / (time until the search index has caught up as well)
 *
 * The spool depth (entries accepted, not yet filed) and the mailbox count are sampled every SAMPLE_MS (default 1000)
 * from the start of the burst until the index has caught up, and printed as a series.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AccountService } from '@caliopen/instance/accounts/account.service.ts';
import { PasswordHasher } from '@caliopen/platform/crypto/password.hasher.ts';
import { initInstance } from '@caliopen/instance/app/instance.init.ts';
import { systemClock } from '@caliopen/platform/clock/clock.port.ts';
import { openSqlite, type SqliteDb } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import { SqliteStorage } from '@caliopen/instance/storage/storage.sqlite.ts';
import { startInternetDns } from '../e2e/fixtures/internet-dns.ts';
import { freePort } from '../support/net.ts';
import { RawSmtpClient } from '../support/smtp-client.ts';
import { tempDir } from '../support/tmp.ts';

const N = Number(process.env.N ?? 10_000);
const SIZE = Number(process.env.SIZE ?? 10_240);
const CONNS = Number(process.env.CONNS ?? 8);
const ANCHOR = process.env.ANCHOR !== '0';
const root = fileURLToPath(new URL('../..', import.meta.url));
const ANCHOR_SCRIPT = join(root, '../shared/bench/postfix-ingest.sh');
const DOMAIN = 'bench.test';
const SENDER = 'bench@client.bench.test';
const SAMPLE_MS = Number(process.env.SAMPLE_MS ?? 1000);

const now = () => performance.now();
const rate = (n: number, ms: number) => `${Math.round((n * 1000) / ms).toLocaleString('en-US')} msg/s`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The machine's CPU time so far (/proc/stat, in ticks): busy, idle, waiting for I/O. */
function machineCpu(): { busy: number; idle: number; iowait: number } {
  const [, ...f] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f.map(Number) as number[];
  return { busy: user! + nice! + system! + irq! + softirq! + steal!, idle: idle!, iowait: iowait! };
}

/** CPU time (user + system) of a process and all its threads so far, in ms (/proc/PID/stat). */
function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/**
 * CPU time (user, system; ms) of each thread of a process so far, by thread id, with the thread's name. Node names
 * its threads: the main thread after the process, `node` for V8's helpers (GC, compiler), libuv's pool `libuv-worker`,
 * worker_threads by their `name` option when given (else `node`).
 */
function threadsCpuMs(pid: number): Map<string, { name: string; user: number; system: number }> {
  const out = new Map<string, { name: string; user: number; system: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      out.set(tid, { name, user: (Number(f[11]) * 1000) / 100, system: (Number(f[12]) * 1000) / 100 });
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

function smtpSource(): string | null {
  if (process.env.CLIENT === 'node') return null;
  const r = spawnSync('sh', ['-c', 'command -v smtp-source || ls /usr/sbin/smtp-source 2>/dev/null'], {
    encoding: 'utf8',
  });
  return r.stdout.trim() || null;
}

/** The Node client: CONNS persistent sessions sharing a counter, messages shaped like smtp-source's. */
async function nodeClient(port: number, total: number, tag: string): Promise<void> {
  const line = 'X'.repeat(78);
  let next = 0;
  const message = (n: number) => {
    const head = `From: <${SENDER}>\r\nTo: <bob@${DOMAIN}>\r\nDate: ${new Date().toUTCString()}\r\nMessage-Id: <${tag}.${n}@client.bench.test>\r\nSubject: P1 ingest\r\n\r\n`;
    let body = '';
    for (let i = 1; head.length + body.length < SIZE; i++) body += `${i}${line}\r\n`;
    return head + body;
  };
  await Promise.all(
    Array.from({ length: Math.min(CONNS, total) }, async () => {
      const c = await RawSmtpClient.connect(port);
      if ((await c.read())?.code !== 220) throw new Error('no greeting');
      await c.command('EHLO client.bench.test');
      while (next < total) {
        const n = next++;
        const reply = await c.send(SENDER, [`bob@${DOMAIN}`], message(n));
        if (reply?.code !== 250) throw new Error(`message ${n}: ${reply?.code} ${reply?.text}`);
      }
      await c.quit();
    }),
  );
}

function sourceClient(binary: string, port: number, total: number): Promise<void> {
  const child = spawn(
    binary,
    [
      '-4',
      '-M',
      'client.bench.test',
      '-f',
      SENDER,
      '-t',
      `bob@${DOMAIN}`,
      '-S',
      'P1 ingest',
      '-l',
      String(SIZE),
      '-m',
      String(total),
      '-s',
      String(CONNS),
      '-d',
      `127.0.0.1:${port}`,
    ],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  return once(child, 'exit').then(([code]) => {
    if (code !== 0) throw new Error(`smtp-source exited with ${code}`);
  });
}

async function waitUntil(probe: () => boolean, what: string, timeoutMs = 1800_000): Promise<number> {
  const until = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
  return now();
}

function runAnchor(): { accepted: number; delivered: number } | null {
  if (!ANCHOR) return null;
  if (process.getuid?.() !== 0) {
    console.log(
      'anchor: skipped (postfix-ingest.sh needs root; run this as root, or run the script with sudo beside it)',
    );
    return null;
  }
  if (!existsSync(ANCHOR_SCRIPT)) {
    console.log(`anchor: skipped (${ANCHOR_SCRIPT} not found)`);
    return null;
  }
  console.log(`\nanchor: ${ANCHOR_SCRIPT} (N=${N}, SIZE=${SIZE}, CONNS=${CONNS})`);
  const r = spawnSync('bash', [ANCHOR_SCRIPT], {
    env: { ...process.env, N: String(N), SIZE: String(SIZE), CONNS: String(CONNS) },
    encoding: 'utf8',
    timeout: 1800_000,
  });
  process.stdout.write(r.stderr);
  process.stdout.write(r.stdout);
  const m = /postfix: accepted (\d+) msg\/s, delivered (\d+) msg\/s/.exec(r.stdout);
  return m ? { accepted: Number(m[1]), delivered: Number(m[2]) } : null;
}

async function main() {
  const source = smtpSource();
  console.log(
    `smtp ingest bench: N=${N} messages of ${SIZE} B on ${CONNS} connections, client ${source ? 'smtp-source (Postfix)' : 'Node'}`,
  );
  const tmp = tempDir('caliopen-bench-smtp-');
  const dataDir = join(tmp.dir, 'instance');
  const dns = await startInternetDns({ 'client.bench.test': ['v=spf1 ip4:127.0.0.1 -all'] });
  let child: ChildProcess | null = null;
  let instanceDb: SqliteDb | null = null;
  let queueDb: SqliteDb | null = null;
  let spoolDb: SqliteDb | null = null;
  let sampler: NodeJS.Timeout | null = null;
  try {
    await initInstance({ domain: DOMAIN, dataDir, httpPort: '0' }, () => {});
    const storage = SqliteStorage.inDataDir(dataDir);
    await new AccountService(storage, new PasswordHasher(), systemClock, 1024 ** 4).create({
      username: 'bob',
      password: 'pw-bob-0123456789',
    });
    await storage.close();

    const port = await freePort();
    const httpPort = await freePort();
    // PROFILE_DIR=<dir>: a V8 CPU profile of the instance process, written when it stops (node --cpu-prof).
    const profile = process.env.PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PROFILE_DIR}`] : [];
    child = spawn(
      process.execPath,
      [...profile, join(root, 'cli/bin/caliopen.mjs'), 'instance', 'start', '--data-dir', dataDir],
      {
        cwd: root,
        env: {
          ...process.env,
          CALIOPEN_HTTP_PORT: String(httpPort),
          CALIOPEN_HTTPS_PORT: '0',
          CALIOPEN_SMTP_ENABLED: 'true',
          CALIOPEN_SMTP_PORT: String(port),
          CALIOPEN_SMTP_MAX_CONNECTIONS_PER_IP: '0',
          CALIOPEN_SMTP_MESSAGES_PER_MINUTE_PER_IP: '0',
          CALIOPEN_SMTP_DNS_SERVERS: dns.server,
          CALIOPEN_LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    for (let i = 0; ; i++) {
      try {
        const c = await RawSmtpClient.connect(port);
        const ok = (await c.read(2000))?.code === 220;
        c.destroy();
        if (ok) break;
      } catch {
        if (i > 1200) throw new Error('the instance did not start');
      }
      await sleep(100);
    }

    instanceDb = openSqlite(join(dataDir, 'instance.db'), { readonly: true });
    queueDb = openSqlite(join(dataDir, 'queue.db'), { readonly: true });
    spoolDb = openSqlite(join(dataDir, 'spool.db'), { readonly: true });
    const spooled = () => (spoolDb!.prepare('SELECT COUNT(*) AS n FROM spool').get() as { n: number }).n;
    const stored = () => (instanceDb!.prepare('SELECT COUNT(*) AS n FROM messages').get() as { n: number }).n;
    const indexBacklog = () =>
      (
        queueDb!
          .prepare("SELECT COUNT(*) AS n FROM jobs WHERE queue = 'index' AND state IN ('queued', 'active')")
          .get() as { n: number }
      ).n;

    // Warm-up (not counted): one message through the whole path.
    await nodeClient(port, 1, 'warmup');
    await waitUntil(() => stored() === 1 && indexBacklog() === 0, 'the warm-up message');

    const cpu0 = machineCpu();
    const proc0 = processCpuMs(child.pid!);
    const threads0 = threadsCpuMs(child.pid!);
    const t0 = now();
    const samples: { t: number; spool: number; stored: number; index: number }[] = [];
    const sample = () => samples.push({ t: now() - t0, spool: spooled(), stored: stored() - 1, index: indexBacklog() });
    sampler = setInterval(sample, SAMPLE_MS);
    if (source) await sourceClient(source, port, N);
    else await nodeClient(port, N, `run${process.pid}`);
    const tAccepted = now();
    const tIngested = await waitUntil(() => stored() >= N + 1, 'ingest');
    const tIndexed = await waitUntil(() => indexBacklog() === 0, 'indexing');
    const cpu1 = machineCpu();
    const procMs = processCpuMs(child.pid!) - proc0;
    const threads1 = threadsCpuMs(child.pid!);
    clearInterval(sampler);
    sampler = null;
    sample();

    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    const gauge = (what: string) =>
      Number(new RegExp(`caliopen_smtp_in_spool_commits\\{what="${what}"\\} (\\d+)`).exec(metrics)?.[1] ?? NaN);
    const commits = gauge('commits');
    const appended = gauge('messages');

    const acceptedMs = tAccepted - t0;
    const ingestedMs = tIngested - t0;
    console.log(
      `caliopen: accepted ${rate(N, acceptedMs)} (= durably stored: 250 after the spool commit) in ${(acceptedMs / 1000).toFixed(2)} s`,
    );
    console.log(
      `caliopen: spool commits ${commits} for ${appended} messages: ${(appended / commits).toFixed(1)} messages per fsync`,
    );
    console.log(
      `caliopen: ingested ${rate(N, ingestedMs)} (all ${N} in the mailbox after ${(ingestedMs / 1000).toFixed(2)} s)`,
    );
    console.log(
      `caliopen: indexed ${rate(N, tIndexed - t0)} (search index caught up after ${((tIndexed - t0) / 1000).toFixed(2)} s)`,
    );

    // Per thread, in µs per message (user + system), largest first: which thread the work is on.
    const perThread = [...threads1]
      .map(([tid, t]) => {
        const before = threads0.get(tid) ?? { user: 0, system: 0 };
        return { tid, name: t.name, user: t.user - before.user, system: t.system - before.system };
      })
      .filter((t) => t.user + t.system > 0)
      .sort((a, b) => b.user + b.system - (a.user + a.system));
    console.log('caliopen: CPU per message by thread (µs, user + system; threads ended before the end are not listed)');
    for (const t of perThread.slice(0, 12))
      console.log(
        `    ${t.tid.padStart(8)} ${t.name.padEnd(16)} ${String(Math.round(((t.user + t.system) * 1000) / N)).padStart(5)} = ${Math.round((t.user * 1000) / N)} + ${Math.round((t.system * 1000) / N)}`,
      );
    const busy = cpu1.busy - cpu0.busy;
    const all = busy + (cpu1.idle - cpu0.idle) + (cpu1.iowait - cpu0.iowait);
    console.log(
      `caliopen: instance process CPU ${(procMs / N).toFixed(2)} ms per message (all its threads); machine, burst to indexed: ${Math.round((100 * busy) / all)}% busy, ${Math.round((100 * (cpu1.iowait - cpu0.iowait)) / all)}% waiting for the disk, ${Math.round((100 * (cpu1.idle - cpu0.idle)) / all)}% idle`,
    );
    console.log(`caliopen: spool depth over time (sampled every ${SAMPLE_MS} ms, at most 40 rows shown)`);
    console.log('    t (s)   spool   filed   index backlog (jobs)');
    const step = Math.max(1, Math.ceil(samples.length / 40));
    for (const x of samples.filter((_, i) => i % step === 0 || i === samples.length - 1)) {
      console.log(
        `  ${(x.t / 1000).toFixed(1).padStart(7)} ${String(x.spool).padStart(7)} ${String(x.stored).padStart(7)} ${String(x.index).padStart(7)}`,
      );
    }
    console.log(
      `caliopen: spool depth peak ${Math.max(...samples.map((x) => x.spool))} entries, at the end of the burst ${samples.filter((x) => x.t <= tAccepted - t0).at(-1)?.spool ?? 0}`,
    );

    child.kill('SIGTERM');
    await once(child, 'exit');
    child = null;

    const anchor = runAnchor();
    if (anchor) {
      const ours = (N * 1000) / acceptedMs;
      const oursIngested = (N * 1000) / ingestedMs;
      console.log(
        `\nratio (P1 target >= 1.0): caliopen accepted+stored / postfix delivered = ${(ours / anchor.delivered).toFixed(2)}`,
      );
      console.log(`           caliopen accepted / postfix accepted = ${(ours / anchor.accepted).toFixed(2)}`);
      console.log(
        `           caliopen ingested into mailboxes / postfix delivered to Maildir = ${(oursIngested / anchor.delivered).toFixed(2)}`,
      );
      console.log(
        `           caliopen filed and indexed / postfix delivered to Maildir = ${((N * 1000) / (tIndexed - t0) / anchor.delivered).toFixed(2)}`,
      );
    }
  } finally {
    if (sampler) clearInterval(sampler);
    if (child) child.kill('SIGKILL');
    spoolDb?.close();
    instanceDb?.close();
    queueDb?.close();
    await dns.stop();
    tmp.cleanup();
  }
}

await main();
