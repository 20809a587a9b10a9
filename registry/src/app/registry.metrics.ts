import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The registry's Prometheus registry: process metrics, HTTP durations, labels and feed serials. */
export function createRegistryMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'caliopen_registry_' });
  const httpDuration = new Histogram({
    name: 'caliopen_registry_http_request_duration_seconds',
    help: 'HTTP request duration by route pattern, method and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  const maintenance = new Counter({
    name: 'caliopen_registry_maintenance_total',
    help: 'What the maintenance ticks did, by outcome (checked, renewed, lapsed, blocked, failed).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const members = new Gauge({
    name: 'caliopen_registry_members',
    help: 'Instances in the feed, by status (refreshed at each tick).',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  return { registry, httpDuration, maintenance, members };
}

export type RegistryMetrics = ReturnType<typeof createRegistryMetrics>;
