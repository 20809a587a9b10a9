import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'cassandra-driver';
import { CassandraAccountRepository } from '../accounts/account.repository.cassandra.ts';
import { CassandraContactRepository } from '../contacts/contact.repository.cassandra.ts';
import { CassandraConversationRepository } from '../conversations/conversation.repository.cassandra.ts';
import { CassandraDeviceRepository } from '../devices/device.repository.cassandra.ts';
import { CassandraRemoteIdentityRepository } from '../identities/remote-identity.repository.cassandra.ts';
import { CassandraAccountKeyRepository } from '../keys/account-key.repository.cassandra.ts';
import { CassandraCorrespondentKeyRepository } from '../keys/public-key.repository.cassandra.ts';
import { CassandraCorrespondenceRepository } from '../messages/correspondence.repository.cassandra.ts';
import { CassandraMessageRepository } from '../messages/message.repository.cassandra.ts';
import { CassandraSessionRepository } from '../sessions/session.repository.cassandra.ts';
import { CassandraContext, type CassandraOptions } from '../database/context.cassandra.ts';
import {
  assertKeyspaceName,
  bootstrapStatements,
  CASSANDRA_MIGRATIONS,
  CASSANDRA_SCHEMA_VERSION,
  createKeyspaceCql,
  defaultReplication,
  TABLES,
} from '../database/cassandra.schema.ts';
import type { Storage } from './storage.port.ts';

export {
  type CassandraOptions,
  CassandraContext,
  type ClaimOutcome,
  type ConsistencyName,
  type Row,
  type SerialConsistencyName,
  type Statement,
  UniqueClaims,
} from '../database/context.cassandra.ts';

const MIGRATION_COMPONENT = 'instance';
const LOCK_TTL_SECONDS = 600;

/**
 * The distributed store: every domain table in one Cassandra keyspace (cassandra.schema.ts). Chosen by
 * configuration when the instance runs on more than one machine; passes storage.conformance.ts.
 */
export class CassandraStorage implements Storage {
  readonly engine = 'cassandra' as const;
  readonly client: Client;
  readonly context: CassandraContext;
  readonly accounts;
  readonly devices;
  readonly sessions;
  readonly messages;
  readonly conversations;
  readonly contacts;
  readonly remoteIdentities;
  readonly keys;
  readonly accountKeys;
  readonly correspondence;
  private readonly options: CassandraOptions;

  private constructor(client: Client, options: CassandraOptions) {
    this.client = client;
    this.options = options;
    this.context = new CassandraContext(client, options.keyspace, options.consistency);
    this.accounts = new CassandraAccountRepository(this.context);
    this.devices = new CassandraDeviceRepository(this.context);
    this.sessions = new CassandraSessionRepository(this.context);
    this.messages = new CassandraMessageRepository(this.context);
    this.conversations = new CassandraConversationRepository(this.context);
    this.contacts = new CassandraContactRepository(this.context);
    this.remoteIdentities = new CassandraRemoteIdentityRepository(this.context);
    this.keys = new CassandraCorrespondentKeyRepository(this.context);
    this.accountKeys = new CassandraAccountKeyRepository(this.context);
    this.correspondence = new CassandraCorrespondenceRepository(this.context);
  }

  /**
   * Connects to the cluster. The keyspace need not exist yet: statements name it explicitly, and migrate()
   * creates it. Call migrate() before the first use of a new keyspace.
   */
  static async connect(options: CassandraOptions): Promise<CassandraStorage> {
    assertKeyspaceName(options.keyspace);
    if (options.contactPoints.length === 0) throw new Error('Cassandra needs at least one contact point.');
    const client = new Client({
      contactPoints: options.contactPoints,
      localDataCenter: options.localDataCenter,
      ...(options.username !== undefined
        ? { credentials: { username: options.username, password: options.password ?? '' } }
        : {}),
      queryOptions: { prepare: true },
    });
    try {
      await client.connect();
    } catch (err) {
      await client.shutdown().catch(() => undefined);
      throw new Error(
        `Cannot connect to Cassandra at ${options.contactPoints.join(', ')} (data center ${options.localDataCenter}): ${(err as Error).message}`,
        { cause: err },
      );
    }
    return new CassandraStorage(client, options);
  }

  /**
   * Creates the keyspace when missing, then applies pending migrations under a cluster-wide lock. Idempotent;
   * resolves the schema version. Refuses a keyspace whose schema is newer than this code.
   */
  async migrate(): Promise<number> {
    const ks = this.context.keyspace;
    // Schema statements run only when something is missing: even with IF NOT EXISTS they need CREATE permission,
    // which the application's role need not have once an operator has set the keyspace up.
    if (!(await this.schemaHas())) {
      const replication =
        this.options.replication ?? defaultReplication(this.options.localDataCenter, this.nodesInLocalDataCenter());
      await this.ddl(createKeyspaceCql(ks, replication));
    }
    if (!(await this.schemaHas(TABLES.schemaMigrations)) || !(await this.schemaHas(TABLES.schemaLock))) {
      for (const cql of bootstrapStatements(ks)) await this.ddl(cql);
    }

    let applied = await this.appliedVersions();
    this.refuseNewer(applied);
    if (CASSANDRA_MIGRATIONS.every((m) => applied.has(m.version))) return CASSANDRA_SCHEMA_VERSION;

    const owner = randomUUID();
    await this.lock(owner);
    try {
      applied = await this.appliedVersions();
      this.refuseNewer(applied);
      for (const m of [...CASSANDRA_MIGRATIONS].sort((a, b) => a.version - b.version)) {
        if (applied.has(m.version)) continue;
        for (const cql of m.statements(ks)) await this.ddl(cql);
        await this.context.write(
          `INSERT INTO ${this.context.table(TABLES.schemaMigrations)} (component, version, name, applied_at) VALUES (?, ?, ?, ?)`,
          [MIGRATION_COMPONENT, m.version, m.name, new Date()],
        );
      }
    } finally {
      await this.context
        .lwt(`DELETE FROM ${this.context.table(TABLES.schemaLock)} WHERE component = ? IF owner = ?`, [
          MIGRATION_COMPONENT,
          owner,
        ])
        .catch(() => undefined);
    }
    return CASSANDRA_SCHEMA_VERSION;
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.context.one('SELECT release_version FROM system.local', [])) !== null;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.client.shutdown();
  }

  /** Schema statements are not prepared; the driver waits for schema agreement after each one. */
  private async ddl(cql: string): Promise<void> {
    await this.client.execute(cql, [], { consistency: this.context.writeConsistency });
  }

  /** Whether the keyspace (or one of its tables) exists, from the schema tables every node holds. */
  private async schemaHas(table?: string): Promise<boolean> {
    const row =
      table === undefined
        ? await this.context.one('SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?', [
            this.context.keyspace,
          ])
        : await this.context.one(
            'SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?',
            [this.context.keyspace, table],
          );
    return row !== null;
  }

  private nodesInLocalDataCenter(): number {
    return this.client.hosts.values().filter((h) => h.datacenter === this.options.localDataCenter).length;
  }

  private async appliedVersions(): Promise<Set<number>> {
    const rows = await this.context.rows(
      `SELECT version FROM ${this.context.table(TABLES.schemaMigrations)} WHERE component = ?`,
      [MIGRATION_COMPONENT],
    );
    return new Set(rows.map((r) => r.get('version') as number));
  }

  private refuseNewer(applied: Set<number>): void {
    const newest = Math.max(0, ...applied);
    if (newest > CASSANDRA_SCHEMA_VERSION) {
      throw new Error(
        `Cassandra keyspace ${this.context.keyspace} has schema version ${newest}, newer than this code (${CASSANDRA_SCHEMA_VERSION}): upgrade the software.`,
      );
    }
  }

  /** Takes the migration lock, waiting up to a minute for another process that holds it. */
  private async lock(owner: string): Promise<void> {
    const cql = `INSERT INTO ${this.context.table(TABLES.schemaLock)} (component, owner, acquired_at) VALUES (?, ?, ?)
      IF NOT EXISTS USING TTL ${LOCK_TTL_SECONDS}`;
    const until = Date.now() + 60_000;
    for (;;) {
      if ((await this.context.lwt(cql, [MIGRATION_COMPONENT, owner, new Date()])).applied) return;
      if (Date.now() > until) {
        throw new Error(
          `Another process has been migrating keyspace ${this.context.keyspace} for over a minute; retry when it is done (the lock expires by itself after ${LOCK_TTL_SECONDS} s).`,
        );
      }
      await sleep(500);
    }
  }
}
