import { join } from 'node:path';
import { AccountService } from '../accounts/account.service.ts';
import { PasswordHasher, type PasswordHasherOptions } from '../accounts/password.ts';
import type { InstanceConfig } from '../config/config.schema.ts';
import { SecretBox } from '../crypto/secret-box.ts';
import { DeviceService } from '../devices/device.service.ts';
import { loadMasterKey } from '../identity/master-key.ts';
import { createMetrics, type Metrics } from '../metrics/metrics.ts';
import type { JobQueue } from '../queue/job-queue.port.ts';
import type { SearchIndex } from '../search/search.port.ts';
import { AuthService } from '../sessions/auth.service.ts';
import { systemClock, type Clock } from '../shared/clock.ts';
import type { Storage } from '../storage/storage.port.ts';

/** Everything the entry points (HTTP, CLI, workers) use, built once from the configuration. */
export interface InstanceServices {
  config: InstanceConfig;
  clock: Clock;
  storage: Storage;
  queue: JobQueue;
  search: SearchIndex;
  box: SecretBox;
  hasher: PasswordHasher;
  metrics: Metrics;
  accounts: AccountService;
  auth: AuthService;
  devices: DeviceService;
  close(): Promise<void>;
}

export interface ServiceOptions {
  clock?: Clock;
  env?: NodeJS.ProcessEnv;
  passwordHashing?: PasswordHasherOptions;
  /** Which engines to open (the CLI's account commands need storage only). */
  open?: { queue?: boolean; search?: boolean };
}

/** Opens the storage engine the configuration names; distributed engines are loaded only when chosen. */
export async function openStorage(config: InstanceConfig, env: NodeJS.ProcessEnv = process.env): Promise<Storage> {
  if (config.storage.engine === 'cassandra') {
    const { CassandraStorage } = await import('../storage/storage.cassandra.ts');
    const c = config.storage.cassandra!;
    type Consistency = NonNullable<NonNullable<Parameters<typeof CassandraStorage.connect>[0]['consistency']>['read']>;
    const storage = await CassandraStorage.connect({
      contactPoints: c.contactPoints,
      localDataCenter: c.localDataCenter,
      keyspace: c.keyspace,
      // Credentials come from the environment only, never from the config file.
      ...(env.CASSANDRA_USERNAME ? { username: env.CASSANDRA_USERNAME, password: env.CASSANDRA_PASSWORD ?? '' } : {}),
      consistency: {
        ...(c.readConsistency ? { read: c.readConsistency as Consistency } : {}),
        ...(c.writeConsistency ? { write: c.writeConsistency as Consistency } : {}),
      },
    });
    await storage.migrate();
    return storage;
  }
  const { SqliteStorage } = await import('../storage/storage.sqlite.ts');
  return SqliteStorage.inDataDir(config.dataDir);
}

export async function openQueue(config: InstanceConfig): Promise<JobQueue> {
  if (config.queue.engine === 'bullmq') {
    const { openBullmqJobQueue } = await import('../queue/job-queue.bullmq.ts');
    return openBullmqJobQueue({ connection: config.queue.redisUrl!, prefix: `caliopen-${config.domain}` });
  }
  const { openSqliteJobQueue } = await import('../queue/job-queue.sqlite.ts');
  return openSqliteJobQueue(join(config.dataDir, 'queue.db'));
}

export async function openSearch(config: InstanceConfig): Promise<SearchIndex> {
  let index: SearchIndex;
  if (config.search.engine === 'elasticsearch') {
    const { openElasticsearchIndex } = await import('../search/search.elasticsearch.ts');
    index = openElasticsearchIndex({ url: config.search.elasticsearchUrl!, indexPrefix: `caliopen-${config.domain.replaceAll('.', '-')}` });
  } else {
    const { openSqliteSearchIndex } = await import('../search/search.sqlite.ts');
    index = openSqliteSearchIndex(join(config.dataDir, 'search.db'));
  }
  await index.init();
  return index;
}

/** A stand-in for an engine the caller chose not to open: any use is a programming error, said plainly. */
function notOpened<T extends object>(what: string): T {
  return new Proxy({} as T, {
    get: (_t, prop) => {
      if (prop === 'engine') return 'none';
      if (prop === 'close') return async () => {};
      throw new Error(`${what} was not opened by this process`);
    },
  });
}

export async function buildServices(config: InstanceConfig, options: ServiceOptions = {}): Promise<InstanceServices> {
  const clock = options.clock ?? systemClock;
  const box = new SecretBox(loadMasterKey(config.dataDir, options.env));
  const storage = await openStorage(config, options.env);
  const queue = options.open?.queue === false ? notOpened<JobQueue>('the job queue') : await openQueue(config);
  const search = options.open?.search === false ? notOpened<SearchIndex>('the search index') : await openSearch(config);
  const hasher = new PasswordHasher(options.passwordHashing);
  const metrics = createMetrics();
  const accounts = new AccountService(storage, hasher, clock, config.accounts.defaultQuotaBytes);
  const auth = new AuthService(storage, hasher, box, clock, { sessionTtlSeconds: config.auth.sessionTtlSeconds, totpIssuer: config.domain });
  const devices = new DeviceService(storage, clock);
  return {
    config,
    clock,
    storage,
    queue,
    search,
    box,
    hasher,
    metrics,
    accounts,
    auth,
    devices,
    async close() {
      await queue.close();
      await search.close();
      await storage.close();
    },
  };
}
