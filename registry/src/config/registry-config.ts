import { join, resolve } from 'node:path';
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import {
  type EnvKind,
  type Json,
  layerConfig,
  readConfigFile,
  valuesFromEnv,
} from '@caliopen/platform/config/config.layers.ts';

/**
 * The registry's configuration: `<dataDir>/registry.json` (written by `caliopen registry init`) overlaid by
 * environment variables, then by CLI flags. Every key is validated at start; an invalid one stops the start with a
 * message naming it and where it came from. Documented in docs/registry.md.
 */
const Consistency = Type.Union(
  ['ONE', 'LOCAL_ONE', 'QUORUM', 'LOCAL_QUORUM', 'EACH_QUORUM', 'ALL'].map((c) => Type.Literal(c)),
);
const HostPort = Type.String({ pattern: '^[A-Za-z0-9.:\\[\\]-]+:[0-9]{1,5}$' });

export const RegistryConfigSchema = Type.Object(
  {
    /** The registry's name: `iss` of its labels, `registry` of its feed; its log is `<origin>/log`. */
    origin: Type.String({ pattern: '^[\\x21-\\x7e]{1,200}$' }),
    dataDir: Type.String({ minLength: 1 }),
    http: Type.Object(
      {
        host: Type.String({ minLength: 1 }),
        port: Type.Integer({ minimum: 0, maximum: 65535 }),
        trustProxy: Type.Boolean(),
        /** Applications are small: 64 KiB is plenty for keys, a certificate and a signed declaration. */
        bodyLimitBytes: Type.Integer({ minimum: 1024, maximum: 1024 * 1024 }),
        /** Per client address: applications submitted, and check runs asked, per minute. */
        applyRateLimitPerMinute: Type.Integer({ minimum: 1, maximum: 100_000 }),
      },
      { additionalProperties: false },
    ),
    storage: Type.Object(
      {
        engine: Type.Union([Type.Literal('sqlite'), Type.Literal('cassandra')]),
        cassandra: Type.Optional(
          Type.Object(
            {
              contactPoints: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
              localDataCenter: Type.String({ minLength: 1 }),
              keyspace: Type.String({ pattern: '^[a-z][a-z0-9_]{0,47}$' }),
              readConsistency: Type.Optional(Consistency),
              writeConsistency: Type.Optional(Consistency),
            },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false },
    ),
    queue: Type.Object(
      {
        engine: Type.Union([Type.Literal('sqlite'), Type.Literal('bullmq')]),
        redisUrl: Type.Optional(Type.String({ pattern: '^rediss?://' })),
      },
      { additionalProperties: false },
    ),
    audit: Type.Object(
      {
        /** K: approvals needed (with no standing objection) for a decision. */
        approvalsRequired: Type.Integer({ minimum: 1, maximum: 100 }),
        sessionTtlSeconds: Type.Integer({ minimum: 60, maximum: 30 * 24 * 3600 }),
        loginRateLimitPerMinute: Type.Integer({ minimum: 1, maximum: 10_000 }),
        /** How long one auditor's emergency suspension lasts unless a revocation by consensus confirms it. */
        emergencySuspensionHours: Type.Integer({ minimum: 1, maximum: 30 * 24 }),
        /** Whether applicants see which auditor cast each vote (the association's choice; default: no). */
        applicantsSeeAuditorNames: Type.Boolean(),
      },
      { additionalProperties: false },
    ),
    labels: Type.Object(
      {
        lifetimeDays: Type.Integer({ minimum: 1, maximum: 14 }),
        /** Renew once this fraction of the lifetime has passed (0.5: at half-life). */
        renewAtFraction: Type.Number({ minimum: 0.1, maximum: 0.9 }),
        /** Lifetime of a registry key made by init or rotation. */
        keyLifetimeDays: Type.Integer({ minimum: 30, maximum: 5 * 365 }),
      },
      { additionalProperties: false },
    ),
    checks: Type.Object(
      {
        /** Re-run every member's checks this often. */
        recheckIntervalHours: Type.Number({ minimum: 0.01, maximum: 24 * 30 }),
        /** The DNS server the checks ask (host:port); default: the first nameserver of /etc/resolv.conf. */
        dnsServer: Type.Optional(HostPort),
        timeoutMs: Type.Integer({ minimum: 100, maximum: 120_000 }),
        /** Where to connect for a domain instead of resolving it (private deployments, tests): domain -> host:port. */
        connectTo: Type.Record(Type.String({ minLength: 1 }), HostPort),
        /**
         * Let the checks connect to loopback and private addresses when an application's domain resolves there
         * (private deployments). Off by default: an applicant must not make the registry probe the operator's network.
         */
        allowPrivateTargets: Type.Boolean(),
      },
      { additionalProperties: false },
    ),
    /** How often the maintenance tick (re-checks, renewals, lapses) runs. */
    tickSeconds: Type.Integer({ minimum: 1, maximum: 3600 }),
    log: Type.Object(
      { level: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l))) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type RegistryConfig = Static<typeof RegistryConfigSchema>;

export const REGISTRY_CONFIG_FILE = 'registry.json';

export const REGISTRY_DEFAULTS = {
  http: { host: '127.0.0.1', port: 8090, trustProxy: false, bodyLimitBytes: 64 * 1024, applyRateLimitPerMinute: 30 },
  storage: { engine: 'sqlite' },
  queue: { engine: 'sqlite' },
  audit: {
    approvalsRequired: 2,
    sessionTtlSeconds: 12 * 3600,
    loginRateLimitPerMinute: 10,
    emergencySuspensionHours: 72,
    applicantsSeeAuditorNames: false,
  },
  labels: { lifetimeDays: 7, renewAtFraction: 0.5, keyLifetimeDays: 365 },
  checks: { recheckIntervalHours: 6, timeoutMs: 10_000, connectTo: {}, allowPrivateTargets: false },
  tickSeconds: 60,
  log: { level: 'info' },
} as const;

/** Environment variables and the key each sets. */
export const REGISTRY_ENV_KEYS: Record<string, { path: string; kind: EnvKind }> = {
  CALIOPEN_REGISTRY_ORIGIN: { path: 'origin', kind: 'string' },
  CALIOPEN_REGISTRY_DATA_DIR: { path: 'dataDir', kind: 'string' },
  CALIOPEN_REGISTRY_HTTP_HOST: { path: 'http.host', kind: 'string' },
  CALIOPEN_REGISTRY_HTTP_PORT: { path: 'http.port', kind: 'integer' },
  CALIOPEN_TRUST_PROXY: { path: 'http.trustProxy', kind: 'boolean' },
  CALIOPEN_REGISTRY_APPLY_RATE_LIMIT: { path: 'http.applyRateLimitPerMinute', kind: 'integer' },
  CALIOPEN_STORAGE: { path: 'storage.engine', kind: 'string' },
  CASSANDRA_CONTACT_POINTS: { path: 'storage.cassandra.contactPoints', kind: 'list' },
  CASSANDRA_LOCAL_DC: { path: 'storage.cassandra.localDataCenter', kind: 'string' },
  CASSANDRA_REGISTRY_KEYSPACE: { path: 'storage.cassandra.keyspace', kind: 'string' },
  CALIOPEN_QUEUE: { path: 'queue.engine', kind: 'string' },
  REDIS_URL: { path: 'queue.redisUrl', kind: 'string' },
  CALIOPEN_REGISTRY_APPROVALS: { path: 'audit.approvalsRequired', kind: 'integer' },
  CALIOPEN_REGISTRY_LOGIN_RATE_LIMIT: { path: 'audit.loginRateLimitPerMinute', kind: 'integer' },
  CALIOPEN_REGISTRY_SUSPENSION_HOURS: { path: 'audit.emergencySuspensionHours', kind: 'integer' },
  CALIOPEN_REGISTRY_APPLICANTS_SEE_AUDITORS: { path: 'audit.applicantsSeeAuditorNames', kind: 'boolean' },
  CALIOPEN_REGISTRY_LABEL_DAYS: { path: 'labels.lifetimeDays', kind: 'integer' },
  CALIOPEN_REGISTRY_RECHECK_HOURS: { path: 'checks.recheckIntervalHours', kind: 'number' },
  CALIOPEN_REGISTRY_DNS_SERVER: { path: 'checks.dnsServer', kind: 'string' },
  CALIOPEN_REGISTRY_CONNECT_TO: { path: 'checks.connectTo', kind: 'map' },
  CALIOPEN_REGISTRY_ALLOW_PRIVATE_TARGETS: { path: 'checks.allowPrivateTargets', kind: 'boolean' },
  CALIOPEN_REGISTRY_TICK_SECONDS: { path: 'tickSeconds', kind: 'integer' },
  CALIOPEN_LOG_LEVEL: { path: 'log.level', kind: 'string' },
};

/** A configuration problem, naming the key, where it came from and what to do. */
export class RegistryConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegistryConfigError';
  }
}

export interface RegistryLoadOptions {
  configFile?: string;
  dataDir?: string;
  env?: NodeJS.ProcessEnv;
  /** Values that win over file and environment (CLI flags, tests). */
  overrides?: Json;
}

/** Loads defaults < file < environment < overrides, validates the whole, and explains the first problems found. */
export function loadRegistryConfig(options: RegistryLoadOptions = {}): RegistryConfig & { configFile: string | null } {
  const env = options.env ?? process.env;
  const envPart = valuesFromEnv(env, REGISTRY_ENV_KEYS, (message) => new RegistryConfigError(message));
  const dataDir = resolve(
    (options.overrides?.dataDir as string | undefined) ??
      options.dataDir ??
      (envPart.values.dataDir as string | undefined) ??
      '.data/registry',
  );
  const configFile = options.configFile ?? env.CALIOPEN_REGISTRY_CONFIG ?? join(dataDir, REGISTRY_CONFIG_FILE);
  const file = readConfigFile(configFile, {
    explicit: Boolean(options.configFile ?? env.CALIOPEN_REGISTRY_CONFIG),
    fail: (message) => new RegistryConfigError(message),
  });
  const fileExists = file.exists;

  const merged = layerConfig({
    defaults: REGISTRY_DEFAULTS as unknown as Json,
    file: file.values,
    env: envPart.values,
    overrides: options.overrides ?? {},
    fixed: { dataDir },
  });
  if (!Value.Check(RegistryConfigSchema, merged)) {
    const problems = [...Value.Errors(RegistryConfigSchema, merged)]
      .map(
        (err) =>
          err as unknown as {
            keyword: string;
            schemaPath: string;
            instancePath: string;
            message: string;
            params?: { additionalProperties?: string[] };
          },
      )
      .slice(0, 5)
      .map((e) => {
        const key = e.instancePath.replace(/^\//, '').replaceAll('/', '.') || '(root)';
        const source = envPart.sources.get(key) ?? (fileExists ? `config file ${configFile}` : 'defaults');
        return e.keyword === 'additionalProperties'
          ? `"${key}" has an unknown key ${JSON.stringify(e.params?.additionalProperties ?? [])} (from ${source}): remove it or check its spelling`
          : `"${key}" ${e.message} (from ${source})`;
      });
    if (!('origin' in merged)) {
      problems.unshift(
        `"origin" is missing: run \`caliopen registry init --origin registry.example.org --data-dir ${dataDir}\` or set CALIOPEN_REGISTRY_ORIGIN`,
      );
    }
    throw new RegistryConfigError(`Invalid registry configuration:\n  - ${problems.join('\n  - ')}`);
  }
  const config = merged as RegistryConfig;
  if (config.storage.engine === 'cassandra' && !config.storage.cassandra) {
    throw new RegistryConfigError(
      'storage.engine is "cassandra" but storage.cassandra is missing: set CASSANDRA_CONTACT_POINTS, CASSANDRA_LOCAL_DC and CASSANDRA_REGISTRY_KEYSPACE.',
    );
  }
  if (config.queue.engine === 'bullmq' && !config.queue.redisUrl) {
    throw new RegistryConfigError(
      'queue.engine is "bullmq" but no Redis URL is set: set REDIS_URL (redis://host:port).',
    );
  }
  return { ...config, configFile: fileExists ? configFile : null };
}
