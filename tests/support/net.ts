import { createServer } from 'node:net';

/** A free TCP port on 127.0.0.1 (asks the kernel, then releases it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') return reject(new Error('no port'));
      srv.close(() => resolve(addr.port));
    });
  });
}

/**
 * How much longer than its nominal bound a wait may last. The bounds written in tests are what an idle machine needs
 * with a wide margin; at load 17 on 2 cores work runs several times slower, and a bound only limits how long a
 * failing test takes to say so. `TEST_WAIT_SCALE` overrides it (e.g. 1 to find slow paths locally).
 */
const WAIT_SCALE = Number(process.env.TEST_WAIT_SCALE) > 0 ? Number(process.env.TEST_WAIT_SCALE) : 4;

/** Polls `probe` until it resolves true, or fails once `timeoutMs` × the wait scale has passed. */
export async function waitFor(probe: () => Promise<boolean>, timeoutMs = 15_000, everyMs = 50): Promise<void> {
  const until = Date.now() + timeoutMs * WAIT_SCALE;
  for (;;) {
    try {
      if (await probe()) return;
    } catch {
      // not yet
    }
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs * WAIT_SCALE} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
