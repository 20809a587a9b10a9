import type { Logger } from 'pino';
import type { InstanceConfig } from '../config/config.schema.ts';
import { buildHttpServer, type HttpServer } from '../http/server.ts';
import type { Worker } from '../queue/job-queue.port.ts';
import { createLogger } from './logger.ts';
import { buildServices, type InstanceServices, type ServiceOptions } from './instance.services.ts';

export interface RunningInstance {
  services: InstanceServices;
  http: HttpServer;
  /** Base URL the API listens on. */
  url: string;
  logger: Logger;
  stop(): Promise<void>;
}

const MAINTENANCE_QUEUE = 'maintenance';
const HOUR = 3600_000;

/**
 * Starts an instance: engines, HTTP API, background workers. `stop()` closes them in the reverse order, letting
 * running requests and jobs finish.
 */
export async function startInstance(config: InstanceConfig, options: ServiceOptions & { logger?: Logger } = {}): Promise<RunningInstance> {
  const logger = options.logger ?? createLogger(config.log.level);
  const services = await buildServices(config, options);
  const http = await buildHttpServer(services, logger);
  const workers: Worker[] = [];

  // Hourly housekeeping through the queue: one job per hour slot (the jobId makes restarts idempotent).
  const scheduleMaintenance = async () => {
    const slot = Math.floor(services.clock().getTime() / HOUR) + 1;
    await services.queue.enqueue(MAINTENANCE_QUEUE, 'purge-expired-sessions', { slot }, { jobId: `purge-sessions-${slot}`, delayMs: slot * HOUR - services.clock().getTime() });
  };
  workers.push(
    services.queue.process<{ slot: number }>(MAINTENANCE_QUEUE, async () => {
      const purged = await services.storage.sessions.purgeExpired(services.clock());
      logger.info({ purged }, 'expired sessions purged');
      await scheduleMaintenance();
    }),
  );
  await scheduleMaintenance();

  const address = await http.app.listen({ host: config.http.host, port: config.http.port });
  logger.info({ address, domain: config.domain, storage: services.storage.engine, queue: services.queue.engine, search: services.search.engine }, 'instance started');

  let stopping: Promise<void> | null = null;
  return {
    services,
    http,
    url: address,
    logger,
    stop() {
      stopping ??= (async () => {
        await http.app.close();
        await Promise.all(workers.map((w) => w.close()));
        await services.close();
        logger.info('instance stopped');
        logger.flush();
      })();
      return stopping;
    },
  };
}

export type { InstanceConfig };
