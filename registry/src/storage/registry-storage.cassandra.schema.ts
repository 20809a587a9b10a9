import type { CqlMigration } from '@caliopen/platform/cassandra/cassandra.schema.ts';

/**
 * The Cassandra schema of the registry store (query-first: one table per query; see docs/registry.md):
 * - per-domain data is partitioned by domain (applications_by_domain, labels_by_domain, audit_events_by_domain);
 * - listings that cross domains are bucketed: applications by (status, month), audit events by month (with a small
 *   table of the months that exist), members by a hash bucket of the domain (64 buckets), log entries by chunks of
 *   4096 indices, feed changes by blocks of 1000 serials, feed envelopes in 1 MiB chunks (a 10,000-member feed is
 *   ~18 MB, far above what one cell should hold);
 * - lightweight transactions only where uniqueness or order demands it: a declaration nonce, the one pending
 *   application of a domain, an auditor name, each log index (an index is owned by the first writer), and the
 *   feed's latest serial. Those cells are never written without LWT.
 */
export const REGISTRY_TABLES = {
  applicationsById: 'applications_by_id',
  applicationsByToken: 'applications_by_token',
  applicationsByDomain: 'applications_by_domain',
  applicationsByStatus: 'applications_by_status',
  applicationStatusMonths: 'application_status_months',
  applicationNonces: 'application_nonces',
  pendingApplicationByDomain: 'pending_application_by_domain',
  checkRunsByApplication: 'check_runs_by_application',
  auditorsById: 'auditors_by_id',
  auditorsByName: 'auditors_by_name',
  auditorSessionsByToken: 'auditor_sessions_by_token',
  auditorSessionsById: 'auditor_sessions_by_id',
  votesByApplication: 'votes_by_application',
  auditEventsByDomain: 'audit_events_by_domain',
  auditEventsByMonth: 'audit_events_by_month',
  auditEventMonths: 'audit_event_months',
  labelsById: 'labels_by_id',
  labelsByDomain: 'labels_by_domain',
  membersByBucket: 'members_by_bucket',
  logEntries: 'log_entries',
  logHead: 'log_head',
  logCheckpoints: 'log_checkpoints',
  feedPublications: 'feed_publications',
  feedEnvelopeChunks: 'feed_envelope_chunks',
  feedLatest: 'feed_latest',
  feedChanges: 'feed_changes',
  registryKeys: 'registry_keys',
  registryKeyStatements: 'registry_key_statements',
} as const;

export const MEMBER_BUCKETS = 64;
export const LOG_CHUNK = 4096;
export const FEED_CHANGE_BLOCK = 1000;
export const ENVELOPE_CHUNK_BYTES = 1024 * 1024;

const T = REGISTRY_TABLES;

export const REGISTRY_CASSANDRA_MIGRATIONS: readonly CqlMigration[] = [
  {
    version: 1,
    name: 'registry: applications, checks, auditors, votes, events, labels, members, log, feed, keys',
    statements: (ks) => [
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.applicationsById} (
         id uuid PRIMARY KEY, domain text, status text, nonce text, token_hash text,
         created_at timestamp, updated_at timestamp, closed_reason text, body text)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.applicationsByToken} (token_hash text PRIMARY KEY, id uuid)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.applicationsByDomain} (
         domain text, created_at timestamp, id uuid, PRIMARY KEY ((domain), created_at, id))`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.applicationsByStatus} (
         status text, month int, created_at timestamp, id uuid,
         PRIMARY KEY ((status, month), created_at, id)) WITH CLUSTERING ORDER BY (created_at DESC, id ASC)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.applicationStatusMonths} (status text, month int, PRIMARY KEY ((status), month))`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.applicationNonces} (nonce text PRIMARY KEY, application_id uuid, claimed_at timestamp)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.pendingApplicationByDomain} (domain text PRIMARY KEY, application_id uuid, claimed_at timestamp)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.checkRunsByApplication} (
         application_id uuid, finished_at timestamp, id uuid, body text,
         PRIMARY KEY ((application_id), finished_at, id)) WITH CLUSTERING ORDER BY (finished_at DESC, id DESC)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.auditorsById} (id uuid PRIMARY KEY, name text, password_hash text, disabled boolean, created_at timestamp)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.auditorsByName} (name text PRIMARY KEY, auditor_id uuid, claimed_at timestamp)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.auditorSessionsByToken} (
         token_hash text PRIMARY KEY, id uuid, auditor_id uuid, created_at timestamp, expires_at timestamp, revoked_at timestamp)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.auditorSessionsById} (id uuid PRIMARY KEY, token_hash text)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.votesByApplication} (
         application_id uuid, auditor_id uuid, auditor_name text, vote text, reason text, cast_at timestamp,
         PRIMARY KEY ((application_id), auditor_id))`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.auditEventsByDomain} (
         domain text, at timestamp, id uuid, body text, PRIMARY KEY ((domain), at, id))`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.auditEventsByMonth} (
         month int, at timestamp, id uuid, body text,
         PRIMARY KEY ((month), at, id)) WITH CLUSTERING ORDER BY (at DESC, id DESC)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.auditEventMonths} (one text, month int, PRIMARY KEY ((one), month))`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.labelsById} (id text PRIMARY KEY, domain text, issued_at timestamp, body text)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.labelsByDomain} (
         domain text, issued_at timestamp, id text, body text,
         PRIMARY KEY ((domain), issued_at, id)) WITH CLUSTERING ORDER BY (issued_at DESC, id DESC)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.membersByBucket} (bucket int, domain text, status text, body text, PRIMARY KEY ((bucket), domain))`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.logEntries} (chunk bigint, idx bigint, leaf_hash blob, entry text, PRIMARY KEY ((chunk), idx))`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.logHead} (one text PRIMARY KEY, size bigint)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.logCheckpoints} (
         one text, tree_size bigint, jws text, ts bigint,
         PRIMARY KEY ((one), tree_size)) WITH CLUSTERING ORDER BY (tree_size DESC)`,
      // A publication is written under its own id before it wins the serial, so two racing publishers never mix chunks.
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.feedPublications} (id uuid PRIMARY KEY, serial bigint, issued_at bigint, digest text, checkpoint text, chunks int)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.feedEnvelopeChunks} (publication_id uuid, chunk int, data blob, PRIMARY KEY ((publication_id), chunk))`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.feedLatest} (one text PRIMARY KEY, serial bigint, publication_id uuid)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.feedChanges} (block bigint, serial bigint, domain text, PRIMARY KEY ((block), serial, domain))`,
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.registryKeys} (
         one text, kid text, public_jwk text, private_sealed text, not_before bigint, not_after bigint, created_at timestamp,
         PRIMARY KEY ((one), kid))`,
    ],
  },
  {
    version: 2,
    name: 'registry key rotation statements',
    statements: (ks) => [
      `CREATE TABLE IF NOT EXISTS ${ks}.${T.registryKeyStatements} (
         one text, sequence bigint, jws text, created_at timestamp, PRIMARY KEY ((one), sequence))`,
    ],
  },
];

export const REGISTRY_CASSANDRA_SCHEMA_VERSION = Math.max(...REGISTRY_CASSANDRA_MIGRATIONS.map((m) => m.version));

/** The member bucket of a domain: FNV-1a of its name, modulo MEMBER_BUCKETS (stable across processes). */
export function memberBucket(domain: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < domain.length; i++) {
    hash ^= domain.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % MEMBER_BUCKETS;
}
