import { freePort } from './net.ts';
import { realComponent } from './real-component.ts';
import { firstLine, startSpawnedServer } from './spawned-server.ts';
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
  const server = await startSpawnedServer({
    binary,
    args,
    keepChars: 4000,
    ready: async () => (await firstLine(port, { send: 'PING\r\n' }).catch(() => '')) === '+PONG',
    timeoutMs: 10_000,
    pollMs: 25,
    exitedEarly: `redis-server exited early on port ${port}`,
    notReady: `redis-server did not answer PING on port ${port} within 10 s`,
    cleanup: tmp.cleanup,
  });
  return { url: `redis://127.0.0.1:${port}`, port, stop: server.stop };
}
