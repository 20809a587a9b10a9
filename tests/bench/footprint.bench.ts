/**
 * P6 of docs/benchmarks.md: what an instance costs when it has many accounts and nothing to do.
 *
 *   npm run bench:footprint                          # ACCOUNTS = 10000, IDLE_SECONDS = 30
 *   (= node --import tsx tests/bench/footprint.bench.ts)
 *   ACCOUNTS=1000 IDLE_SECONDS=10 npm run bench:footprint
 *
 * A real instance (`caliopen instance init` then `caliopen instance start`, a process of its own on a free port, the
 * embedded defaults: SQLite, the SQLite queue, the SQLite search index) gets an administrator through the CLI, then
 * ACCOUNTS accounts through the real path (`POST /api/v1/admin/users`: argon2id hashing, storage, PI), CONCURRENCY at
 * a time. It is measured twice, with one account and with all of them, each time after a settle pause:
 * - RSS and its peak (VmRSS, VmHWM from /proc), which the target bounds (10,000 accounts idle < 300 MiB);
 * - idle CPU over IDLE_SECONDS (user + system ticks from /proc/PID/stat): the share of one core an instance with
 *   nothing to do still uses (timers, polling), which should be about 0.
 * Prints figures; numbers go in docs/benchmarks.md. Never used as a test.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CALIOPEN_BIN, answers, spawnCaliopen, untilReady } from '@caliopen/cli/federation.children.ts';
import { freePort } from '../support/net.ts';
import { tempDir } from '../support/tmp.ts';

const ACCOUNTS = Number(process.env.ACCOUNTS ?? 10_000);
const IDLE_SECONDS = Number(process.env.IDLE_SECONDS ?? 30);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4);
const SETTLE_SECONDS = Number(process.env.SETTLE_SECONDS ?? 10);
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

function memory(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
}

/** CPU seconds (user + system) the process has used so far. */
function cpuSeconds(pid: number): number {
  // Fields after the command name (which is in parentheses and may hold spaces): utime is the 12th, stime the 13th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

async function idleFigures(pid: number): Promise<{ rssMiB: number; peakMiB: number; idleCpuPercent: number }> {
  await sleep(SETTLE_SECONDS * 1000);
  const before = cpuSeconds(pid);
  await sleep(IDLE_SECONDS * 1000);
  const used = cpuSeconds(pid) - before;
  return { ...memory(pid), idleCpuPercent: (100 * used) / IDLE_SECONDS };
}

async function main(): Promise<void> {
  const { dir, cleanup } = tempDir('caliopen-footprint-');
  const dataDir = join(dir, 'instance');
  const port = await freePort();
  const cli = (args: string[], input?: string) => {
    const r = spawnSync(process.execPath, [CALIOPEN_BIN, ...args], { encoding: 'utf8', input });
    if (r.status !== 0) throw new Error(`caliopen ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
    return r.stdout;
  };
  cli(['instance', 'init', '--domain', 'footprint.test', '--data-dir', dataDir, '--http-port', String(port)]);
  const configPath = join(dataDir, 'caliopen.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  writeFileSync(configPath, JSON.stringify({ ...config, log: { level: 'warn' } }, null, 2));
  const adminPassword = 'footprint admin password 1';
  cli(['admin', 'user', 'add', 'boss', '--admin', '--password-stdin', '--data-dir', dataDir], adminPassword);

  const base = `http://127.0.0.1:${port}`;
  const child = spawnCaliopen(['instance', 'start', '--data-dir', dataDir], { name: 'footprint.test' });
  try {
    await untilReady(child, () => answers(`${base}/healthz`), 120_000);
    const pid = child.process.pid!;
    const login = await fetch(`${base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'boss', password: adminPassword }),
    });
    if (!login.ok) throw new Error(`login: ${login.status} ${await login.text()}`);
    const { token } = (await login.json()) as { token: string };

    console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model}), load ${loadavg().map((l) => l.toFixed(1))}`);
    const one = await idleFigures(pid);
    console.log(
      `1 account, idle:        RSS ${one.rssMiB.toFixed(0)} MiB (peak ${one.peakMiB.toFixed(0)}), idle CPU ${one.idleCpuPercent.toFixed(2)} % of a core`,
    );

    const started = Date.now();
    let next = 0;
    const create = async () => {
      for (let i = next++; i < ACCOUNTS; i = next++) {
        const r = await fetch(`${base}/api/v1/admin/users`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ username: `user${String(i).padStart(5, '0')}`, password: `password of user ${i}!` }),
        });
        if (r.status !== 201) throw new Error(`account ${i}: ${r.status} ${await r.text()}`);
        if ((i + 1) % 1000 === 0) console.log(`  ${i + 1} accounts (${((Date.now() - started) / 1000).toFixed(0)} s)`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, create));
    const seconds = (Date.now() - started) / 1000;
    console.log(`created ${ACCOUNTS} accounts in ${seconds.toFixed(0)} s (${(ACCOUNTS / seconds).toFixed(1)}/s)`);

    const many = await idleFigures(pid);
    console.log(
      `${ACCOUNTS} accounts, idle: RSS ${many.rssMiB.toFixed(0)} MiB (peak ${many.peakMiB.toFixed(0)}), idle CPU ${many.idleCpuPercent.toFixed(2)} % of a core`,
    );
  } finally {
    await child.stop();
    await cleanup();
  }
}

await main();
