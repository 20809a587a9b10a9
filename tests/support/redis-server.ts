import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './net.ts';
import { realComponent } from './real-component.ts';
import { tempDir } from './tmp.ts';

export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * Whether redis-server is installed. Under CI a missing binary throws; elsewhere it warns loudly and returns a skip
 * reason for vitest. Call it at module level, before registering the tests that need Redis.
 */
export function redisServerComponent(): { skip: boolean; path: string } {
  return realComponent('redis-server', 'redis-server');
}

/**
 * Starts a throwaway redis-server on a free loopback port, in its own temp dir, with persistence off, and resolves
 * once it answers PING. Retries on another port if the one picked was taken meanwhile.
 */
export async function startRedisServer(binary = redisServerComponent().path): Promise<RedisServer> {
  if (!binary) throw new Error('redis-server is not installed: apt-get install -y redis-server');
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(binary, await freePort());
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

async function startOnce(binary: string, port: number): Promise<RedisServer> {
  const tmp = tempDir('caliopen-redis-');
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', tmp.dir];
  args.push('--save', '', '--appendonly', 'no', '--daemonize', 'no', '--logfile', '');
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  // A test run that crashes must not leave the server behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const stop = async () => {
    process.off('exit', killOnExit);
    await terminate(child);
    tmp.cleanup();
  };

  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`redis-server exited early on port ${port}:\n${output}`);
    }
    if ((await ping(port).catch(() => '')) === '+PONG') break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server did not answer PING on port ${port} within 10 s:\n${output}`);
    }
    await sleep(25);
  }
  return { url: `redis://127.0.0.1:${port}`, port, stop };
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** One raw RESP round trip, so the helper needs no Redis client library. */
function ping(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    socket.setTimeout(1_000, () => socket.destroy(new Error('PING timed out')));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) {
        socket.end();
        resolve(reply.trim());
      }
    });
    socket.on('error', reject);
  });
}
