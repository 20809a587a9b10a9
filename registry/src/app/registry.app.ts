import { createRegistryLogger } from './registry.logger.ts';
import type { Worker } from '@caliopen/platform/queue/job-queue.port.ts';
import type { Logger } from 'pino';
import type { RegistryConfig } from '../config/registry-config.ts';
import { buildRegistryServer, type RegistryHttpServer } from './registry.http.ts';
import { buildRegistryServices, type RegistryServiceOptions, type RegistryServices } from './registry.services.ts';
import { installUint8ArrayBase64 } from '@caliopen/platform/runtime/uint8array-base64.polyfill.ts';

export interface RunningRegistry {
  services: RegistryServices;
  http: RegistryHttpServer;
  url: string;
  logger: Logger;
  stop(): Promise<void>;
}

export const MAINTENANCE_QUEUE = 'registry-maintenance';

/**
 * Starts the registry: engines, HTTP API, and the maintenance tick through the queue (re-checks, renewals, lapses).
 * One job per tick slot (its jobId makes restarts and several processes idempotent); each run schedules the next.
 */
export async function startRegistry(
  config: RegistryConfig,
  options: RegistryServiceOptions & { logger?: Logger; maintenance?: boolean } = {},
): Promise<RunningRegistry> {
  // Native base64 for jose's JWS (labels, the feed, the transparency log) where Node lacks it.
  installUint8ArrayBase64();
  const logger = options.logger ?? createRegistryLogger(config.log.level);
  const services = await buildRegistryServices(config, { ...options, logger });
  const workers: Worker[] = [];
  try {
    const key = await services.keys.signingKey(services.clock());
    logger.info({ kid: key.kid }, 'registry signing key');
    await services.feed.current(services.clock());
  } catch (error) {
    await services.close();
    throw error;
  }
  const http = await buildRegistryServer(services, logger);

  if (options.maintenance !== false) {
    const everyMs = config.tickSeconds * 1000;
    const schedule = async () => {
      const now = Date.now();
      const slot = Math.floor(now / everyMs) + 1;
      await services.queue.enqueue(
        MAINTENANCE_QUEUE,
        'tick',
        { slot },
        { jobId: `tick-${slot}`, delayMs: slot * everyMs - now, attempts: 1 },
      );
    };
    workers.push(
      services.queue.process<{ slot: number }>(MAINTENANCE_QUEUE, async () => {
        try {
          const report = await services.renewal.tick();
          for (const outcome of ['checked', 'renewed', 'lapsed', 'blocked', 'failed'] as const) {
            if (report[outcome].length > 0) services.metrics.maintenance.inc({ outcome }, report[outcome].length);
          }
          const members = await services.storage.members.list();
          for (const status of ['labelled', 'suspended', 'revoked'] as const)
            services.metrics.members.set({ status }, members.filter((m) => m.status === status).length);
        } finally {
          await schedule();
        }
      }),
    );
    await schedule();
  }

  const url = await http.app.listen({ host: config.http.host, port: config.http.port });
  logger.info(
    { url, origin: config.origin, storage: services.storage.engine, queue: services.queue.engine },
    'registry started',
  );

  let stopping: Promise<void> | null = null;
  return {
    services,
    http,
    url,
    logger,
    stop() {
      stopping ??= (async () => {
        await http.app.close();
        await Promise.all(workers.map((w) => w.close()));
        await services.close();
        logger.info('registry stopped');
        logger.flush();
      })();
      return stopping;
    },
  };
}
