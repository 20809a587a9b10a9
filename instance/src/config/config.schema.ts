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
        /** Live updates (GET /api/v1/events): seconds between heartbeats, each re-checking the stream's session. */
        liveHeartbeatSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 300 })),
        /** Live updates: open streams per account at most (tabs and devices together). */
        liveStreamsPerAccount: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
      },
      { additionalProperties: false },
    ),
    /** The public HTTPS face (instance certificate): descriptor, registry challenges, later the federation inbox. */
    https: Type.Object(
      {
        enabled: Type.Boolean(),
        host: Type.String({ minLength: 1 }),
        port: Type.Integer({ minimum: 0, maximum: 65535 }),
        /** The base URL peers and registries reach it by (default https://<domain>[:port]). */
        publicUrl: Type.Optional(Type.String({ pattern: '^https://[^/?#]+$' })),
        /** A request's headers must be complete this long after its first byte (slow-drip clients are cut). */
        headersTimeoutMs: Type.Integer({ minimum: 100, maximum: 300_000 }),
        /** A whole request, body included, must be received this long after its first byte. */
        requestTimeoutMs: Type.Integer({ minimum: 100, maximum: 3_600_000 }),
        /** A connection silent this long is closed (TLS handshake included). */
        idleTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000 }),
        /** A kept-alive connection waits this long for its next request. */
        keepAliveTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000 }),
        /** Requests per client IP address: a burst, refilled per second (every route; beyond: 429 peer_rate_limited). */
        ipBurst: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
        ipPerSecond: Type.Integer({ minimum: 1, maximum: 100_000 }),
        /** Authenticated federation requests per peer instance: a burst, refilled per second (429 peer_rate_limited). */
        peerBurst: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
        peerPerSecond: Type.Integer({ minimum: 1, maximum: 100_000 }),
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
              readConsistency: Type.Optional(
                Type.Union(
                  ['ONE', 'LOCAL_ONE', 'QUORUM', 'LOCAL_QUORUM', 'EACH_QUORUM', 'ALL'].map((c) => Type.Literal(c)),
                ),
              ),
              writeConsistency: Type.Optional(
                Type.Union(
                  ['ONE', 'LOCAL_ONE', 'QUORUM', 'LOCAL_QUORUM', 'EACH_QUORUM', 'ALL'].map((c) => Type.Literal(c)),
                ),
              ),
            },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false },
    ),
    search: Type.Object(
      {
        engine: Type.Union([Type.Literal('sqlite'), Type.Literal('elasticsearch'), Type.Literal('opensearch')]),
        elasticsearchUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
        opensearchUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
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
      {
        defaultQuotaBytes: Type.Integer({ minimum: 0 }),
        /** A user's request to delete their account waits this long (they may cancel meanwhile); default 7 days. */
        deletionGraceSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 366 * 24 * 3600 })),
      },
      { additionalProperties: false },
    ),
    /**
     * Inbound SMTP (the MX): off unless enabled. Production listens on 0.0.0.0 port 25; 2525 is the unprivileged
     * development default. `dnsServers` are used for SPF/DKIM/DMARC and reverse lookups (empty = the system's).
     */
    smtp: Type.Object(
      {
        enabled: Type.Boolean(),
        host: Type.String({ minLength: 1 }),
        port: Type.Integer({ minimum: 0, maximum: 65535 }),
        maxMessageBytes: Type.Integer({ minimum: 1024, maximum: 1024 ** 3 }),
        maxConnections: Type.Integer({ minimum: 1, maximum: 100_000 }),
        /** 0 = no limit. */
        maxConnectionsPerIp: Type.Integer({ minimum: 0, maximum: 100_000 }),
        /** 0 = no limit. */
        messagesPerMinutePerIp: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
        dnsServers: Type.Array(Type.String({ pattern: '^(\\[[0-9a-fA-F:.]+\\](:[0-9]{1,5})?|[0-9a-fA-F:.]{2,45})$' }), {
          maxItems: 8,
        }),
      },
      { additionalProperties: false },
    ),
    /**
     * Authenticated submission (RFC 6409 / RFC 8314) for mail apps: off unless enabled. Production listens on 587
     * (STARTTLS) and 465 (implicit TLS); 1587 and 1465 are the unprivileged development defaults (0 = any free port).
     * AUTH PLAIN/LOGIN only once TLS is on, with the account password or, for accounts with two-factor, an app password.
     */
    submission: Type.Object(
      {
        enabled: Type.Boolean(),
        host: Type.String({ minLength: 1 }),
        port: Type.Integer({ minimum: 0, maximum: 65535 }),
        tlsPort: Type.Integer({ minimum: 0, maximum: 65535 }),
        maxMessageBytes: Type.Integer({ minimum: 1024, maximum: 1024 ** 3 }),
        maxConnectionsPerIp: Type.Integer({ minimum: 1, maximum: 100_000 }),
        /** Messages one account may submit per hour, refilled evenly. */
        messagesPerHourPerAccount: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
        /** Failed AUTH attempts allowed per client address (IPv6 /64) and per account within 15 minutes before a lockout. */
        authFailuresPerIp: Type.Integer({ minimum: 1, maximum: 10_000 }),
        authFailuresPerAccount: Type.Integer({ minimum: 1, maximum: 10_000 }),
      },
      { additionalProperties: false },
    ),
    /**
     * Outbound mail (SMTP out). `mxOverride` routes a domain to a fixed host:port instead of its MX records: for
     * tests and private networks only (it bypasses DNS, so never point it at a host you do not run).
     */
    outbound: Type.Object(
      {
        /** Relay every message through this host instead of the recipients' MX (credentials: environment only). */
        smarthost: Type.Optional(
          Type.Object(
            {
              host: Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.:\\[\\]-]+$' }),
              port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
              requireTls: Type.Optional(Type.Boolean()),
            },
            { additionalProperties: false },
          ),
        ),
        /** STARTTLS towards MX hosts: `opportunistic` (use it when offered) or `required` (never send in clear). */
        tlsPolicy: Type.Union([Type.Literal('opportunistic'), Type.Literal('required')]),
        /** Temporary failures are retried `attempts` times in all, the n-th retry after min(baseDelayMs * 2^(n-1), maxDelayMs). */
        retry: Type.Object(
          {
            attempts: Type.Integer({ minimum: 1, maximum: 100 }),
            baseDelayMs: Type.Integer({ minimum: 10, maximum: 24 * 3600_000 }),
            maxDelayMs: Type.Integer({ minimum: 10, maximum: 7 * 24 * 3600_000 }),
          },
          { additionalProperties: false },
        ),
        /** `domain=host:port` entries (tests / private networks only). */
        mxOverride: Type.Array(Type.String({ pattern: '^[a-z0-9.-]{1,253}=[A-Za-z0-9.-]{1,253}:[0-9]{1,5}$' }), {
          maxItems: 1000,
        }),
        /** Most recipients (to + cc + bcc) one message may have. */
        maxRecipients: Type.Integer({ minimum: 1, maximum: 10_000 }),
        /** Most attachment bytes (decoded, all attachments together) one message may carry. */
        maxAttachmentBytes: Type.Integer({ minimum: 0, maximum: 256 * 1024 * 1024 }),
        /** Delivery jobs run at once by one process. */
        concurrency: Type.Integer({ minimum: 1, maximum: 256 }),
      },
      { additionalProperties: false },
    ),
    /**
     * The instance's authoritative DNS responder (its zone: OPENPGPKEY keys of its users, TLSA, discovery, mail
     * records) and the resolvers used to look correspondents' keys up. Off unless enabled; see docs/discovery.md.
     */
    dns: Type.Object(
      {
        enabled: Type.Boolean(),
        host: Type.String({ minLength: 1 }),
        /** UDP and TCP, the same port (53 in production; 0 = any free port). */
        port: Type.Integer({ minimum: 0, maximum: 65535 }),
        /** A/AAAA of the domain and of ns.<domain>. */
        addresses: Type.Array(Type.String({ pattern: '^([0-9]{1,3}(\\.[0-9]{1,3}){3}|[0-9a-fA-F:.]{2,45})$' }), {
          minItems: 1,
          maxItems: 16,
        }),
        /** Servers asked for correspondents' keys (`ip`, `ip:port`, `[ipv6]:port`); empty = the system's first. */
        resolvers: Type.Array(Type.String({ pattern: '^(\\[[0-9a-fA-F:.]+\\](:[0-9]{1,5})?|[0-9a-fA-F:.]{2,45})$' }), {
          maxItems: 8,
        }),
        /** Count the resolvers' AD bit as DNSSEC validation: only for a validating resolver on a trusted path. */
        trustAd: Type.Boolean(),
      },
      { additionalProperties: false },
    ),
    /**
     * Arriving mail: MIME parsing and SPF/DKIM/DMARC verification run on worker threads (app/mail-workers.piscina.ts).
     * `workerThreads`: how many at most (0: on the main thread); absent: one per core but one, between 1 and 4.
     * Threads start with the first message and stop after `workerIdleSeconds` without any.
     */
    ingest: Type.Object(
      {
        workerThreads: Type.Optional(Type.Integer({ minimum: 0, maximum: 64 })),
        /**
         * A thread with no mail to read for this long stops. Starting one costs ~0.5 s of CPU and of delay (its
         * modules load) and a running one ~75 MiB: short, and an instance whose mail comes every minute or two starts
         * one for nearly every message; long, and a quiet instance holds memory it does not use.
         */
        workerIdleSeconds: Type.Integer({ minimum: 1, maximum: 86_400 }),
      },
      { additionalProperties: false },
    ),
    /** Import of users' remote mailboxes (IMAP). */
    imports: Type.Object(
      {
        /** Every identity is synced again this often, through the queue (0 = no scheduled sync). */
        resyncMinutes: Type.Integer({ minimum: 0, maximum: 7 * 24 * 60 }),
        /**
         * Let users import from loopback, private, link-local and other non-public addresses. Off by default: a
         * user could otherwise make the instance probe its own network. On for tests and private deployments only.
         */
        allowPrivateHosts: Type.Boolean(),
        /** PEM file of extra certificate authorities trusted for IMAP over TLS (an organisation's internal CA). */
        caFile: Type.Optional(Type.String({ minLength: 1 })),
        /** Remote messages larger than this are left out of the import (and counted as skipped). */
        maxMessageBytes: Type.Integer({ minimum: 1024, maximum: 1024 * 1024 * 1024 }),
        /** Import jobs run at once by one process. */
        concurrency: Type.Integer({ minimum: 1, maximum: 64 }),
      },
      { additionalProperties: false },
    ),
    /**
     * The federation: the association's registry whose signed feed this instance syncs (its peer directory, see
     * instance/src/federation). Off while `registryUrl` is null. `registryKeys` pins the registry key set: the JSON
     * document its `GET /v1/keys` publishes, or the path of a file holding it; required when `registryUrl` is set.
     */
    /**
     * Remote images of mails, fetched by the instance on the user's behalf once they choose to load them (so the
     * sender never sees the reader's address): only URLs that appear in the message, only public addresses, only
     * raster images, up to `maxBytes`, within `timeoutMs`. `allowAddresses`: non-public addresses it may reach
     * anyway (tests only: a local image server).
     */
    remoteImages: Type.Object(
      {
        maxBytes: Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024 }),
        timeoutMs: Type.Integer({ minimum: 100, maximum: 120_000 }),
        allowAddresses: Type.Array(Type.String({ pattern: '^[0-9a-fA-F:.]{2,45}$' }), { maxItems: 16 }),
      },
      { additionalProperties: false },
    ),
    federation: Type.Object(
      {
        registryUrl: Type.Union([Type.Null(), Type.String({ pattern: '^https?://[^?#\\s]+$', maxLength: 2048 })]),
        registryKeys: Type.Union([Type.Null(), Type.String({ minLength: 1, maxLength: 65536 })]),
        /** The feed is synced (a delta, usually nothing) this often. */
        syncSeconds: Type.Integer({ minimum: 5, maximum: 7 * 24 * 3600 }),
        /** Policy: a message whose federation route closes before delivery goes by email instead of back to its sender. */
        emailFallback: Type.Boolean(),
        /**
         * Before sending to a member instance (and in the route preview), ask it whether the recipient exists
         * (SPEC.md §12.1): an unknown user is refused at once instead of bouncing after the message was queued.
         */
        recipientCheck: Type.Boolean(),
      },
      { additionalProperties: false },
    ),
    /**
     * Central spam filtering (rspamd): off while `rspamdUrl` is null (then mail is filed as before, unchecked by any
     * filter). See docs/configuration.md and docs/adr/0020-central-spam-filtering-with-rspamd.md. The controller's
     * password comes from the environment only (CALIOPEN_RSPAMD_PASSWORD).
     */
    spam: Type.Object(
      {
        /** rspamd's normal worker, which scans (`/checkv2`): `http://127.0.0.1:11333`. */
        rspamdUrl: Type.Union([Type.Null(), Type.String({ pattern: '^https?://[^?#\\s]+$', maxLength: 2048 })]),
        /** rspamd's controller, which learns from the users' junk / not junk (`/learnspam`, `/learnham`); null: no training. */
        controllerUrl: Type.Union([Type.Null(), Type.String({ pattern: '^https?://[^?#\\s]+$', maxLength: 2048 })]),
        /** A message scoring at least this is filed as junk. */
        junkScore: Type.Number({ minimum: -1000, maximum: 1000 }),
        /** A message scoring at least this is refused at SMTP time (`550 5.7.1`); null: never refused, only filed as junk. */
        rejectScore: Type.Union([Type.Null(), Type.Number({ minimum: -1000, maximum: 1000 })]),
        /** One request to rspamd takes at most this long; beyond, the message is filed unchecked and checked later. */
        timeoutMs: Type.Integer({ minimum: 100, maximum: 120_000 }),
        /** An unchecked message is checked again after this delay, doubling at each failure, `recheckAttempts` times. */
        recheckDelayMs: Type.Integer({ minimum: 100, maximum: 24 * 3600_000 }),
        recheckAttempts: Type.Integer({ minimum: 1, maximum: 50 }),
      },
      { additionalProperties: false },
    ),
    /**
     * The instance certificate from an ACME CA (RFC 8555, e.g. Let's Encrypt), HTTP-01 answered on the HTTP port
     * (`/.well-known/acme-challenge/<token>`; port 80 must reach it). Renewed at 2/3 of its lifetime, reloaded
     * without a restart. `caFile`: PEM of extra authorities trusted for the ACME directory (a private or test CA).
     * Off unless enabled (`caliopen instance init --acme`); see docs/ops/acme.md.
     */
    acme: Type.Object(
      {
        enabled: Type.Boolean(),
        directoryUrl: Type.String({ pattern: '^https://[^\\s?#]+$', maxLength: 2048 }),
        email: Type.Optional(Type.String({ pattern: '^[^@\\s]+@[^@\\s]+$', maxLength: 254 })),
        caFile: Type.Optional(Type.String({ minLength: 1 })),
        /** How often the certificate's age is checked. */
        checkSeconds: Type.Integer({ minimum: 1, maximum: 24 * 3600 }),
        /** One renewal round tries `attempts` times, the n-th retry after min(baseDelayMs * 2^(n-1), maxDelayMs). */
        retry: Type.Object(
          {
            attempts: Type.Integer({ minimum: 1, maximum: 100 }),
            baseDelayMs: Type.Integer({ minimum: 10, maximum: 24 * 3600_000 }),
            maxDelayMs: Type.Integer({ minimum: 10, maximum: 7 * 24 * 3600_000 }),
          },
          { additionalProperties: false },
        ),
      },
      { additionalProperties: false },
    ),
    log: Type.Object(
      {
        level: Type.Union([
          Type.Literal('fatal'),
          Type.Literal('error'),
          Type.Literal('warn'),
          Type.Literal('info'),
          Type.Literal('debug'),
          Type.Literal('trace'),
          Type.Literal('silent'),
        ]),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type InstanceConfig = Static<typeof InstanceConfigSchema>;

export const DEFAULTS = {
  http: { host: '127.0.0.1', port: 8080, trustProxy: false, bodyLimitBytes: 1024 * 1024 },
  https: {
    enabled: true,
    host: '127.0.0.1',
    port: 8443,
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 120_000,
    idleTimeoutMs: 30_000,
    keepAliveTimeoutMs: 5_000,
    ipBurst: 300,
    ipPerSecond: 50,
    peerBurst: 200,
    peerPerSecond: 30,
  },
  storage: { engine: 'sqlite' },
  search: { engine: 'sqlite' },
  queue: { engine: 'sqlite' },
  auth: { sessionTtlSeconds: 30 * 24 * 3600, loginRateLimitPerMinute: 10 },
  accounts: { defaultQuotaBytes: 5 * 1024 ** 3 },
  smtp: {
    enabled: false,
    host: '127.0.0.1',
    port: 2525,
    maxMessageBytes: 25 * 1024 * 1024,
    maxConnections: 200,
    maxConnectionsPerIp: 20,
    messagesPerMinutePerIp: 300,
    dnsServers: [],
  },
  submission: {
    enabled: false,
    host: '127.0.0.1',
    port: 1587,
    tlsPort: 1465,
    maxMessageBytes: 25 * 1024 * 1024,
    maxConnectionsPerIp: 10,
    messagesPerHourPerAccount: 200,
    authFailuresPerIp: 10,
    authFailuresPerAccount: 5,
  },
  // The first retry a minute later, doubling up to 4 hours between tries (a destination back after an outage gets its
  // mail within 4 hours); 37 attempts: the last try comes about 4.8 days after the first (RFC 5321 §4.5.4.1: 4-5 days).
  outbound: {
    tlsPolicy: 'opportunistic',
    retry: { attempts: 37, baseDelayMs: 60_000, maxDelayMs: 4 * 3600_000 },
    mxOverride: [],
    maxRecipients: 100,
    maxAttachmentBytes: 10 * 1024 * 1024,
    concurrency: 4,
  },
  dns: { enabled: false, host: '127.0.0.1', port: 5353, addresses: ['127.0.0.1'], resolvers: [], trustAd: false },
  ingest: { workerIdleSeconds: 300 },
  imports: { resyncMinutes: 15, allowPrivateHosts: false, maxMessageBytes: 50 * 1024 * 1024, concurrency: 2 },
  remoteImages: { maxBytes: 5 * 1024 * 1024, timeoutMs: 10_000, allowAddresses: [] },
  federation: { registryUrl: null, registryKeys: null, syncSeconds: 300, emailFallback: false, recipientCheck: true },
  // rspamd's own defaults: `add header` at 6, `reject` at 15. Re-checks: 1 min, 2, 4... 12 tries over ~2.8 days.
  spam: {
    rspamdUrl: null,
    controllerUrl: null,
    junkScore: 6,
    rejectScore: 15,
    timeoutMs: 5000,
    recheckDelayMs: 60_000,
    recheckAttempts: 12,
  },
  acme: {
    enabled: false,
    directoryUrl: 'https://acme-v02.api.letsencrypt.org/directory',
    checkSeconds: 6 * 3600,
    retry: { attempts: 6, baseDelayMs: 60_000, maxDelayMs: 3600_000 },
  },
  log: { level: 'info' },
} as const;

/** Environment variables and the config key each sets (documented in docs/configuration.md). */
export const ENV_KEYS: Record<string, { path: string; kind: 'string' | 'integer' | 'number' | 'boolean' | 'list' }> = {
  CALIOPEN_DOMAIN: { path: 'domain', kind: 'string' },
  CALIOPEN_DATA_DIR: { path: 'dataDir', kind: 'string' },
  CALIOPEN_HTTP_HOST: { path: 'http.host', kind: 'string' },
  CALIOPEN_HTTP_PORT: { path: 'http.port', kind: 'integer' },
  CALIOPEN_TRUST_PROXY: { path: 'http.trustProxy', kind: 'boolean' },
  CALIOPEN_BODY_LIMIT_BYTES: { path: 'http.bodyLimitBytes', kind: 'integer' },
  CALIOPEN_LIVE_HEARTBEAT_SECONDS: { path: 'http.liveHeartbeatSeconds', kind: 'integer' },
  CALIOPEN_LIVE_STREAMS_PER_ACCOUNT: { path: 'http.liveStreamsPerAccount', kind: 'integer' },
  CALIOPEN_HTTPS_ENABLED: { path: 'https.enabled', kind: 'boolean' },
  CALIOPEN_HTTPS_HOST: { path: 'https.host', kind: 'string' },
  CALIOPEN_HTTPS_PORT: { path: 'https.port', kind: 'integer' },
  CALIOPEN_PUBLIC_URL: { path: 'https.publicUrl', kind: 'string' },
  CALIOPEN_HTTPS_HEADERS_TIMEOUT_MS: { path: 'https.headersTimeoutMs', kind: 'integer' },
  CALIOPEN_HTTPS_REQUEST_TIMEOUT_MS: { path: 'https.requestTimeoutMs', kind: 'integer' },
  CALIOPEN_HTTPS_IDLE_TIMEOUT_MS: { path: 'https.idleTimeoutMs', kind: 'integer' },
  CALIOPEN_HTTPS_KEEP_ALIVE_TIMEOUT_MS: { path: 'https.keepAliveTimeoutMs', kind: 'integer' },
  CALIOPEN_HTTPS_IP_BURST: { path: 'https.ipBurst', kind: 'integer' },
  CALIOPEN_HTTPS_IP_PER_SECOND: { path: 'https.ipPerSecond', kind: 'integer' },
  CALIOPEN_HTTPS_PEER_BURST: { path: 'https.peerBurst', kind: 'integer' },
  CALIOPEN_HTTPS_PEER_PER_SECOND: { path: 'https.peerPerSecond', kind: 'integer' },
  CALIOPEN_STORAGE: { path: 'storage.engine', kind: 'string' },
  CASSANDRA_CONTACT_POINTS: { path: 'storage.cassandra.contactPoints', kind: 'list' },
  CASSANDRA_LOCAL_DC: { path: 'storage.cassandra.localDataCenter', kind: 'string' },
  CASSANDRA_KEYSPACE: { path: 'storage.cassandra.keyspace', kind: 'string' },
  CASSANDRA_READ_CONSISTENCY: { path: 'storage.cassandra.readConsistency', kind: 'string' },
  CASSANDRA_WRITE_CONSISTENCY: { path: 'storage.cassandra.writeConsistency', kind: 'string' },
  CALIOPEN_SEARCH: { path: 'search.engine', kind: 'string' },
  ELASTICSEARCH_URL: { path: 'search.elasticsearchUrl', kind: 'string' },
  OPENSEARCH_URL: { path: 'search.opensearchUrl', kind: 'string' },
  CALIOPEN_QUEUE: { path: 'queue.engine', kind: 'string' },
  REDIS_URL: { path: 'queue.redisUrl', kind: 'string' },
  CALIOPEN_SESSION_TTL_SECONDS: { path: 'auth.sessionTtlSeconds', kind: 'integer' },
  CALIOPEN_LOGIN_RATE_LIMIT: { path: 'auth.loginRateLimitPerMinute', kind: 'integer' },
  CALIOPEN_DEFAULT_QUOTA_BYTES: { path: 'accounts.defaultQuotaBytes', kind: 'integer' },
  CALIOPEN_ACCOUNT_DELETION_GRACE_SECONDS: { path: 'accounts.deletionGraceSeconds', kind: 'integer' },
  CALIOPEN_LOG_LEVEL: { path: 'log.level', kind: 'string' },
  CALIOPEN_SMTP_ENABLED: { path: 'smtp.enabled', kind: 'boolean' },
  CALIOPEN_SMTP_HOST: { path: 'smtp.host', kind: 'string' },
  CALIOPEN_SMTP_PORT: { path: 'smtp.port', kind: 'integer' },
  CALIOPEN_SMTP_MAX_MESSAGE_BYTES: { path: 'smtp.maxMessageBytes', kind: 'integer' },
  CALIOPEN_SMTP_MAX_CONNECTIONS: { path: 'smtp.maxConnections', kind: 'integer' },
  CALIOPEN_SMTP_MAX_CONNECTIONS_PER_IP: { path: 'smtp.maxConnectionsPerIp', kind: 'integer' },
  CALIOPEN_SMTP_MESSAGES_PER_MINUTE_PER_IP: { path: 'smtp.messagesPerMinutePerIp', kind: 'integer' },
  CALIOPEN_SMTP_DNS_SERVERS: { path: 'smtp.dnsServers', kind: 'list' },
  CALIOPEN_SUBMISSION_ENABLED: { path: 'submission.enabled', kind: 'boolean' },
  CALIOPEN_SUBMISSION_HOST: { path: 'submission.host', kind: 'string' },
  CALIOPEN_SUBMISSION_PORT: { path: 'submission.port', kind: 'integer' },
  CALIOPEN_SUBMISSION_TLS_PORT: { path: 'submission.tlsPort', kind: 'integer' },
  CALIOPEN_SUBMISSION_MAX_MESSAGE_BYTES: { path: 'submission.maxMessageBytes', kind: 'integer' },
  CALIOPEN_SUBMISSION_MAX_CONNECTIONS_PER_IP: { path: 'submission.maxConnectionsPerIp', kind: 'integer' },
  CALIOPEN_SUBMISSION_MESSAGES_PER_HOUR: { path: 'submission.messagesPerHourPerAccount', kind: 'integer' },
  CALIOPEN_SUBMISSION_AUTH_FAILURES_PER_IP: { path: 'submission.authFailuresPerIp', kind: 'integer' },
  CALIOPEN_SUBMISSION_AUTH_FAILURES_PER_ACCOUNT: { path: 'submission.authFailuresPerAccount', kind: 'integer' },
  CALIOPEN_DNS_ENABLED: { path: 'dns.enabled', kind: 'boolean' },
  CALIOPEN_DNS_HOST: { path: 'dns.host', kind: 'string' },
  CALIOPEN_DNS_PORT: { path: 'dns.port', kind: 'integer' },
  CALIOPEN_DNS_ADDRESSES: { path: 'dns.addresses', kind: 'list' },
  CALIOPEN_DNS_RESOLVERS: { path: 'dns.resolvers', kind: 'list' },
  CALIOPEN_DNS_TRUST_AD: { path: 'dns.trustAd', kind: 'boolean' },
  CALIOPEN_INGEST_WORKER_THREADS: { path: 'ingest.workerThreads', kind: 'integer' },
  CALIOPEN_INGEST_WORKER_IDLE_SECONDS: { path: 'ingest.workerIdleSeconds', kind: 'integer' },
  CALIOPEN_IMPORT_RESYNC_MINUTES: { path: 'imports.resyncMinutes', kind: 'integer' },
  CALIOPEN_IMPORT_ALLOW_PRIVATE_HOSTS: { path: 'imports.allowPrivateHosts', kind: 'boolean' },
  CALIOPEN_IMPORT_CA_FILE: { path: 'imports.caFile', kind: 'string' },
  CALIOPEN_IMPORT_MAX_MESSAGE_BYTES: { path: 'imports.maxMessageBytes', kind: 'integer' },
  CALIOPEN_IMPORT_CONCURRENCY: { path: 'imports.concurrency', kind: 'integer' },
  CALIOPEN_ACME_ENABLED: { path: 'acme.enabled', kind: 'boolean' },
  CALIOPEN_ACME_DIRECTORY_URL: { path: 'acme.directoryUrl', kind: 'string' },
  CALIOPEN_ACME_EMAIL: { path: 'acme.email', kind: 'string' },
  CALIOPEN_ACME_CA_FILE: { path: 'acme.caFile', kind: 'string' },
  CALIOPEN_ACME_CHECK_SECONDS: { path: 'acme.checkSeconds', kind: 'integer' },
  CALIOPEN_ACME_RETRY_ATTEMPTS: { path: 'acme.retry.attempts', kind: 'integer' },
  CALIOPEN_ACME_RETRY_BASE_DELAY_MS: { path: 'acme.retry.baseDelayMs', kind: 'integer' },
  CALIOPEN_ACME_RETRY_MAX_DELAY_MS: { path: 'acme.retry.maxDelayMs', kind: 'integer' },
  CALIOPEN_SMARTHOST_HOST: { path: 'outbound.smarthost.host', kind: 'string' },
  CALIOPEN_SMARTHOST_PORT: { path: 'outbound.smarthost.port', kind: 'integer' },
  CALIOPEN_SMARTHOST_REQUIRE_TLS: { path: 'outbound.smarthost.requireTls', kind: 'boolean' },
  CALIOPEN_OUTBOUND_TLS_POLICY: { path: 'outbound.tlsPolicy', kind: 'string' },
  CALIOPEN_OUTBOUND_RETRY_ATTEMPTS: { path: 'outbound.retry.attempts', kind: 'integer' },
  CALIOPEN_OUTBOUND_RETRY_MAX_DELAY_MS: { path: 'outbound.retry.maxDelayMs', kind: 'integer' },
  CALIOPEN_OUTBOUND_RETRY_BASE_DELAY_MS: { path: 'outbound.retry.baseDelayMs', kind: 'integer' },
  CALIOPEN_OUTBOUND_MX_OVERRIDE: { path: 'outbound.mxOverride', kind: 'list' },
  CALIOPEN_OUTBOUND_MAX_RECIPIENTS: { path: 'outbound.maxRecipients', kind: 'integer' },
  CALIOPEN_OUTBOUND_MAX_ATTACHMENT_BYTES: { path: 'outbound.maxAttachmentBytes', kind: 'integer' },
  CALIOPEN_OUTBOUND_CONCURRENCY: { path: 'outbound.concurrency', kind: 'integer' },
  CALIOPEN_REMOTE_IMAGES_MAX_BYTES: { path: 'remoteImages.maxBytes', kind: 'integer' },
  CALIOPEN_REMOTE_IMAGES_TIMEOUT_MS: { path: 'remoteImages.timeoutMs', kind: 'integer' },
  CALIOPEN_REMOTE_IMAGES_ALLOW_ADDRESSES: { path: 'remoteImages.allowAddresses', kind: 'list' },
  CALIOPEN_FEDERATION_REGISTRY_URL: { path: 'federation.registryUrl', kind: 'string' },
  CALIOPEN_FEDERATION_REGISTRY_KEYS: { path: 'federation.registryKeys', kind: 'string' },
  CALIOPEN_FEDERATION_SYNC_SECONDS: { path: 'federation.syncSeconds', kind: 'integer' },
  CALIOPEN_FEDERATION_EMAIL_FALLBACK: { path: 'federation.emailFallback', kind: 'boolean' },
  CALIOPEN_FEDERATION_RECIPIENT_CHECK: { path: 'federation.recipientCheck', kind: 'boolean' },
  CALIOPEN_RSPAMD_URL: { path: 'spam.rspamdUrl', kind: 'string' },
  CALIOPEN_RSPAMD_CONTROLLER_URL: { path: 'spam.controllerUrl', kind: 'string' },
  CALIOPEN_SPAM_JUNK_SCORE: { path: 'spam.junkScore', kind: 'number' },
  CALIOPEN_SPAM_REJECT_SCORE: { path: 'spam.rejectScore', kind: 'number' },
  CALIOPEN_SPAM_TIMEOUT_MS: { path: 'spam.timeoutMs', kind: 'integer' },
  CALIOPEN_SPAM_RECHECK_DELAY_MS: { path: 'spam.recheckDelayMs', kind: 'integer' },
  CALIOPEN_SPAM_RECHECK_ATTEMPTS: { path: 'spam.recheckAttempts', kind: 'integer' },
};
