import { setTimeout as sleep } from 'node:timers/promises';
import { Client, types } from 'cassandra-driver';
import {
  assertKeyspaceName,
  type CassandraReplication,
  claimAbandoned,
  dateOrNull,
  textOrNull,
} from './cassandra.schema.ts';

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

  /** Builds the error a uniqueness claim throws when it cannot settle (each product brings its own `conflict`). */
  readonly conflict: (message: string) => Error;

  constructor(
    client: Client,
    keyspace: string,
    consistency: CassandraOptions['consistency'] = {},
    conflict: (message: string) => Error = (message) => new Error(message),
  ) {
    this.client = client;
    this.conflict = conflict;
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
        throw this.ctx.conflict('A concurrent write of the same item has not completed yet; retry shortly.');
      }
      if ((await this.ctx.lwt(this.takeoverCql, [owner, new Date(), ...key, holder])).applied) return { won: true };
      // Someone else moved the claim first: look again.
    }
    throw this.ctx.conflict('The unique key kept changing hands; retry shortly.');
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

/**
 * Connects to the cluster with every statement prepared. The keyspace need not exist yet: statements name it
 * explicitly, and migrateKeyspace() creates it.
 */
export async function connectCassandra(options: CassandraOptions): Promise<Client> {
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
  return client;
}
