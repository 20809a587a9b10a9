import { loadConfig, type LoadOptions } from '@caliopen/instance/config/config.loader.ts';
import type { InstanceConfig } from '@caliopen/instance/config/config.schema.ts';
import { buildServices, type InstanceServices } from '@caliopen/instance/app/instance.services.ts';

export interface CommonOptions {
  dataDir?: string;
  config?: string;
}

/** Loads the configuration the way every command does: flags > environment > config file > defaults. */
export function configFrom(opts: CommonOptions, overrides: LoadOptions['overrides'] = {}): InstanceConfig {
  return loadConfig({
    ...(opts.config ? { configFile: opts.config } : {}),
    overrides: { ...(opts.dataDir ? { dataDir: opts.dataDir } : {}), ...overrides },
  });
}

/** Runs `fn` with the storage-side services (no queue, no search, no HTTP), closing them afterwards. */
export async function withServices<T>(opts: CommonOptions, fn: (s: InstanceServices) => Promise<T>): Promise<T> {
  const services = await buildServices(configFrom(opts), { open: { queue: false, search: false } });
  try {
    return await fn(services);
  } finally {
    await services.close();
  }
}
