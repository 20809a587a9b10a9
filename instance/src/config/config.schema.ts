import { Type, type Static } from 'typebox';

/**
 * The instance's configuration: a JSON file (written by `caliopen instance init`) overlaid by environment variables.
 * Every key is validated at start; an invalid one stops the start with a message naming it.
 */
export const InstanceConfigSchema = Type.Object(
  {
    domain: Type.String({ pattern: '^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z][a-z0-9-]{0,62}$' }),
    dataDir: Type.String({ minLength: 1 }),
    http: Type.Object(
      {
        host: Type.String({ minLength: 1 }),
        port: Type.Integer({ minimum: 0, maximum: 65535 }),
        /** Trust X-Forwarded-* from a reverse proxy in front (for client IPs in rate limits and device records). */
        trustProxy: Type.Boolean(),
        bodyLimitBytes: Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024 }),
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
              readConsistency: Type.Optional(Type.Union(['ONE', 'LOCAL_ONE', 'QUORUM', 'LOCAL_QUORUM', 'EACH_QUORUM', 'ALL'].map((c) => Type.Literal(c)))),
              writeConsistency: Type.Optional(Type.Union(['ONE', 'LOCAL_ONE', 'QUORUM', 'LOCAL_QUORUM', 'EACH_QUORUM', 'ALL'].map((c) => Type.Literal(c)))),
            },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false },
    ),
    search: Type.Object(
      {
        engine: Type.Union([Type.Literal('sqlite'), Type.Literal('elasticsearch')]),
        elasticsearchUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
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
    auth: Type.Object(
      {
        sessionTtlSeconds: Type.Integer({ minimum: 60, maximum: 365 * 24 * 3600 }),
        loginRateLimitPerMinute: Type.Integer({ minimum: 1, maximum: 10_000 }),
      },
      { additionalProperties: false },
    ),
    accounts: Type.Object(
      { defaultQuotaBytes: Type.Integer({ minimum: 0 }) },
      { additionalProperties: false },
    ),
    log: Type.Object(
      { level: Type.Union([Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent')]) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type InstanceConfig = Static<typeof InstanceConfigSchema>;

export const DEFAULTS = {
  http: { host: '127.0.0.1', port: 8080, trustProxy: false, bodyLimitBytes: 1024 * 1024 },
  storage: { engine: 'sqlite' },
  search: { engine: 'sqlite' },
  queue: { engine: 'sqlite' },
  auth: { sessionTtlSeconds: 30 * 24 * 3600, loginRateLimitPerMinute: 10 },
  accounts: { defaultQuotaBytes: 5 * 1024 ** 3 },
  log: { level: 'info' },
} as const;

/** Environment variables and the config key each sets (documented in docs/configuration.md). */
export const ENV_KEYS: Record<string, { path: string; kind: 'string' | 'integer' | 'boolean' | 'list' }> = {
  CALIOPEN_DOMAIN: { path: 'domain', kind: 'string' },
  CALIOPEN_DATA_DIR: { path: 'dataDir', kind: 'string' },
  CALIOPEN_HTTP_HOST: { path: 'http.host', kind: 'string' },
  CALIOPEN_HTTP_PORT: { path: 'http.port', kind: 'integer' },
  CALIOPEN_TRUST_PROXY: { path: 'http.trustProxy', kind: 'boolean' },
  CALIOPEN_BODY_LIMIT_BYTES: { path: 'http.bodyLimitBytes', kind: 'integer' },
  CALIOPEN_STORAGE: { path: 'storage.engine', kind: 'string' },
  CASSANDRA_CONTACT_POINTS: { path: 'storage.cassandra.contactPoints', kind: 'list' },
  CASSANDRA_LOCAL_DC: { path: 'storage.cassandra.localDataCenter', kind: 'string' },
  CASSANDRA_KEYSPACE: { path: 'storage.cassandra.keyspace', kind: 'string' },
  CASSANDRA_READ_CONSISTENCY: { path: 'storage.cassandra.readConsistency', kind: 'string' },
  CASSANDRA_WRITE_CONSISTENCY: { path: 'storage.cassandra.writeConsistency', kind: 'string' },
  CALIOPEN_SEARCH: { path: 'search.engine', kind: 'string' },
  ELASTICSEARCH_URL: { path: 'search.elasticsearchUrl', kind: 'string' },
  CALIOPEN_QUEUE: { path: 'queue.engine', kind: 'string' },
  REDIS_URL: { path: 'queue.redisUrl', kind: 'string' },
  CALIOPEN_SESSION_TTL_SECONDS: { path: 'auth.sessionTtlSeconds', kind: 'integer' },
  CALIOPEN_LOGIN_RATE_LIMIT: { path: 'auth.loginRateLimitPerMinute', kind: 'integer' },
  CALIOPEN_DEFAULT_QUOTA_BYTES: { path: 'accounts.defaultQuotaBytes', kind: 'integer' },
  CALIOPEN_LOG_LEVEL: { path: 'log.level', kind: 'string' },
};
