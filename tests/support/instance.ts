import { startInstance, type RunningInstance } from '@caliopen/instance/app/instance.app.ts';
import { createLogger } from '@caliopen/instance/app/logger.ts';
import { loadConfig } from '@caliopen/instance/config/config.loader.ts';
import { initInstance } from '@caliopen/instance/app/instance.init.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import type { ServiceOptions } from '@caliopen/instance/app/instance.services.ts';
import pino from 'pino';
import { type Api, type ApiResponse, jsonApi } from './api-client.ts';
import { tempDir } from './tmp.ts';

export interface TestInstance {
  running: RunningInstance;
  url: string;
  dataDir: string;
  /** fetch against the instance with JSON in and out; `token` adds the bearer header. */
  api: Api;
  /** Creates an account directly through the service layer and logs it in over HTTP. */
  user(
    username: string,
    role?: 'user' | 'admin',
  ): Promise<{ id: string; token: string; password: string; deviceId: string }>;
  stop(): Promise<void>;
}

export type { ApiResponse };

/** Starts a real instance (embedded engines, fresh data dir, free port) inside this process. */
export async function startTestInstance(
  options: {
    clock?: Clock;
    domain?: string;
    env?: Record<string, string>;
    logTo?: NodeJS.WritableStream;
    /** Service stand-ins (e.g. the accounts' keys) and settings no environment variable sets (e.g. key lookups). */
    services?: Pick<ServiceOptions, 'accountKeys' | 'keyDiscovery'>;
  } = {},
): Promise<TestInstance> {
  const { dir, cleanup } = tempDir('caliopen-instance-');
  await initInstance({ domain: options.domain ?? 'alpha.test', dataDir: dir, httpPort: '0' }, () => {});
  // Many tests log in from 127.0.0.1 in quick succession: a high login limit unless the test sets its own.
  const config = loadConfig({
    dataDir: dir,
    env: { CALIOPEN_LOGIN_RATE_LIMIT: '10000', CALIOPEN_HTTPS_PORT: '0', ...options.env },
    overrides: { log: { level: 'silent' } },
  });
  const logger = options.logTo ? createLogger('trace', options.logTo) : pino({ level: 'silent' });
  const running = await startInstance(config, {
    logger,
    // Secrets the services read from the environment (never the config file), e.g. CALIOPEN_RSPAMD_PASSWORD.
    env: { ...process.env, ...options.env },
    ...(options.clock ? { clock: options.clock } : {}),
    ...options.services,
  });
  const url = running.url;

  const api = jsonApi(url);

  return {
    running,
    url,
    dataDir: dir,
    api,
    async user(username, role = 'user') {
      const password = `pw-${username}-0123456789`;
      const account = await running.services.accounts.create({ username, password, role });
      const r = await api('POST', '/api/v1/auth/login', {
        body: { username, password },
        headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0' },
      });
      if (r.status !== 200) throw new Error(`login of ${username} failed: ${r.text}`);
      return { id: account.id, token: r.body.token as string, password, deviceId: r.body.device.id as string };
    },
    async stop() {
      await running.stop();
      cleanup();
    },
  };
}

/** Whether a queue of the running instance has nothing waiting, running or delayed. */
export async function queueIdle(running: RunningInstance, queue: string): Promise<boolean> {
  const c = await running.services.queue.counts(queue);
  return c.waiting + c.active + c.delayed === 0;
}
