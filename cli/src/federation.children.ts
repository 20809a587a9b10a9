import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The `caliopen` executable (what `npx caliopen` runs). */
export const CALIOPEN_BIN = fileURLToPath(new URL('../bin/caliopen.mjs', import.meta.url));

/**
 * A `caliopen <command>` running as a child process: what `caliopen federation` supervises, and what the end-to-end
 * tests start (tests/support/process.ts). Output is kept (the last 256 KiB) and, when asked, handed over line by line.
 */
export interface CaliopenChild {
  readonly name: string;
  readonly process: ChildProcess;
  /** Resolves the exit code when the child ends (null when a signal ended it). */
  readonly exited: Promise<number | null>;
  /** What the child printed so far (stdout and stderr, interleaved, the last 256 KiB). */
  output(): string;
  /** Sends `signal` (unless the child already ended) and resolves its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface SpawnCaliopenOptions {
  name?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * Supervised: the child gets its own process group (a Ctrl-C in the terminal reaches the supervisor only, which
   * stops each child once, in order) and an IPC channel, whose loss — the supervisor killed — stops the child too
   * (`untilSignal` listens for it), so no child outlives its supervisor.
   */
  supervised?: boolean;
  /** Called with each complete line of output (stdout and stderr). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Options for Node itself, before the script (e.g. `--cpu-prof`, which NODE_OPTIONS may not carry). */
  nodeArgs?: readonly string[];
}

const KEEP_OUTPUT = 256 * 1024;

export function spawnCaliopen(args: readonly string[], options: SpawnCaliopenOptions = {}): CaliopenChild {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), CALIOPEN_BIN, ...args], {
    cwd: options.cwd ?? process.cwd(),
    env: options.env ?? process.env,
    stdio: options.supervised ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
    detached: options.supervised === true,
  });
  let out = '';
  const pending = { stdout: '', stderr: '' };
  const take = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    out = (out + text).slice(-KEEP_OUTPUT);
    if (!options.onLine) return;
    const lines = (pending[stream] + text).split('\n');
    pending[stream] = lines.pop()!;
    for (const line of lines) options.onLine(line, stream);
  };
  child.stdout!.on('data', take('stdout'));
  child.stderr!.on('data', take('stderr'));
  const exited = new Promise<number | null>((resolve) => {
    child.on('error', (error) => {
      out += `\n${error.message}\n`;
      resolve(1);
    });
    child.on('exit', (code) => {
      for (const stream of ['stdout', 'stderr'] as const) {
        if (pending[stream] && options.onLine) options.onLine(pending[stream], stream);
        pending[stream] = '';
      }
      resolve(code);
    });
  });
  // The IPC channel is only there for the child to notice the supervisor's death: it must not keep us alive.
  if (options.supervised) child.channel?.unref();
  return {
    name: options.name ?? args.slice(0, 2).join(' '),
    process: child,
    exited,
    output: () => out,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/**
 * Polls `probe` until it answers true; fails at once, with the child's output, if the child ends first, and after
 * `timeoutMs` otherwise (the child is left running: the caller decides what to stop).
 */
export async function untilReady(
  child: CaliopenChild,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 100,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  let ended = false;
  void child.exited.then(() => (ended = true));
  for (;;) {
    if (ended || child.process.exitCode !== null) {
      throw new Error(
        `${child.name} exited with code ${child.process.exitCode ?? child.process.signalCode} before it was ready:\n${tail(child.output())}`,
      );
    }
    try {
      if (await probe()) return;
    } catch {
      // not yet
    }
    if (Date.now() > until)
      throw new Error(`${child.name} was not ready after ${Math.round(timeoutMs / 1000)} s:\n${tail(child.output())}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** true when a GET on `url` answers 2xx (false when it answers otherwise or cannot be reached). */
export async function answers(url: string, init: RequestInit = {}): Promise<boolean> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}
