import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, types } from 'cassandra-driver';
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
import { AppError } from '../shared/errors.ts';
import {
  assertKeyspaceName,
  bootstrapStatements,
  CASSANDRA_MIGRATIONS,
  CASSANDRA_SCHEMA_VERSION,
  type CassandraReplication,
  claimAbandoned,
  createKeyspaceCql,
  dateOrNull,
  defaultReplication,
  TABLES,
  textOrNull,
} from './cassandra.schema.ts';
import type { Storage } from './storage.port.ts';

export type ConsistencyName = 'ONE' | 'LOCAL_ONE' | 'TWO' | 'THREE' | 'QUORUM' | 'LOCAL_QUORUM' | 'EACH_QUORUM' | 'ALL';
export type SerialConsistencyName = 'SERIAL' | 'LOCAL_SERIAL';

const CONSISTENCIES: Record<ConsistencyName | SerialConsistencyName, types.consistencies> = {
  ONE: types.consistencies.one,
  LOCAL_ONE: types.consistencies.localOne,
  TWO: types.consistencies.two,
  THREE: types.consistencies.three,
  QUORUM: types.consistencies.quorum,
  LOCAL_QUORUM: types.consistencies.localQuorum,
  EACH_QUORUM: types.consistencies.eachQuorum,
  ALL: types.consistencies.all,
  SERIAL: types.consistencies.serial,
  LOCAL_SERIAL: types.consistencies.localSerial,
};

export interface CassandraOptions {
  contactPoints: string[];
  localDataCenter: string;
  keyspace: string;
  /** Used only when migrate() creates the keyspace. Default: NetworkTopologyStrategy, min(3, local nodes) replicas. */
  replication?: CassandraReplication;
  username?: string;
  password?: string;
  /** Default LOCAL_QUORUM reads and writes (read-your-writes within the data center), LOCAL_SERIAL for LWT. */
  consistency?: { read?: ConsistencyName; write?: ConsistencyName; serial?: SerialConsistencyName };
}

type Params = unknown[];
export type Row = types.Row;
export interface Statement {
  query: string;
  params: Params;
}

/** The outcome of claiming a unique key; `current` is the owner's item when it could be read. */
export type ClaimOutcome<T> = { won: true } | { won: false; owner: string; current: T | null };

/**
 * What the repositories share: the client, the keyspace and the consistency levels. Every statement is prepared
 * (`prepare: true`); reads and plain writes are marked idempotent so the driver may retry or speculate them;
 * LWT and counter updates are not.
 */
export class CassandraContext {
  readonly client: Client;
  readonly keyspace: string;
  readonly readConsistency: types.consistencies;
  readonly writeConsistency: types.consistencies;
  readonly serialConsistency: types.consistencies;

  constructor(client: Client, keyspace: string, consistency: CassandraOptions['consistency'] = {}) {
    this.client = client;
    this.keyspace = assertKeyspaceName(keyspace);
    this.readConsistency = CONSISTENCIES[consistency.read ?? 'LOCAL_QUORUM'];
    this.writeConsistency = CONSISTENCIES[consistency.write ?? 'LOCAL_QUORUM'];
    this.serialConsistency = CONSISTENCIES[consistency.serial ?? 'LOCAL_SERIAL'];
  }

  /** Keyspace-qualified table name: statements never depend on a session keyspace. */
  table(name: string): string {
    return `${this.keyspace}.${name}`;
  }

  /** Every row of the result (following the driver's pages). */
  async rows(query: string, params: Params): Promise<Row[]> {
    const rs = await this.client.execute(query, params, {
      prepare: true,
      consistency: this.readConsistency,
      isIdempotent: true,
    });
    const out: Row[] = [];
    for await (const row of rs) out.push(row);
    return out;
  }

  async one(query: string, params: Params): Promise<Row | null> {
    const rs = await this.client.execute(query, params, {
      prepare: true,
      consistency: this.readConsistency,
      isIdempotent: true,
    });
    return rs.first() ?? null;
  }

  /** A read at serial consistency: sees (and completes) any in-progress LWT on the partition. */
  async serialOne(query: string, params: Params): Promise<Row | null> {
    const rs = await this.client.execute(query, params, {
      prepare: true,
      consistency: this.serialConsistency,
      isIdempotent: true,
    });
    return rs.first() ?? null;
  }

  /** A plain write; pass `idempotent: false` for counter updates (a retry would count twice). */
  async write(query: string, params: Params, options: { idempotent?: boolean } = {}): Promise<void> {
    await this.client.execute(query, params, {
      prepare: true,
      consistency: this.writeConsistency,
      isIdempotent: options.idempotent ?? true,
    });
  }

  /**
   * A logged batch: the denormalised rows of one logical write (a row and its index rows, in several partitions)
   * are all applied or none. Never used to group unrelated writes for throughput.
   */
  async loggedBatch(statements: Statement[]): Promise<void> {
    if (statements.length === 0) return;
    await this.client.batch(statements, {
      prepare: true,
      logged: true,
      consistency: this.writeConsistency,
      isIdempotent: true,
    });
  }

  /** An unlogged batch confined to one partition: atomic and isolated there, without the batch log. */
  async partitionBatch(statements: Statement[]): Promise<void> {
    await this.client.batch(statements, {
      prepare: true,
      logged: false,
      consistency: this.writeConsistency,
      isIdempotent: true,
    });
  }

  /** A lightweight transaction; resolves whether it applied and the row Cassandra returned (current values). */
  async lwt(query: string, params: Params): Promise<{ applied: boolean; row: Row | null }> {
    const rs = await this.client.execute(query, params, {
      prepare: true,
      consistency: this.writeConsistency,
      serialConsistency: this.serialConsistency,
      isIdempotent: false,
    });
    return { applied: rs.wasApplied(), row: rs.first() ?? null };
  }

  claims(table: string, keyColumns: readonly string[], ownerColumn: string): UniqueClaims {
    return new UniqueClaims(this, table, keyColumns, ownerColumn);
  }
}

/**
 * A table whose rows reserve a unique key for an owner id (`key -> owner, claimed_at`). Every write to it is an
 * LWT. A claim is made before the owner's row is written; a claim whose owner row never appeared (its writer
 * died) is taken over once older than CLAIM_GRACE_MS.
 */
export class UniqueClaims {
  private readonly ctx: CassandraContext;
  private readonly ownerColumn: string;
  private readonly insertCql: string;
  private readonly takeoverCql: string;
  private readonly releaseCql: string;
  private readonly readCql: string;

  constructor(ctx: CassandraContext, table: string, keyColumns: readonly string[], ownerColumn: string) {
    this.ctx = ctx;
    this.ownerColumn = ownerColumn;
    const t = ctx.table(table);
    const where = keyColumns.map((c) => `${c} = ?`).join(' AND ');
    this.insertCql = `INSERT INTO ${t} (${[...keyColumns, ownerColumn, 'claimed_at'].join(', ')})
      VALUES (${[...keyColumns, ownerColumn, 'claimed_at'].map(() => '?').join(', ')}) IF NOT EXISTS`;
    this.takeoverCql = `UPDATE ${t} SET ${ownerColumn} = ?, claimed_at = ? WHERE ${where} IF ${ownerColumn} = ?`;
    this.releaseCql = `DELETE FROM ${t} WHERE ${where} IF ${ownerColumn} = ?`;
    this.readCql = `SELECT ${ownerColumn} FROM ${t} WHERE ${where}`;
  }

  /** The current owner of the key (a plain read: committed claims are visible at the read consistency). */
  async owner(key: Params): Promise<string | null> {
    const row = await this.ctx.one(this.readCql, key);
    return row ? textOrNull(row.get(this.ownerColumn)) : null;
  }

  /**
   * Claims `key` for `owner`. Already ours (a retried call) counts as won. When another owner holds it, `load`
   * reads that owner's item: present means lost; absent means its writer is still between claim and write (then
   * lost with `current: null`, or, with `waitForOwner`, wait for the item to appear) or died (an abandoned claim,
   * taken over).
   */
  async acquire<T>(
    key: Params,
    owner: string,
    load: (owner: string) => Promise<T | null>,
    options: { waitForOwner?: boolean } = {},
  ): Promise<ClaimOutcome<T>> {
    for (let attempt = 0; attempt < 5; attempt++) {
      // A refused IF NOT EXISTS returns the whole existing row: its owner and when it was claimed.
      const claim = await this.ctx.lwt(this.insertCql, [...key, owner, new Date()]);
      if (claim.applied) return { won: true };
      const holder = claim.row ? textOrNull(claim.row.get(this.ownerColumn)) : null;
      if (holder === null) continue; // released meanwhile: claim it afresh
      if (holder === owner) return { won: true };
      const current = await load(holder);
      if (current !== null) return { won: false, owner: holder, current };
      if (!claimAbandoned(dateOrNull(claim.row?.get('claimed_at')), new Date())) {
        if (!options.waitForOwner) return { won: false, owner: holder, current: null };
        const appeared = await this.waitFor(holder, load);
        if (appeared !== null) return { won: false, owner: holder, current: appeared };
        throw new AppError('conflict', 'A concurrent write of the same item has not completed yet; retry shortly.');
      }
      if ((await this.ctx.lwt(this.takeoverCql, [owner, new Date(), ...key, holder])).applied) return { won: true };
      // Someone else moved the claim first: look again.
    }
    throw new AppError('conflict', 'The unique key kept changing hands; retry shortly.');
  }

  /** Gives the key up, only if `owner` still holds it. */
  async release(key: Params, owner: string): Promise<boolean> {
    return (await this.ctx.lwt(this.releaseCql, [...key, owner])).applied;
  }

  /** Polls for the holder's item for a few seconds (a writer between its claim and its write takes milliseconds). */
  private async waitFor<T>(holder: string, load: (owner: string) => Promise<T | null>): Promise<T | null> {
    for (let delay = 25; delay <= 1600; delay *= 2) {
      await sleep(delay);
      const current = await load(holder);
      if (current !== null) return current;
    }
    return null;
  }
}

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
