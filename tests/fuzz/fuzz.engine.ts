/**
 * The fuzzing engine (R3): runs a target's structure-aware generator through its oracle for a number of iterations,
 * keeps going after a finding (one example kept per distinct failure), and can shrink a finding to a small input.
 *
 * Coverage-guided fuzzing with Jazzer.js was tried first: its native part (@jazzer.js/fuzzer 4.0.0) needs glibc 2.38
 * and this Debian has 2.36, and older releases build it from source with a toolchain downloaded at install time, which
 * this machine cannot fetch (docs/fuzzing.md). fast-check gives the rest: reproducible inputs from a seed, mutation of
 * seed corpora, shrinking.
 *
 * The oracle never looks at a clock: a hang is an asynchronous parse that has not settled after a bounded number of
 * event-loop turns (`settles`), and the time a run may take is bounded by its iteration count.
 */
import fc from 'fast-check';

export interface FuzzTarget<T = unknown> {
  /** Short name, used on the command line and for the regression corpus folder. */
  readonly name: string;
  /** What it exercises, one line. */
  readonly covers: string;
  readonly arbitrary: fc.Arbitrary<T>;
  /** Runs the code under test on one input and checks the oracle: throws (any error) when it misbehaves. */
  check(input: T): void | Promise<void>;
  /** The input as bytes, for the regression corpus (tests/fuzz/regressions/<name>/). */
  save(input: T): Buffer;
  load(bytes: Buffer): T;
}

export interface Finding {
  /** What failed, with numbers blanked: findings with the same signature are one bug. */
  signature: string;
  message: string;
  /** How many inputs failed this way. */
  count: number;
  /** The first input that failed this way. */
  input: Buffer;
}

export interface FuzzReport {
  target: string;
  iterations: number;
  seconds: number;
  perSecond: number;
  findings: Finding[];
}

/** A parse that did not settle within its turn budget. */
export class FuzzHang extends Error {
  override readonly name = 'FuzzHang';
}

/**
 * Resolves as `promise` does, or rejects with FuzzHang if it has not settled after `turns` event-loop turns. Counting
 * turns, not milliseconds, keeps the verdict the same on a loaded machine.
 */
export async function settles<T>(promise: Promise<T>, turns: number): Promise<T> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  for (let i = 0; i < turns && !settled; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  if (!settled) throw new FuzzHang(`did not settle within ${turns} event-loop turns`);
  return promise;
}

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${error.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${error.message}`;
  }
  return `thrown ${typeof error}: ${String(error)}`;
}

/** The first line of the message, digits and quoted values blanked, with the innermost frame of the project's code. */
export function signatureOf(error: unknown): string {
  const text = describeError(error).split('\n')[0]!.slice(0, 160);
  const blanked = text.replace(/"[^"]*"/g, '"…"').replace(/\d+/g, '#');
  const stack = error instanceof Error ? (error.stack ?? '') : '';
  const frame = stack
    .split('\n')
    .find((l) => /\/(instance|federation-protocol|platform)\/src\//.test(l) && !l.includes('node_modules'));
  const where = frame?.match(/\/((?:instance|federation-protocol|platform)\/src\/[^:)]+)(?::(\d+))?/);
  return where ? `${blanked} @ ${where[1]}:${where[2] ?? '?'}` : blanked;
}

export interface FuzzOptions {
  iterations: number;
  seed?: number;
  /** Called every `every` iterations (progress lines). */
  progress?: { every: number; report: (done: number, seconds: number) => void };
}

/** Runs a target; never throws for a finding (they are returned), only for a broken harness. */
export async function fuzz<T>(target: FuzzTarget<T>, options: FuzzOptions): Promise<FuzzReport> {
  const findings = new Map<string, Finding>();
  let done = 0;
  const started = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
  const record = (input: T, error: unknown) => {
    const signature = signatureOf(error);
    const known = findings.get(signature);
    if (known) known.count++;
    else findings.set(signature, { signature, message: describeError(error), count: 1, input: target.save(input) });
  };
  await fc.assert(
    fc.asyncProperty(target.arbitrary, async (input) => {
      try {
        await target.check(input);
      } catch (error) {
        record(input, error);
      }
      done++;
      if (options.progress && done % options.progress.every === 0) options.progress.report(done, seconds());
    }),
    { numRuns: options.iterations, seed: options.seed ?? 1, endOnFailure: true },
  );
  const elapsed = seconds();
  return {
    target: target.name,
    iterations: done,
    seconds: elapsed,
    perSecond: done / Math.max(elapsed, 1e-9),
    findings: [...findings.values()],
  };
}

/**
 * Replays the run that produced a finding (same seed) with the oracle failing on that signature only, and lets
 * fast-check shrink the input: what becomes the regression test's input.
 */
export async function shrink<T>(
  target: FuzzTarget<T>,
  finding: Finding,
  options: { iterations: number; seed?: number },
): Promise<Buffer> {
  const result = await fc.check(
    fc.asyncProperty(target.arbitrary, async (input) => {
      try {
        await target.check(input);
      } catch (error) {
        if (signatureOf(error) === finding.signature) throw error;
      }
    }),
    { numRuns: options.iterations, seed: options.seed ?? 1, endOnFailure: false },
  );
  return result.failed && result.counterexample ? target.save(result.counterexample[0]) : finding.input;
}
