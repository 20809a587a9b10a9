import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The instance's Prometheus registry: process metrics plus what the HTTP layer and the services record. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'caliopen_' });
  const httpDuration = new Histogram({
    name: 'caliopen_http_request_duration_seconds',
    help: 'HTTP request duration by route pattern, method and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const logins = new Counter({
    name: 'caliopen_logins_total',
    help: 'Login attempts by outcome.',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  return { registry, httpDuration, logins };
}

export type Metrics = ReturnType<typeof createMetrics>;
