import { dateOrNull, textOrNull, toNumber } from '@caliopen/platform/cassandra/cassandra.schema.ts';
import { TABLES } from '../database/cassandra.schema.ts';
import type { CassandraContext, Row, Statement } from '@caliopen/platform/cassandra/cassandra.context.ts';
import type { CorrespondentKey, KeySource, KeyStatus } from './public-key.entity.ts';
import type { ConflictCursor, CorrespondentKeyRepository } from './public-key.repository.ts';

const COLUMNS = `account_id, address, fingerprint, version, algorithm, public_key, source, status, key_created_at,
  key_expires_at, verified_at, first_seen_at, last_seen_at`;

/** null for a missing row, and for the partial row a status write racing a delete leaves (no public key). */
function toKey(r: Row | null): CorrespondentKey | null {
  const bytes = r?.get('public_key') as Buffer | null | undefined;
  const firstSeenAt = r ? dateOrNull(r.get('first_seen_at')) : null;
  if (r === null || !bytes || firstSeenAt === null) return null;
  return {
    accountId: r.get('account_id') as string,
    address: r.get('address') as string,
    fingerprint: r.get('fingerprint') as string,
    version: toNumber(r.get('version')),
    algorithm: textOrNull(r.get('algorithm')) ?? '',
    publicKey: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length),
    source: r.get('source') as KeySource,
    status: r.get('status') as KeyStatus,
    keyCreatedAt: dateOrNull(r.get('key_created_at')) ?? firstSeenAt,
    keyExpiresAt: dateOrNull(r.get('key_expires_at')),
    verifiedAt: dateOrNull(r.get('verified_at')),
    firstSeenAt,
    lastSeenAt: dateOrNull(r.get('last_seen_at')) ?? firstSeenAt,
  };
}

const newestFirst = (a: CorrespondentKey, b: CorrespondentKey) =>
  b.firstSeenAt.getTime() - a.firstSeenAt.getTime() ||
  (a.fingerprint < b.fingerprint ? 1 : a.fingerprint > b.fingerprint ? -1 : 0);

/**
 * Correspondents' keys on Cassandra: one partition per (account, address), one row per key (a handful). No
 * uniqueness to defend, so no LWT: the service serialises the writes for one address in its process; a status write
 * checks the row first so that unknown keys leave no partial rows.
 *
 * Keys in conflict are also indexed per account in correspondent_key_conflicts (the key alerts), in the listing order.
 * Every write that makes a key enter or leave 'conflict' (or moves its firstSeenAt) reads the row first and writes the
 * key row and the index row in one logged batch. A reader skips an index row whose key is no longer in conflict (a
 * batch half-visible across partitions) rather than deleting it.
 */
export class CassandraCorrespondentKeyRepository implements CorrespondentKeyRepository {
  private readonly ctx: CassandraContext;
  private readonly q;
  private readonly conflicts;

  constructor(ctx: CassandraContext) {
    this.ctx = ctx;
    const t = ctx.table(TABLES.correspondentKeys);
    this.q = {
      insert: `INSERT INTO ${t} (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      one: `SELECT ${COLUMNS} FROM ${t} WHERE account_id = ? AND address = ? AND fingerprint = ?`,
      byAddress: `SELECT ${COLUMNS} FROM ${t} WHERE account_id = ? AND address = ?`,
      status: `UPDATE ${t} SET status = ? WHERE account_id = ? AND address = ? AND fingerprint = ?`,
      statusAndVerified: `UPDATE ${t} SET status = ?, verified_at = ? WHERE account_id = ? AND address = ? AND fingerprint = ?`,
      remove: `DELETE FROM ${t} WHERE account_id = ? AND address = ? AND fingerprint = ?`,
    };
    const c = ctx.table(TABLES.correspondentKeyConflicts);
    this.conflicts = {
      insert: `INSERT INTO ${c} (account_id, first_seen_at, address, fingerprint) VALUES (?, ?, ?, ?)`,
      remove: `DELETE FROM ${c} WHERE account_id = ? AND first_seen_at = ? AND address = ? AND fingerprint = ?`,
      page: `SELECT first_seen_at, address, fingerprint FROM ${c} WHERE account_id = ? LIMIT ?`,
      pageAfter: `SELECT first_seen_at, address, fingerprint FROM ${c} WHERE account_id = ? AND (first_seen_at, address, fingerprint) < (?, ?, ?) LIMIT ?`,
    };
  }

  /**
   * The index statements that go with writing `next` over `previous` (null: no row, or the row is being deleted):
   * the old index row out when the key leaves 'conflict' or its firstSeenAt moves, the new one in when it enters.
   */
  private indexChanges(previous: CorrespondentKey | null, next: CorrespondentKey | null): Statement[] {
    const wasIndexed = previous?.status === 'conflict';
    const indexed = next?.status === 'conflict';
    const moved = wasIndexed && indexed && previous.firstSeenAt.getTime() !== next.firstSeenAt.getTime();
    const out: Statement[] = [];
    if (wasIndexed && (!indexed || moved))
      out.push({
        query: this.conflicts.remove,
        params: [previous.accountId, previous.firstSeenAt, previous.address, previous.fingerprint],
      });
    if (indexed && (!wasIndexed || moved))
      out.push({
        query: this.conflicts.insert,
        params: [next.accountId, next.firstSeenAt, next.address, next.fingerprint],
      });
    return out;
  }

  /** The key write, alone or with its index changes in one logged batch. */
  private async writeWithIndex(statement: Statement, index: Statement[]): Promise<void> {
    if (index.length === 0) await this.ctx.write(statement.query, statement.params);
    else await this.ctx.loggedBatch([...index, statement]);
  }

  async put(k: CorrespondentKey): Promise<void> {
    const previous = await this.get(k.accountId, k.address, k.fingerprint);
    const insert: Statement = {
      query: this.q.insert,
      params: [
        k.accountId,
        k.address,
        k.fingerprint,
        k.version,
        k.algorithm,
        Buffer.from(k.publicKey.buffer, k.publicKey.byteOffset, k.publicKey.length),
        k.source,
        k.status,
        k.keyCreatedAt,
        k.keyExpiresAt,
        k.verifiedAt,
        k.firstSeenAt,
        k.lastSeenAt,
      ],
    };
    await this.writeWithIndex(insert, this.indexChanges(previous, k));
  }

  async get(accountId: string, address: string, fingerprint: string): Promise<CorrespondentKey | null> {
    return toKey(await this.ctx.one(this.q.one, [accountId, address, fingerprint]));
  }

  async listByAddress(accountId: string, address: string): Promise<CorrespondentKey[]> {
    const rows = await this.ctx.rows(this.q.byAddress, [accountId, address]);
    return rows
      .map(toKey)
      .filter((k): k is CorrespondentKey => k !== null)
      .sort(newestFirst);
  }

  async listByAddresses(accountId: string, addresses: readonly string[]): Promise<CorrespondentKey[]> {
    // One single-partition read per address, in parallel (a contact has a few addresses).
    const lists = await Promise.all([...new Set(addresses)].map((a) => this.listByAddress(accountId, a)));
    return lists.flat().sort(newestFirst);
  }

  async listConflicts(accountId: string, page: { limit: number; after?: ConflictCursor }): Promise<CorrespondentKey[]> {
    const out: CorrespondentKey[] = [];
    if (page.limit <= 0) return out;
    let after = page.after;
    // Index rows whose key left 'conflict' meanwhile are skipped: read on until the page is full or the index ends.
    for (;;) {
      const want = page.limit - out.length;
      const rows =
        after === undefined
          ? await this.ctx.rows(this.conflicts.page, [accountId, want])
          : await this.ctx.rows(this.conflicts.pageAfter, [
              accountId,
              after.firstSeenAt,
              after.address,
              after.fingerprint,
              want,
            ]);
      const keys = await Promise.all(
        rows.map((r) => this.get(accountId, r.get('address') as string, r.get('fingerprint') as string)),
      );
      for (const k of keys) if (k !== null && k.status === 'conflict') out.push(k);
      const last = rows.at(-1);
      if (rows.length < want || last === undefined || out.length >= page.limit) break;
      after = {
        firstSeenAt: last.get('first_seen_at') as Date,
        address: last.get('address') as string,
        fingerprint: last.get('fingerprint') as string,
      };
    }
    return out;
  }

  async setStatus(
    accountId: string,
    address: string,
    fingerprint: string,
    status: KeyStatus,
    verifiedAt?: Date | null,
  ): Promise<boolean> {
    const previous = await this.get(accountId, address, fingerprint);
    if (previous === null) return false;
    const write: Statement =
      verifiedAt === undefined
        ? { query: this.q.status, params: [status, accountId, address, fingerprint] }
        : { query: this.q.statusAndVerified, params: [status, verifiedAt, accountId, address, fingerprint] };
    await this.writeWithIndex(write, this.indexChanges(previous, { ...previous, status }));
    return true;
  }

  async delete(accountId: string, address: string, fingerprint: string): Promise<boolean> {
    const previous = await this.get(accountId, address, fingerprint);
    if (previous === null) return false;
    await this.writeWithIndex(
      { query: this.q.remove, params: [accountId, address, fingerprint] },
      this.indexChanges(previous, null),
    );
    return true;
  }
}
