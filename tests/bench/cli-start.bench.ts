/**
 * How long `caliopen` takes to answer `--help` (a whole process: start, command tree, help, exit), the figure of
 * docs/adr/0011-cli-package-and-fast-start.md.
 *
 *   npm run bench:cli                      # RUNS = 20 per command and mode
 *   (= node --import tsx tests/bench/cli-start.bench.ts)
 *   RUNS=50 npm run bench:cli
 *   CLI_BIN=/path/to/an/older/caliopen.mjs npm run bench:cli   # another bin (e.g. a checkout from before the change)
 *
 * Each command runs RUNS times in each mode, one after the other after a warm-up run (tsx's transform cache and the
 * page cache warm), and prints the median and p95 in ms:
 * - `bundle`: the bin as installed (the command tree from cli/dist/caliopen.mjs, made at npm ci);
 * - `sources`: the same bin with CALIOPEN_CLI_FROM_SOURCES=1 (the tree from cli/src through tsx, the fallback);
 * - `node -e 0`: a bare Node start, the floor.
 * Wall-clock median and p95, and the median CPU time (user + system, from /usr/bin/time when there is one), which
 * shows the work itself when other processes share the cores.
 * With CLI_BIN, that bin alone (mode `given`). Prints figures; numbers go in docs/benchmarks.md. Never used as a test.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = fileURLToPath(new URL('../../cli/bin/caliopen.mjs', import.meta.url));
const RUNS = Number(process.env.RUNS ?? 20);

const COMMANDS: string[][] = [
  ['--help'],
  ['instance', '--help'],
  ['admin', 'user', 'add', '--help'],
  ['registry', '--help'],
  ['registry', 'keys', 'rotate', '--help'],
];

/** GNU time, when the machine has it: the CPU time (user + system) of each run, which load on the machine inflates less. */
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

function timeOnce(args: string[], env: NodeJS.ProcessEnv): { wall: number; cpu: number | null } {
  const start = process.hrtime.bigint();
  const r = TIME
    ? spawnSync(TIME, ['-f', 'cpu %U %S', process.execPath, ...args], { cwd: ROOT, env, encoding: 'utf8' })
    : spawnSync(process.execPath, args, { cwd: ROOT, env, encoding: 'utf8' });
  const wall = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  const cpu = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr);
  return { wall, cpu: cpu ? (Number(cpu[1]) + Number(cpu[2])) * 1000 : null };
}

function figures(samples: number[]): { median: number; p95: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return { median: at(0.5), p95: at(0.95) };
}

function measure(label: string, args: string[], env: NodeJS.ProcessEnv): void {
  timeOnce(args, env);
  const samples = Array.from({ length: RUNS }, () => timeOnce(args, env));
  const { median, p95 } = figures(samples.map((s) => s.wall));
  const cpus = samples.flatMap((s) => (s.cpu === null ? [] : [s.cpu]));
  const cpu = cpus.length > 0 ? `   cpu median ${figures(cpus).median.toFixed(0).padStart(5)} ms` : '';
  console.log(
    `${label.padEnd(50)} median ${median.toFixed(0).padStart(5)} ms   p95 ${p95.toFixed(0).padStart(5)} ms${cpu}`,
  );
}

/** Whether the bin will run the bundle (the same test as cli/bin/caliopen.mjs): otherwise `bundle` measures tsx. */
function bundleIsCurrent(): boolean {
  try {
    const made = statSync(new URL('../../cli/dist/caliopen.mjs', import.meta.url)).mtimeMs;
    const inputs = JSON.parse(
      readFileSync(new URL('../../cli/dist/caliopen.inputs.json', import.meta.url), 'utf8'),
    ) as string[];
    return inputs.every((file) => statSync(new URL(`../../cli/${file}`, import.meta.url)).mtimeMs <= made);
  } catch {
    return false;
  }
}

if (!process.env.CLI_BIN && !bundleIsCurrent()) {
  console.error(
    'cli/dist/caliopen.mjs is missing or older than its sources: run `npm run build -w @caliopen/cli` first.',
  );
  process.exit(2);
}
const env = { ...process.env };
delete env.CALIOPEN_CLI_FROM_SOURCES;
console.log(
  `caliopen start-up, ${RUNS} runs each; node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
measure('node -e 0', ['-e', '0'], env);
const modes: [string, string, NodeJS.ProcessEnv][] = process.env.CLI_BIN
  ? [['given', process.env.CLI_BIN, env]]
  : [
      ['bundle', BIN, env],
      ['sources', BIN, { ...env, CALIOPEN_CLI_FROM_SOURCES: '1' }],
    ];
for (const command of COMMANDS) {
  for (const [mode, bin, modeEnv] of modes)
    measure(`caliopen ${command.join(' ')} [${mode}]`, [bin, ...command], modeEnv);
}
