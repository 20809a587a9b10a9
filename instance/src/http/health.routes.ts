import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { Metrics } from '../metrics/metrics.ts';
import type { JobQueue } from '@caliopen/platform/queue/job-queue.port.ts';
import type { SearchIndex } from '../search/search.port.ts';
import type { Storage } from '../database/storage.port.ts';

/** What the health routes read: the engines (readiness, their names) and the metrics registry. */
export interface HealthDeps {
  domain: string;
  storage: Pick<Storage, 'ping' | 'engine'>;
  queue: Pick<JobQueue, 'engine'>;
  search: Pick<SearchIndex, 'engine'>;
  metrics: Metrics;
}

/** Liveness/readiness and Prometheus metrics. Neither reveals anything about accounts or messages. */
export const healthRoutes: FastifyPluginAsync<{ services: HealthDeps }> = async (app, { services }) => {
  app.get(
    '/healthz',
    {
      config: { access: 'public' },
      schema: {
        tags: ['operations'],
        summary: 'Ready when the storage answers.',
        response: {
          200: Type.Object({
            status: Type.Literal('ok'),
            domain: Type.String(),
            engines: Type.Record(Type.String(), Type.String()),
          }),
          503: Type.Object({ status: Type.Literal('unavailable'), failing: Type.Array(Type.String()) }),
        },
      },
    },
    async (_request, reply) => {
      const storageOk = await services.storage.ping().catch(() => false);
      if (!storageOk) return reply.code(503).send({ status: 'unavailable' as const, failing: ['storage'] });
      return {
        status: 'ok' as const,
        domain: services.domain,
        engines: { storage: services.storage.engine, queue: services.queue.engine, search: services.search.engine },
      };
    },
  );

  app.get(
    '/metrics',
    {
      config: { access: 'public' },
      schema: { tags: ['operations'], summary: 'Prometheus metrics (text format).', hide: false },
    },
    async (_request, reply) => {
      reply.type(services.metrics.registry.contentType);
      return services.metrics.registry.metrics();
    },
  );
};
