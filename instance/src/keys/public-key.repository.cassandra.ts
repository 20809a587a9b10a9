import { dateOrNull, TABLES, textOrNull, toNumber } from '../storage/cassandra.schema.ts';
import type { CassandraContext, Row } from '../storage/storage.cassandra.ts';
import type { CorrespondentKey, KeySource, KeyStatus } from './public-key.entity.ts';
import type { CorrespondentKeyRepository } from './public-key.repository.ts';

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
  b.firstSeenAt.getTime() - a.firstSeenAt.getTime() || (a.fingerprint < b.fingerprint ? 1 : a.fingerprint > b.fingerprint ? -1 : 0);

/**
 * Correspondents' keys on Cassandra: one partition per (account, address), one row per key (a handful). No
 * uniqueness to defend, so no LWT: the service serialises the writes for one address in its process; a status write
 * checks the row first so that unknown keys leave no partial rows.
 */
export class CassandraCorrespondentKeyRepository implements CorrespondentKeyRepository {
  private readonly ctx: CassandraContext;
  private readonly q;

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
  }

  async put(k: CorrespondentKey): Promise<void> {
    await this.ctx.write(this.q.insert, [
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
    ]);
  }

  async get(accountId: string, address: string, fingerprint: string): Promise<CorrespondentKey | null> {
    return toKey(await this.ctx.one(this.q.one, [accountId, address, fingerprint]));
  }

  async listByAddress(accountId: string, address: string): Promise<CorrespondentKey[]> {
    const rows = await this.ctx.rows(this.q.byAddress, [accountId, address]);
    return rows.map(toKey).filter((k): k is CorrespondentKey => k !== null).sort(newestFirst);
  }

  async listByAddresses(accountId: string, addresses: readonly string[]): Promise<CorrespondentKey[]> {
    // One single-partition read per address, in parallel (a contact has a few addresses).
    const lists = await Promise.all([...new Set(addresses)].map((a) => this.listByAddress(accountId, a)));
    return lists.flat().sort(newestFirst);
  }

  async setStatus(accountId: string, address: string, fingerprint: string, status: KeyStatus, verifiedAt?: Date | null): Promise<boolean> {
    if ((await this.get(accountId, address, fingerprint)) === null) return false;
    if (verifiedAt === undefined) await this.ctx.write(this.q.status, [status, accountId, address, fingerprint]);
    else await this.ctx.write(this.q.statusAndVerified, [status, verifiedAt, accountId, address, fingerprint]);
    return true;
  }

  async delete(accountId: string, address: string, fingerprint: string): Promise<boolean> {
    if ((await this.get(accountId, address, fingerprint)) === null) return false;
    await this.ctx.write(this.q.remove, [accountId, address, fingerprint]);
    return true;
  }
}
