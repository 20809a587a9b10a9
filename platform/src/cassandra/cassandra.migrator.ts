import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from 'cassandra-driver';
import type { CassandraContext, CassandraOptions } from './cassandra.context.ts';
import {
  bootstrapStatements,
  type CqlMigration,
  createKeyspaceCql,
  defaultReplication,
  MIGRATION_TABLES,
} from './cassandra.schema.ts';

const LOCK_TTL_SECONDS = 600;

/** One component's schema (the instance's, the registry's): its name in the ledger and its migrations. */
export interface KeyspaceSchema {
  /** The ledger and lock rows of this component (several components may share a keyspace). */
  component: string;
  migrations: readonly CqlMigration[];
}

/**
 * Creates the keyspace when missing, then applies the component's pending migrations under a cluster-wide lock.
 * Idempotent; resolves the schema version. Refuses a keyspace whose schema is newer than this code.
 */
export async function migrateKeyspace(
  client: Client,
  context: CassandraContext,
  options: Pick<CassandraOptions, 'localDataCenter' | 'replication'>,
  schema: KeyspaceSchema,
): Promise<number> {
  const ks = context.keyspace;
  const { component } = schema;
  const migrations = [...schema.migrations].sort((a, b) => a.version - b.version);
  const version = Math.max(0, ...migrations.map((m) => m.version));

  /** Schema statements are not prepared; the driver waits for schema agreement after each one. */
  const ddl = async (cql: string) => {
    await client.execute(cql, [], { consistency: context.writeConsistency });
  };
  /** Whether the keyspace (or one of its tables) exists, from the schema tables every node holds. */
  const schemaHas = async (table?: string) =>
    (table === undefined
      ? await context.one('SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?', [ks])
      : await context.one('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?', [
          ks,
          table,
        ])) !== null;
  const appliedVersions = async () =>
    new Set(
      (
        await context.rows(
          `SELECT version FROM ${context.table(MIGRATION_TABLES.schemaMigrations)} WHERE component = ?`,
          [component],
        )
      ).map((r) => r.get('version') as number),
    );
  const refuseNewer = (applied: Set<number>) => {
    const newest = Math.max(0, ...applied);
    if (newest > version) {
      throw new Error(
        `Cassandra keyspace ${ks} has ${component} schema version ${newest}, newer than this code (${version}): upgrade the software.`,
      );
    }
  };

  // Schema statements run only when something is missing: even with IF NOT EXISTS they need CREATE permission,
  // which the application's role need not have once an operator has set the keyspace up.
  if (!(await schemaHas())) {
    const nodesHere = client.hosts.values().filter((h) => h.datacenter === options.localDataCenter).length;
    await ddl(createKeyspaceCql(ks, options.replication ?? defaultReplication(options.localDataCenter, nodesHere)));
  }
  if (!(await schemaHas(MIGRATION_TABLES.schemaMigrations)) || !(await schemaHas(MIGRATION_TABLES.schemaLock))) {
    for (const cql of bootstrapStatements(ks)) await ddl(cql);
  }

  let applied = await appliedVersions();
  refuseNewer(applied);
  if (migrations.every((m) => applied.has(m.version))) return version;

  const owner = randomUUID();
  await lock(context, component, owner);
  try {
    applied = await appliedVersions();
    refuseNewer(applied);
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      for (const cql of m.statements(ks)) await ddl(cql);
      await context.write(
        `INSERT INTO ${context.table(MIGRATION_TABLES.schemaMigrations)} (component, version, name, applied_at) VALUES (?, ?, ?, ?)`,
        [component, m.version, m.name, new Date()],
      );
    }
  } finally {
    await context
      .lwt(`DELETE FROM ${context.table(MIGRATION_TABLES.schemaLock)} WHERE component = ? IF owner = ?`, [
        component,
        owner,
      ])
      .catch(() => undefined);
  }
  return version;
}

/** Takes the component's migration lock, waiting up to a minute for another process that holds it. */
async function lock(context: CassandraContext, component: string, owner: string): Promise<void> {
  const cql = `INSERT INTO ${context.table(MIGRATION_TABLES.schemaLock)} (component, owner, acquired_at) VALUES (?, ?, ?)
      IF NOT EXISTS USING TTL ${LOCK_TTL_SECONDS}`;
  const until = Date.now() + 60_000;
  for (;;) {
    if ((await context.lwt(cql, [component, owner, new Date()])).applied) return;
    if (Date.now() > until) {
      throw new Error(
        `Another process has been migrating keyspace ${context.keyspace} for over a minute; retry when it is done (the lock expires by itself after ${LOCK_TTL_SECONDS} s).`,
      );
    }
    await sleep(500);
  }
}
