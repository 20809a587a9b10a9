import { dateOrNull, textOrNull, toNumber } from '@caliopen/platform/cassandra/cassandra.schema.ts';
import { TABLES } from '../database/cassandra.schema.ts';
import type { CassandraContext, Row } from '@caliopen/platform/cassandra/cassandra.context.ts';
import { kekFromJson, kekToJson, type AccountKey, type AccountKeyStatus } from './account-key.entity.ts';
import type { AccountKeyRepository } from './account-key.repository.ts';

const COLUMNS = `account_id, fingerprint, version, algorithm, public_key, status, key_created_at, key_expires_at, revocation,
  private_sealed, kek_json, added_at, updated_at`;

/** null for a missing row, and for a partial one (no public key or no addedAt: never a whole key). */
function toKey(r: Row | null): AccountKey | null {
  const bytes = r?.get('public_key') as Buffer | null | undefined;
  const addedAt = r ? dateOrNull(r.get('added_at')) : null;
  if (r === null || !bytes || addedAt === null) return null;
  const sealed = textOrNull(r.get('private_sealed'));
  const kek = kekFromJson(textOrNull(r.get('kek_json')));
  return {
    accountId: r.get('account_id') as string,
    fingerprint: r.get('fingerprint') as string,
    version: toNumber(r.get('version')),
    algorithm: textOrNull(r.get('algorithm')) ?? '',
    publicKey: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length),
    status: r.get('status') as AccountKeyStatus,
    keyCreatedAt: dateOrNull(r.get('key_created_at')) ?? addedAt,
    keyExpiresAt: dateOrNull(r.get('key_expires_at')),
    revocationCertificate: textOrNull(r.get('revocation')),
    privateKey: sealed !== null && kek !== null ? { sealed, kek } : null,
    addedAt,
    updatedAt: dateOrNull(r.get('updated_at')) ?? addedAt,
  };
}

const newestFirst = (a: AccountKey, b: AccountKey) =>
  b.addedAt.getTime() - a.addedAt.getTime() ||
  (a.fingerprint < b.fingerprint ? 1 : a.fingerprint > b.fingerprint ? -1 : 0);

/**
 * The account's own keys on Cassandra: one partition per account, one row per key (a handful over the account's
 * life), read whole and sorted in memory. No uniqueness to defend, so no LWT: the service serialises the writes of
 * one account in its process. A put writes every column (a null erases a server-held private key).
 */
export class CassandraAccountKeyRepository implements AccountKeyRepository {
  private readonly ctx: CassandraContext;
  private readonly q;

  constructor(ctx: CassandraContext) {
    this.ctx = ctx;
    const t = ctx.table(TABLES.accountKeys);
    this.q = {
      insert: `INSERT INTO ${t} (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      one: `SELECT ${COLUMNS} FROM ${t} WHERE account_id = ? AND fingerprint = ?`,
      byAccount: `SELECT ${COLUMNS} FROM ${t} WHERE account_id = ?`,
      remove: `DELETE FROM ${t} WHERE account_id = ? AND fingerprint = ?`,
    };
  }

  async put(k: AccountKey): Promise<void> {
    await this.ctx.write(this.q.insert, [
      k.accountId,
      k.fingerprint,
      k.version,
      k.algorithm,
      Buffer.from(k.publicKey.buffer, k.publicKey.byteOffset, k.publicKey.length),
      k.status,
      k.keyCreatedAt,
      k.keyExpiresAt,
      k.revocationCertificate,
      k.privateKey?.sealed ?? null,
      k.privateKey ? kekToJson(k.privateKey.kek) : null,
      k.addedAt,
      k.updatedAt,
    ]);
  }

  async get(accountId: string, fingerprint: string): Promise<AccountKey | null> {
    return toKey(await this.ctx.one(this.q.one, [accountId, fingerprint]));
  }

  async listByAccount(accountId: string): Promise<AccountKey[]> {
    const rows = await this.ctx.rows(this.q.byAccount, [accountId]);
    return rows
      .map(toKey)
      .filter((k): k is AccountKey => k !== null)
      .sort(newestFirst);
  }

  async delete(accountId: string, fingerprint: string): Promise<boolean> {
    if ((await this.get(accountId, fingerprint)) === null) return false;
    await this.ctx.write(this.q.remove, [accountId, fingerprint]);
    return true;
  }
}
