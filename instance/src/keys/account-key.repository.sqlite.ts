import type { SqliteDb } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import { fromMs, fromMsOrNull, toMs, toMsOrNull } from '@caliopen/platform/sqlite/sqlite.mapping.ts';
import { kekFromJson, kekToJson, type AccountKey, type AccountKeyStatus } from './account-key.entity.ts';
import type { AccountKeyRepository } from './account-key.repository.ts';

interface AccountKeyRow {
  account_id: string;
  fingerprint: string;
  version: number;
  algorithm: string;
  public_key: Buffer;
  status: AccountKeyStatus;
  key_created_at: number;
  key_expires_at: number | null;
  revocation: string | null;
  private_sealed: string | null;
  kek_json: string | null;
  added_at: number;
  updated_at: number;
}

function toKey(r: AccountKeyRow): AccountKey {
  const kek = kekFromJson(r.kek_json);
  return {
    accountId: r.account_id,
    fingerprint: r.fingerprint,
    version: r.version,
    algorithm: r.algorithm,
    publicKey: new Uint8Array(r.public_key.buffer, r.public_key.byteOffset, r.public_key.length),
    status: r.status,
    keyCreatedAt: fromMs(r.key_created_at),
    keyExpiresAt: fromMsOrNull(r.key_expires_at),
    revocationCertificate: r.revocation,
    privateKey: r.private_sealed !== null && kek !== null ? { sealed: r.private_sealed, kek } : null,
    addedAt: fromMs(r.added_at),
    updatedAt: fromMs(r.updated_at),
  };
}

/** The account's own keys in the embedded store: `account_keys` (migration 6). */
export class SqliteAccountKeyRepository implements AccountKeyRepository {
  private readonly upsert;
  private readonly one;
  private readonly byAccount;
  private readonly remove;

  constructor(db: SqliteDb) {
    this.upsert = db.prepare(
      `INSERT OR REPLACE INTO account_keys (account_id, fingerprint, version, algorithm, public_key, status, key_created_at,
         key_expires_at, revocation, private_sealed, kek_json, added_at, updated_at)
       VALUES (@accountId, @fingerprint, @version, @algorithm, @publicKey, @status, @keyCreatedAt,
         @keyExpiresAt, @revocation, @privateSealed, @kekJson, @addedAt, @updatedAt)`,
    );
    this.one = db.prepare<[string, string], AccountKeyRow>(
      'SELECT * FROM account_keys WHERE account_id = ? AND fingerprint = ?',
    );
    this.byAccount = db.prepare<[string], AccountKeyRow>(
      'SELECT * FROM account_keys WHERE account_id = ? ORDER BY added_at DESC, fingerprint DESC',
    );
    this.remove = db.prepare<[string, string]>('DELETE FROM account_keys WHERE account_id = ? AND fingerprint = ?');
  }

  async put(k: AccountKey): Promise<void> {
    this.upsert.run({
      accountId: k.accountId,
      fingerprint: k.fingerprint,
      version: k.version,
      algorithm: k.algorithm,
      publicKey: Buffer.from(k.publicKey.buffer, k.publicKey.byteOffset, k.publicKey.length),
      status: k.status,
      keyCreatedAt: toMs(k.keyCreatedAt),
      keyExpiresAt: toMsOrNull(k.keyExpiresAt),
      revocation: k.revocationCertificate,
      privateSealed: k.privateKey?.sealed ?? null,
      kekJson: k.privateKey ? kekToJson(k.privateKey.kek) : null,
      addedAt: toMs(k.addedAt),
      updatedAt: toMs(k.updatedAt),
    });
  }

  async get(accountId: string, fingerprint: string): Promise<AccountKey | null> {
    const r = this.one.get(accountId, fingerprint);
    return r ? toKey(r) : null;
  }

  async listByAccount(accountId: string): Promise<AccountKey[]> {
    return this.byAccount.all(accountId).map(toKey);
  }

  async delete(accountId: string, fingerprint: string): Promise<boolean> {
    return this.remove.run(accountId, fingerprint).changes === 1;
  }
}
