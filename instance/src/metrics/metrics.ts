import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The instance's Prometheus registry: process metrics plus what the HTTP layer and the services record. Every name
 * is documented in docs/ops/metrics.md (a test scrapes a running instance and compares both lists).
 */
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
  const acmeErrors = new Counter({
    name: 'caliopen_acme_errors_total',
    help: 'Failed ACME certificate orders (each attempt of a renewal round).',
    registers: [registry],
  });
  const certificateRenewals = new Counter({
    name: 'caliopen_certificate_renewals_total',
    help: 'Instance certificates obtained from the ACME CA.',
    registers: [registry],
  });
  // Spam filtering (rspamd) registers caliopen_spam_* on the same registry when it is wired (spam/spam.service.ts).
  return { registry, httpDuration, logins, acmeErrors, certificateRenewals };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** What the instance-wide gauges read when Prometheus scrapes (each may be absent: its series is then not set). */
export interface InstanceGaugeSources {
  now: () => Date;
  /** The instance certificate's expiry. */
  certificateNotAfter: () => Promise<Date>;
  /** Jobs of a queue by state. */
  queueCounts: (queue: string) => Promise<Record<string, number>>;
  /** The delivery queues (SMTP out, federation out). */
  deliveryQueues: readonly string[];
  /** When the registry's feed was last synced (null: never; absent: federation off). */
  feedSyncedAt?: () => Date | null;
  /** This instance's label expiry at the registry (null: not labelled; absent: federation off). */
  labelExpiresAt?: () => Date | null;
}

/**
 * Gauges read at scrape time: certificate and label expiry, feed age, delivery queues by state. The inbound spool's
 * depth and age are registered with the spool (email/smtp-inbound.service.ts).
 */
export function observeInstance(metrics: Metrics, sources: InstanceGaugeSources): void {
  const registers = [metrics.registry];
  new Gauge({
    name: 'caliopen_certificate_expiry_timestamp_seconds',
    help: "The instance certificate's notAfter (Unix seconds).",
    registers,
    async collect() {
      // A process whose identity does not open (a wrong master key) exposes no expiry rather than failing the scrape.
      const notAfter = await sources.certificateNotAfter().catch(() => null);
      if (notAfter !== null) this.set(notAfter.getTime() / 1000);
    },
  });
  new Gauge({
    name: 'caliopen_delivery_queue_jobs',
    help: 'Outbound delivery jobs by queue (smtp-out, federation-out) and state (waiting, delayed, active, dead).',
    labelNames: ['queue', 'state'] as const,
    registers,
    async collect() {
      for (const queue of sources.deliveryQueues) {
        const counts = await sources.queueCounts(queue);
        for (const state of ['waiting', 'delayed', 'active', 'dead']) this.set({ queue, state }, counts[state] ?? 0);
      }
    },
  });
  const { feedSyncedAt, labelExpiresAt } = sources;
  if (!feedSyncedAt || !labelExpiresAt) return;
  new Gauge({
    name: 'caliopen_federation_feed_age_seconds',
    help: "Seconds since the registry's feed was last synced (-1: never synced; absent: federation off).",
    registers,
    collect() {
      const at = feedSyncedAt();
      this.set(at === null ? -1 : Math.max(0, (sources.now().getTime() - at.getTime()) / 1000));
    },
  });
  new Gauge({
    name: 'caliopen_federation_label_expiry_timestamp_seconds',
    help: "This instance's label expiry at the registry (Unix seconds; 0: not labelled; absent: federation off).",
    registers,
    collect() {
      const at = labelExpiresAt();
      this.set(at === null ? 0 : at.getTime() / 1000);
    },
  });
}
