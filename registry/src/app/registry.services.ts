import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PasswordHasher, type PasswordHasherOptions } from '@caliopen/platform/crypto/password.hasher.ts';
import { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import { loadMasterKey, masterKeyPath } from '@caliopen/platform/crypto/master-key.store.ts';
import type { JobQueue } from '@caliopen/platform/queue/job-queue.port.ts';
import { systemClock, type Clock } from '@caliopen/platform/clock/clock.port.ts';
import type { Logger } from 'pino';
import { ApplicationService } from '../labels/application.service.ts';
import { AuditService } from '../labels/audit.service.ts';
import { AuditorService } from '../labels/auditor.service.ts';
import { CheckService, dnsServerFrom, type RunChecks } from '../labels/check.service.ts';
import { RegistryConfigError, type RegistryConfig } from '../config/registry-config.ts';
import { FeedService } from '../feed/feed.service.ts';
import { LabelService } from '../labels/label.service.ts';
import { RegistryKeyService } from '../keys/registry-keys.service.ts';
import { RenewalService } from '../labels/renewal.service.ts';
import { RevocationService } from '../labels/revocation.service.ts';
import { TransparencyLogService } from '../log/transparency-log.service.ts';
import { Exclusive } from '../shared/exclusive.ts';
import type { RegistryStorage } from '../database/registry-storage.port.ts';
import type { Resolver } from '../verification/check.types.ts';
import { createRegistryMetrics, type RegistryMetrics } from './registry.metrics.ts';

/** Everything the registry's entry points (HTTP, CLI, maintenance worker) use, built once from the configuration. */
export interface RegistryServices {
  config: RegistryConfig;
  clock: Clock;
  storage: RegistryStorage;
  queue: JobQueue;
  box: SecretBox;
  hasher: PasswordHasher;
  metrics: RegistryMetrics;
  exclusive: Exclusive;
  keys: RegistryKeyService;
  log: TransparencyLogService;
  feed: FeedService;
  labels: LabelService;
  checks: CheckService;
  applications: ApplicationService;
  auditors: AuditorService;
  audits: AuditService;
  revocations: RevocationService;
  renewal: RenewalService;
  close(): Promise<void>;
}

export interface RegistryServiceOptions {
  clock?: Clock;
  env?: NodeJS.ProcessEnv;
  passwordHashing?: PasswordHasherOptions;
  /** The automated checks (default: registry/src/verification/run-checks.ts). */
  runChecks?: RunChecks;
  /** The DNS resolver the checks use (default: a dns-packet stub resolver on the configured server). */
  resolver?: Resolver;
  /** Which engines to open (CLI commands need storage only). */
  open?: { queue?: boolean };
  logger?: Pick<Logger, 'warn' | 'info'>;
}

export async function openRegistryStorage(
  config: RegistryConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RegistryStorage> {
  if (config.storage.engine === 'cassandra') {
    const { CassandraRegistryStorage } = await import('../storage/registry-storage.cassandra.ts');
    const c = config.storage.cassandra!;
    const storage = await CassandraRegistryStorage.connect({
      contactPoints: c.contactPoints,
      localDataCenter: c.localDataCenter,
      keyspace: c.keyspace,
      ...(env.CASSANDRA_USERNAME ? { username: env.CASSANDRA_USERNAME, password: env.CASSANDRA_PASSWORD ?? '' } : {}),
      ...(c.readConsistency || c.writeConsistency
        ? {
            consistency: {
              ...(c.readConsistency ? { read: c.readConsistency } : {}),
              ...(c.writeConsistency ? { write: c.writeConsistency } : {}),
            },
          }
        : {}),
    });
    await storage.migrate();
    return storage;
  }
  const { SqliteRegistryStorage } = await import('../storage/registry-storage.sqlite.ts');
  return SqliteRegistryStorage.inDataDir(config.dataDir);
}

export async function openRegistryQueue(config: RegistryConfig): Promise<JobQueue> {
  if (config.queue.engine === 'bullmq') {
    const { openBullmqJobQueue } = await import('@caliopen/platform/queue/job-queue.bullmq.ts');
    return openBullmqJobQueue({
      connection: config.queue.redisUrl!,
      prefix: `caliopen-registry-${config.origin.replace(/[^A-Za-z0-9.-]/g, '_')}`,
    });
  }
  const { openSqliteJobQueue } = await import('@caliopen/platform/queue/job-queue.sqlite.ts');
  return openSqliteJobQueue(join(config.dataDir, 'registry-queue.db'));
}

/** The master key, with a registry-specific message when it is missing. */
export function loadRegistryMasterKey(config: RegistryConfig, env: NodeJS.ProcessEnv = process.env): Buffer {
  if (!env.CALIOPEN_MASTER_KEY && !existsSync(masterKeyPath(config.dataDir))) {
    throw new RegistryConfigError(
      `No master key at ${masterKeyPath(config.dataDir)} and CALIOPEN_MASTER_KEY is not set: run \`caliopen registry init --data-dir ${config.dataDir}\` first.`,
    );
  }
  return loadMasterKey(config.dataDir, env);
}

function notOpened<T extends object>(what: string): T {
  return new Proxy({} as T, {
    get: (_t, prop) => {
      if (prop === 'engine') return 'none';
      if (prop === 'close') return async () => {};
      throw new Error(`${what} was not opened by this process`);
    },
  });
}

async function defaultRunChecks(): Promise<RunChecks> {
  const { runChecks } = await import('../verification/run-checks.ts');
  return runChecks;
}

async function defaultResolver(config: RegistryConfig): Promise<Resolver> {
  const { DnsPacketResolver } = await import('@caliopen/platform/dns/dns.resolver.ts');
  const server = dnsServerFrom(config);
  return new DnsPacketResolver({
    host: server.host,
    port: server.port,
    timeoutMs: Math.min(config.checks.timeoutMs, 5000),
  });
}

export async function buildRegistryServices(
  config: RegistryConfig,
  options: RegistryServiceOptions = {},
): Promise<RegistryServices> {
  const clock = options.clock ?? systemClock;
  const box = new SecretBox(loadRegistryMasterKey(config, options.env));
  const storage = await openRegistryStorage(config, options.env);
  let queue: JobQueue;
  try {
    queue = options.open?.queue === false ? notOpened<JobQueue>('the job queue') : await openRegistryQueue(config);
  } catch (error) {
    await storage.close();
    throw error;
  }
  const logger = options.logger ?? { warn: () => {}, info: () => {} };
  const hasher = new PasswordHasher(options.passwordHashing);
  const metrics = createRegistryMetrics();
  const exclusive = new Exclusive();
  const keys = new RegistryKeyService(storage, box, config.origin);
  const log = await TransparencyLogService.open(storage, keys, `${config.origin}/log`);
  const feed = new FeedService(storage, keys, log, config.origin, exclusive);
  const labels = new LabelService(storage, keys, log, feed, {
    origin: config.origin,
    lifetimeDays: config.labels.lifetimeDays,
  });
  const checks = new CheckService(
    storage,
    options.runChecks ?? (await defaultRunChecks()),
    options.resolver ?? (await defaultResolver(config)),
    config,
    clock,
  );
  const applications = new ApplicationService(storage, clock);
  const auditors = new AuditorService(storage, hasher, clock, config.audit.sessionTtlSeconds);
  const audits = new AuditService(storage, labels, checks, exclusive, clock, config.audit.approvalsRequired);
  const revocations = new RevocationService(storage, labels, exclusive, clock, {
    approvalsRequired: config.audit.approvalsRequired,
    emergencySuspensionHours: config.audit.emergencySuspensionHours,
  });
  const renewal = new RenewalService(
    storage,
    checks,
    labels,
    audits,
    revocations,
    exclusive,
    clock,
    {
      recheckIntervalMs: config.checks.recheckIntervalHours * 3600_000,
      renewAtFraction: config.labels.renewAtFraction,
    },
    logger,
  );
  return {
    config,
    clock,
    storage,
    queue,
    box,
    hasher,
    metrics,
    exclusive,
    keys,
    log,
    feed,
    labels,
    checks,
    applications,
    auditors,
    audits,
    revocations,
    renewal,
    async close() {
      await queue.close();
      await storage.close();
    },
  };
}
