/**
 * What the two federation benches share (federation.bench.ts: both instances in the bench's process;
 * federation-processes.bench.ts: each instance in its own process): the messages, the checks of the path each took,
 * and the table of figures.
 */
import { createHash } from 'node:crypto';

export type Via = 'federation' | 'smtp';

/** The knobs both benches read from the environment (their headers say what each does). */
export const KNOBS = {
  n: Number(process.env.FED_BENCH_MESSAGES ?? 200),
  size: Number(process.env.FED_BENCH_SIZE ?? 10_240),
  clients: Number(process.env.FED_BENCH_CLIENTS ?? 4),
  warmup: Number(process.env.FED_BENCH_WARMUP ?? 5),
  processWarmup: Number(process.env.FED_BENCH_PROCESS_WARMUP ?? 100),
  rounds: Number(process.env.FED_BENCH_ROUNDS ?? 1),
  serial: Number(process.env.FED_BENCH_SERIAL ?? 30),
  e2e: process.env.FED_BENCH_E2E === '1',
  phaseTimeoutMs: Number(process.env.FED_BENCH_TIMEOUT_MS ?? 30 * 60_000),
};

export class BenchAbort extends Error {}

export const now = () => performance.now();
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const fmt = (n: number, digits = 1) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/**
 * The machine's speed right now: 100,000 chained SHA-256 on this thread, in ms. The machines this runs on change
 * speed by half within minutes (a shared host): a phase's figures are only comparable with runs of similar speed.
 */
export function calibration(): number {
  const t = now();
  let h = Buffer.alloc(32);
  for (let i = 0; i < 100_000; i++) h = createHash('sha256').update(h).digest();
  return now() - t;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** ~`size` bytes of plain ASCII text in 76-character lines (7bit as composed: no transfer-encoding growth). */
export function bodyText(tag: string, size: number): string {
  const words = [
    'federation',
    'sealed',
    'envelope',
    'receipt',
    'instance',
    'privacy',
    'index',
    'relay',
    'message',
    'label',
  ];
  const lines = [`${tag} — the same text in both phases.`];
  let length = lines[0]!.length + 2;
  for (let i = 0; length < size; i++) {
    let line = '';
    for (let j = i; line.length < 70; j += 3) line += `${words[j % words.length]} `;
    line = line.trimEnd();
    lines.push(line);
    length += line.length + 2;
  }
  return lines.join('\r\n');
}

/** Subject of message `key` (phase-independent: the SAME messages go both ways). */
export const subjectOf = (key: number | string) => `fedbench ${key}`;
export const SUBJECT = /^fedbench (\S+)$/;

/** The facts of bob's copy the benches check (as stored, and as the API shows them). */
export interface ArrivalFacts {
  transport?: { via?: unknown; tls?: { version?: string } | null } | null;
  authentication?: {
    spf?: { result?: string } | null;
    dkim?: { result?: string; aligned?: boolean }[];
    dmarc?: { result?: string } | null;
  } | null;
  federation?: { sealed?: boolean; forwardSecret?: boolean; senderAuthenticated?: boolean } | null;
  openpgp?: { encrypted?: boolean } | null;
}

/** What bob's copy must show for `via`: the path, TLS, the federation's guarantees. Null when it does. */
export function pathProblem(via: Via, facts: ArrivalFacts, e2e: boolean): string | null {
  if (facts.transport?.via !== via) return `stored for bob with via=${String(facts.transport?.via)}, expected ${via}`;
  if (!facts.transport.tls?.version) return 'arrived at beta without TLS';
  if (via === 'federation') {
    const f = facts.federation;
    if (!f?.sealed || !f.forwardSecret || !f.senderAuthenticated)
      return `federation facts incomplete: ${JSON.stringify(f)}`;
  }
  if (e2e && facts.openpgp?.encrypted !== true) return 'not end-to-end encrypted (FED_BENCH_E2E=1)';
  return null;
}

/** For SMTP: SPF, aligned DKIM and DMARC all pass at beta. Null when they do. */
export function authenticationProblem(via: Via, facts: ArrivalFacts): string | null {
  if (via !== 'smtp') return null;
  const a = facts.authentication;
  if (a?.spf?.result !== 'pass' || !a.dkim?.some((d) => d.result === 'pass' && d.aligned) || a.dmarc?.result !== 'pass')
    return `SPF/DKIM/DMARC not all passing: ${JSON.stringify(a)}`;
  return null;
}

export function pathSummary(via: Via, facts: ArrivalFacts): string {
  const tls = facts.transport?.tls?.version ?? 'no TLS';
  if (via === 'federation') return `via=federation, ${tls}, sealed, forward secret, sender authenticated`;
  const a = facts.authentication!;
  return `via=smtp, STARTTLS ${tls}, SPF ${a.spf?.result}, DKIM ${a.dkim?.map((d) => d.result).join('/')}, DMARC ${a.dmarc?.result}`;
}

export interface PhaseResult {
  via: Via;
  n: number;
  elapsedMs: number;
  latencies: number[];
  submitMs: number[];
  /** Latencies of the messages sent one at a time, sorted. */
  serial: number[];
  /** One line of the bench's own notes for this phase (sizes, DNS queries, CPU...). */
  note?: string;
}

/** The table: per round, both routes (msg/s, latency percentiles under load and one at a time) and their ratios. */
export function printFigures(results: readonly PhaseResult[], o: { rounds: number; clients: number }): void {
  const rate = (p: PhaseResult) => (p.n * 1000) / p.elapsedMs;
  const ms = (x: number) => fmt(x, 0).padStart(6);
  const pcts = (l: readonly number[]) =>
    `${ms(percentile(l, 50))} ${ms(percentile(l, 90))} ${ms(percentile(l, 99))} ${ms(l[l.length - 1]!)}`;
  const ratio = (x: number, y: number) => fmt(x / y, 2).padStart(6);
  const first = results[0]!;
  console.log(
    `\nlatency = API request start -> stored in bob's mailbox (ms: p50 p90 p99 max); throughput = N / (first request -> last stored)`,
  );
  console.log(
    `${''.padEnd(22)}${'msg/s'.padStart(8)}   under load (N=${first.n}, ${o.clients} clients)   one at a time (${first.serial.length})      API answer p50`,
  );
  for (let r = 0; r < o.rounds; r++) {
    const fed = results.find((p, i) => p.via === 'federation' && Math.floor(i / 2) === r)!;
    const smtp = results.find((p, i) => p.via === 'smtp' && Math.floor(i / 2) === r)!;
    for (const p of [fed, smtp]) {
      console.log(
        `${`${p.via} (round ${r + 1})`.padEnd(22)}${fmt(rate(p)).padStart(8)}   ${pcts(p.latencies)}        ${pcts(p.serial)}   ${ms(percentile(p.submitMs, 50))}`,
      );
    }
    console.log(
      `${`federation/smtp`.padEnd(22)}${fmt(rate(fed) / rate(smtp), 2).padStart(8)}   ` +
        `${ratio(percentile(fed.latencies, 50), percentile(smtp.latencies, 50))} ${ratio(percentile(fed.latencies, 90), percentile(smtp.latencies, 90))} ${ratio(percentile(fed.latencies, 99), percentile(smtp.latencies, 99))} ${ratio(fed.latencies.at(-1)!, smtp.latencies.at(-1)!)}        ` +
        `${ratio(percentile(fed.serial, 50), percentile(smtp.serial, 50))} ${ratio(percentile(fed.serial, 90), percentile(smtp.serial, 90))} ${ratio(percentile(fed.serial, 99), percentile(smtp.serial, 99))} ${ratio(fed.serial.at(-1)!, smtp.serial.at(-1)!)}`,
    );
    for (const p of [fed, smtp]) if (p.note) console.log(`  ${p.via}: ${p.note}`);
    console.log('  (throughput ratio above 1 / latency ratio below 1: federation faster)');
  }
}
