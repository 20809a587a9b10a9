import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface SpawnedServer {
  child: ChildProcess;
  /** The last characters the process wrote (stdout and stderr). */
  output(): string;
  /** SIGTERM (SIGKILL after 5 s), then the cleanup. */
  stop(): Promise<void>;
}

/**
 * Spawns a throwaway server (a real component: redis-server, dovecot...) and resolves once `ready` says so, polling
 * every `pollMs`. If it exits first, or is not ready within `timeoutMs`, it is stopped and the start fails with
 * `diagnostics()` (its output unless said) in the error. A test run that crashes does not leave it behind.
 */
export async function startSpawnedServer(o: {
  binary: string;
  args: string[];
  /** The environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** How much of its output is kept. */
  keepChars: number;
  ready: () => Promise<boolean>;
  timeoutMs: number;
  pollMs: number;
  /** The error's words when it exits early, and when it is not ready in time (the diagnostics follow). */
  exitedEarly: string;
  notReady: string;
  /** Done after it stopped (e.g. removing its temp dir). */
  cleanup: () => void;
  diagnostics?: (output: string) => string;
}): Promise<SpawnedServer> {
  const child = spawn(o.binary, o.args, { stdio: ['ignore', 'pipe', 'pipe'], ...(o.env ? { env: o.env } : {}) });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-o.keepChars);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const stop = async () => {
    process.off('exit', killOnExit);
    await terminate(child);
    o.cleanup();
  };
  const fail = async (words: string): Promise<never> => {
    const why = o.diagnostics ? o.diagnostics(output) : output;
    await stop();
    throw new Error(`${words}:\n${why}`);
  };

  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) await fail(o.exitedEarly);
    if (await o.ready()) break;
    if (Date.now() > deadline) await fail(o.notReady);
    await sleep(o.pollMs);
  }
  return { child, output: () => output, stop };
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/**
 * The first line a loopback server answers (after `send`, when given), trimmed; `bye` is written on leaving. So the
 * helpers need no client library of the protocol. Rejects after 1 s without a line.
 */
export function firstLine(port: number, o: { send?: string; bye?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    socket.setTimeout(1_000, () => socket.destroy(new Error(`no line from port ${port} within 1 s`)));
    if (o.send !== undefined) socket.on('connect', () => socket.write(o.send!));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) {
        if (o.bye !== undefined) socket.end(o.bye);
        else socket.end();
        resolve(reply.trim());
      }
    });
    socket.on('error', reject);
  });
}
