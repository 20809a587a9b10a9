import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnCaliopen, untilReady } from '@caliopen/cli/federation.children.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CALIOPEN_BIN = join(ROOT, 'cli/bin/caliopen.mjs');

/** Runs `caliopen <args>` to completion. */
export function caliopen(args: string[], options: { env?: Record<string, string>; input?: string } = {}) {
  const r = spawnSync(process.execPath, [CALIOPEN_BIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...options.env },
    ...(options.input !== undefined ? { input: options.input } : {}),
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface RunningProcess {
  child: ChildProcess;
  output(): string;
  /** Sends the signal and resolves the exit code (null when killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts a long-running `caliopen <args>` and waits until `ready` answers true (the spawning is `caliopen federation`'s). */
export async function startCaliopen(
  args: string[],
  env: Record<string, string>,
  ready: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<RunningProcess> {
  const started = spawnCaliopen(args, { cwd: ROOT, env: { ...process.env, ...env } });
  try {
    await untilReady(started, ready, timeoutMs, 50);
  } catch (e) {
    started.process.kill('SIGKILL');
    throw new Error(`caliopen ${args.join(' ')} did not become ready: ${(e as Error).message}`);
  }
  return { child: started.process, output: started.output, stop: started.stop };
}

/** true when a GET on the URL answers 2xx. */
export async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url)).ok;
  } catch {
    return false;
  }
}

/**
 * Runs `caliopen <args>` to completion without blocking this process's event loop (use it when the test itself
 * serves something the command needs: a DNS server, an SMTP sink...).
 */
export function caliopenAsync(
  args: string[],
  options: { env?: Record<string, string>; input?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CALIOPEN_BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin!.end(options.input ?? '');
  });
}
