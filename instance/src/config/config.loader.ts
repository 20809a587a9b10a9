import { join, resolve } from 'node:path';
import { Value } from 'typebox/value';
import { DEFAULTS, ENV_KEYS, InstanceConfigSchema, type InstanceConfig } from './config.schema.ts';
import { type Json, layerConfig, readConfigFile, valuesFromEnv } from '@caliopen/platform/config/config.layers.ts';

export const CONFIG_FILE_NAME = 'caliopen.json';

/** A configuration problem, naming the key (and the env var or file it came from) and what to do. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface LoadOptions {
  /** Explicit config file; otherwise `$CALIOPEN_CONFIG`, then `<dataDir>/caliopen.json` when it exists. */
  configFile?: string;
  dataDir?: string;
  env?: NodeJS.ProcessEnv;
  /** Values that win over the file (CLI flags). */
  overrides?: Json;
}

/** Loads defaults < file < environment < overrides, validates the whole, and explains the first problems found. */
export function loadConfig(options: LoadOptions = {}): InstanceConfig & { configFile: string | null } {
  const env = options.env ?? process.env;
  const envPart = valuesFromEnv(env, ENV_KEYS, (message) => new ConfigError(message));
  const dataDir = resolve(
    (options.overrides?.dataDir as string | undefined) ??
      (envPart.values.dataDir as string | undefined) ??
      options.dataDir ??
      '.data/instance',
  );
  const configFile = options.configFile ?? env.CALIOPEN_CONFIG ?? join(dataDir, CONFIG_FILE_NAME);
  const file = readConfigFile(configFile, {
    explicit: Boolean(options.configFile ?? env.CALIOPEN_CONFIG),
    fail: (message) => new ConfigError(message),
    hint: 'Fix it or run `caliopen instance init` again.',
  });
  const fileExists = file.exists;

  const merged = layerConfig({
    defaults: DEFAULTS as unknown as Json,
    file: file.values,
    env: envPart.values,
    overrides: options.overrides ?? {},
    fixed: { dataDir },
  });
  if (!Value.Check(InstanceConfigSchema, merged)) {
    const problems = [...Value.Errors(InstanceConfigSchema, merged)]
      .map((err) => err as unknown as { keyword: string; schemaPath: string; instancePath: string; message: string })
      // An unknown key is reported twice (the key, then its parent); keep the precise one.
      .filter((e) => e.keyword !== 'additionalProperties')
      .slice(0, 5)
      .map((e) => {
        const key = e.instancePath.replace(/^\//, '').replaceAll('/', '.') || '(root)';
        const source = envPart.sources.get(key) ?? (fileExists ? `config file ${configFile}` : 'defaults');
        return e.schemaPath.endsWith('/additionalProperties')
          ? `unknown key "${key}" (from ${source}): remove it or check its spelling`
          : `"${key}" ${e.message} (from ${source})`;
      });
    if (!('domain' in merged))
      problems.unshift('"domain" is missing: run `caliopen instance init --domain example.org` or set CALIOPEN_DOMAIN');
    throw new ConfigError(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
  const config = merged as InstanceConfig;
  if (config.storage.engine === 'cassandra' && !config.storage.cassandra) {
    throw new ConfigError(
      'storage.engine is "cassandra" but storage.cassandra is missing: set CASSANDRA_CONTACT_POINTS, CASSANDRA_LOCAL_DC and CASSANDRA_KEYSPACE.',
    );
  }
  if (config.search.engine === 'elasticsearch' && !config.search.elasticsearchUrl) {
    throw new ConfigError('search.engine is "elasticsearch" but no URL is set: set ELASTICSEARCH_URL.');
  }
  if (config.search.engine === 'opensearch' && !config.search.opensearchUrl) {
    throw new ConfigError('search.engine is "opensearch" but no URL is set: set OPENSEARCH_URL.');
  }
  if (config.queue.engine === 'bullmq' && !config.queue.redisUrl) {
    throw new ConfigError('queue.engine is "bullmq" but no Redis URL is set: set REDIS_URL (redis://host:port).');
  }
  if (config.spam.rejectScore !== null && config.spam.rejectScore <= config.spam.junkScore) {
    throw new ConfigError(
      `spam.rejectScore (${config.spam.rejectScore}) must be above spam.junkScore (${config.spam.junkScore}): mail is refused only when it is far beyond junk (CALIOPEN_SPAM_REJECT_SCORE, CALIOPEN_SPAM_JUNK_SCORE).`,
    );
  }
  if (config.spam.rspamdUrl === null && config.spam.controllerUrl !== null) {
    throw new ConfigError('spam.controllerUrl is set but spam.rspamdUrl is not: set CALIOPEN_RSPAMD_URL too.');
  }
  return { ...config, configFile: fileExists ? configFile : null };
}
