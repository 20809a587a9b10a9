/**
 * What every Caliopen Cassandra schema shares, and the pure helpers a query-first key layout needs: the migration
 * ledger and its lock, keyspace creation, month/day buckets and the newest-first walk over them, uniqueness-claim
 * grace, column decoding. Nothing here talks to a server (cassandra.context.ts and cassandra.migrator.ts do); each
 * product keeps its own tables and migrations (instance/src/storage/cassandra.schema.ts,
 * registry/src/storage/registry-storage.cassandra.schema.ts).
 */

/** One schema version: CQL statements applied in order. Statements must be idempotent (IF NOT EXISTS). */
export interface CqlMigration {
  version: number;
  name: string;
  statements: (keyspace: string) => readonly string[];
}

/** The two tables every keyspace has, whatever components share it: the migration ledger and its lock. */
export const MIGRATION_TABLES = {
  schemaMigrations: 'schema_migrations',
  schemaLock: 'schema_lock',
} as const;

/** The tables every schema version starts from: the migration ledger and its lock. */
export function bootstrapStatements(ks: string): readonly string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${ks}.${MIGRATION_TABLES.schemaMigrations} (
       component  text,
       version    int,
       name       text,
       applied_at timestamp,
       PRIMARY KEY ((component), version)
     )`,
    // Only one process applies migrations at a time: concurrent CREATE TABLE on different coordinators can give
    // one table two ids (schema disagreement). The lock row is taken by LWT and expires by itself (TTL) if its
    // holder dies.
    `CREATE TABLE IF NOT EXISTS ${ks}.${MIGRATION_TABLES.schemaLock} (
       component   text PRIMARY KEY,
       owner       text,
       acquired_at timestamp
     )`,
  ];
}

// --- keyspace -------------------------------------------------------------------------------------------------

export type CassandraReplication =
  | { class: 'SimpleStrategy'; replicationFactor: number }
  | { class: 'NetworkTopologyStrategy'; dataCenters: Record<string, number> };

const KEYSPACE_NAME = /^[a-z][a-z0-9_]{0,47}$/;

/** Keyspace names are interpolated into CQL (they cannot be bound): only plain lowercase identifiers pass. */
export function assertKeyspaceName(name: string): string {
  if (!KEYSPACE_NAME.test(name)) {
    throw new Error(
      `Invalid Cassandra keyspace name ${JSON.stringify(name)}: use 1–48 lowercase letters, digits or '_', starting with a letter.`,
    );
  }
  return name;
}

/**
 * Replication used when the keyspace does not exist yet and none was configured: NetworkTopologyStrategy on the
 * local data center, three replicas, or fewer when the cluster has fewer nodes there (a single test node).
 */
export function defaultReplication(localDataCenter: string, nodesInLocalDataCenter: number): CassandraReplication {
  return {
    class: 'NetworkTopologyStrategy',
    dataCenters: { [localDataCenter]: Math.max(1, Math.min(3, nodesInLocalDataCenter)) },
  };
}

const cqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

function replicationFactor(n: number, where: string): number {
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new Error(`Invalid replication factor ${n} for ${where}.`);
  return n;
}

/** The replication map of CREATE KEYSPACE, validated. */
export function replicationCql(r: CassandraReplication): string {
  if (r.class === 'SimpleStrategy') {
    return `{'class': 'SimpleStrategy', 'replication_factor': ${replicationFactor(r.replicationFactor, 'SimpleStrategy')}}`;
  }
  const dcs = Object.entries(r.dataCenters);
  if (dcs.length === 0) throw new Error('NetworkTopologyStrategy needs at least one data center.');
  const parts = dcs.map(([dc, n]) => `${cqlString(dc)}: ${replicationFactor(n, `data center ${dc}`)}`);
  return `{'class': 'NetworkTopologyStrategy', ${parts.join(', ')}}`;
}

export function createKeyspaceCql(keyspace: string, replication: CassandraReplication): string {
  return `CREATE KEYSPACE IF NOT EXISTS ${assertKeyspaceName(keyspace)} WITH replication = ${replicationCql(replication)} AND durable_writes = true`;
}

// --- time buckets and the walk over them --------------------------------------------------------------------

/** A listing key: a time and an id, ordered (at desc, id desc). Same shape as the instance's TimeCursor (paging). */
export interface TimeKey {
  at: Date;
  id: string;
}

/** The month bucket of a time, in UTC, as yyyymm (2026-01-15 -> 202601). */
export function monthBucket(d: Date): number {
  return d.getUTCFullYear() * 100 + d.getUTCMonth() + 1;
}

/** The day bucket of a time, in UTC, as yyyymmdd (2026-01-15 -> 20260115). */
export function dayBucket(d: Date): number {
  return monthBucket(d) * 100 + d.getUTCDate();
}

/** The buckets a newest-first walk visits: known buckets at or before the cursor's, newest first, each once. */
export function monthsToVisit(months: readonly number[], before?: TimeKey): number[] {
  const last = before ? monthBucket(before.at) : Number.POSITIVE_INFINITY;
  return [...new Set(months)].filter((m) => m <= last).sort((a, b) => b - a);
}

/** true when `a` comes before `b` in (at desc, id desc) order. */
export function newerThan(a: TimeKey, b: TimeKey): boolean {
  const ta = a.at.getTime();
  const tb = b.at.getTime();
  return ta > tb || (ta === tb && a.id > b.id);
}

export interface BucketWalk<T> {
  /** Buckets that may hold keys (any order, repeats allowed). */
  months: readonly number[];
  /** Only keys strictly older than this. */
  before?: TimeKey | undefined;
  limit: number;
  /** Up to `limit` keys of one bucket, newest first, strictly older than `before` when given. */
  fetch: (month: number, before: TimeKey | undefined, limit: number) => Promise<TimeKey[]>;
  /** The items of these keys, in the same order; null for a key whose item no longer matches it (stale row). */
  hydrate: (keys: TimeKey[]) => Promise<(T | null)[]>;
}

/**
 * Keyset paging over month-bucketed index partitions: visits the buckets newest first, reads keys strictly older
 * than the cursor, drops stale ones and keeps reading until `limit` items are found or the buckets run out. Each
 * query reads one partition and at most `limit` rows.
 */
export async function collectNewestFirst<T>(walk: BucketWalk<T>): Promise<T[]> {
  const out: T[] = [];
  if (walk.limit <= 0) return out;
  for (const month of monthsToVisit(walk.months, walk.before)) {
    let cursor = walk.before;
    for (;;) {
      const need = walk.limit - out.length;
      const keys = await walk.fetch(month, cursor, need);
      if (keys.length === 0) break;
      for (const item of await walk.hydrate(keys)) {
        if (item !== null) out.push(item);
      }
      if (out.length >= walk.limit) return out.slice(0, walk.limit);
      if (keys.length < need) break;
      cursor = keys.at(-1);
    }
  }
  return out;
}

// --- claims ----------------------------------------------------------------------------------------------------

/**
 * A uniqueness claim (username, identity, conversation key, dedupe key) whose owner row never appeared is
 * considered abandoned (its writer died between the claim and the write) after this long, and may be taken over.
 * Long enough that no live writer is still between its two steps.
 */
export const CLAIM_GRACE_MS = 2 * 60 * 1000;

/** true when a claim made at `claimedAt` may be taken over at `now` (its owner row is missing). */
export function claimAbandoned(claimedAt: Date | null, now: Date): boolean {
  return claimedAt === null || now.getTime() - claimedAt.getTime() >= CLAIM_GRACE_MS;
}

// --- column decoding ------------------------------------------------------------------------------------------

/** Decodes bigint/counter/int columns (the driver gives Long for 64-bit values) to a JS number. */
export function toNumber(v: unknown, fallback = 0): number {
  if (v === null || v === undefined) return fallback;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'object' && typeof (v as { toNumber?: unknown }).toNumber === 'function') {
    return (v as { toNumber: () => number }).toNumber();
  }
  throw new TypeError(`Not a number column value: ${String(v)}`);
}

/** Nullable text columns: the driver gives null for a null cell and undefined for an absent column. */
export const textOrNull = (v: unknown): string | null => (typeof v === 'string' ? v : null);
export const dateOrNull = (v: unknown): Date | null => (v instanceof Date ? v : null);

/** Frozen lists come back as arrays, or null when empty or absent. */
export const listOf = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);
