import type Database from 'better-sqlite3';
import type { SqliteDb } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import { fromMs, fromMsOrNull, toMs, toMsOrNull } from '@caliopen/platform/sqlite/sqlite.mapping.ts';
import type { CorrespondentKey, KeySource, KeyStatus } from './public-key.entity.ts';
import type { ConflictCursor, CorrespondentKeyRepository } from './public-key.repository.ts';

interface KeyRow {
  account_id: string;
  address: string;
  fingerprint: string;
  version: number;
  algorithm: string;
  public_key: Buffer;
  source: KeySource;
  status: KeyStatus;
  key_created_at: number;
  key_expires_at: number | null;
  verified_at: number | null;
  first_seen_at: number;
  last_seen_at: number;
}

const toKey = (r: KeyRow): CorrespondentKey => ({
  accountId: r.account_id,
  address: r.address,
  fingerprint: r.fingerprint,
  version: r.version,
  algorithm: r.algorithm,
  publicKey: new Uint8Array(r.public_key.buffer, r.public_key.byteOffset, r.public_key.length),
  source: r.source,
  status: r.status,
  keyCreatedAt: fromMs(r.key_created_at),
  keyExpiresAt: fromMsOrNull(r.key_expires_at),
  verifiedAt: fromMsOrNull(r.verified_at),
  firstSeenAt: fromMs(r.first_seen_at),
  lastSeenAt: fromMs(r.last_seen_at),
});

/** Newest first by firstSeenAt, then fingerprint (the port's order). */
const ORDER = 'ORDER BY first_seen_at DESC, fingerprint DESC';

/** Correspondents' keys in the embedded store: `correspondent_keys` (migration 4). */
export class SqliteCorrespondentKeyRepository implements CorrespondentKeyRepository {
  private readonly db: SqliteDb;
  private readonly upsert;
  private readonly one;
  private readonly byAddress;
  private readonly conflicts;
  private readonly conflictsAfter;
  private readonly status;
  private readonly statusAndVerified;
  private readonly remove;
  private readonly byAddressesOf = new Map<number, Database.Statement<[string, ...string[]], KeyRow>>();

  constructor(db: SqliteDb) {
    this.db = db;
    this.upsert = db.prepare(
      `INSERT OR REPLACE INTO correspondent_keys (account_id, address, fingerprint, version, algorithm, public_key, source,
         status, key_created_at, key_expires_at, verified_at, first_seen_at, last_seen_at)
       VALUES (@accountId, @address, @fingerprint, @version, @algorithm, @publicKey, @source,
         @status, @keyCreatedAt, @keyExpiresAt, @verifiedAt, @firstSeenAt, @lastSeenAt)`,
    );
    this.one = db.prepare<[string, string, string], KeyRow>(
      'SELECT * FROM correspondent_keys WHERE account_id = ? AND address = ? AND fingerprint = ?',
    );
    this.byAddress = db.prepare<[string, string], KeyRow>(
      `SELECT * FROM correspondent_keys WHERE account_id = ? AND address = ? ${ORDER}`,
    );
    // Both read the partial index correspondent_keys_conflicts (migration 7), in its order.
    const conflictOrder = 'ORDER BY first_seen_at DESC, address DESC, fingerprint DESC LIMIT ?';
    this.conflicts = db.prepare<[string, number], KeyRow>(
      `SELECT * FROM correspondent_keys WHERE account_id = ? AND status = 'conflict' ${conflictOrder}`,
    );
    this.conflictsAfter = db.prepare<[string, number, string, string, number], KeyRow>(
      `SELECT * FROM correspondent_keys WHERE account_id = ? AND status = 'conflict' AND (first_seen_at, address, fingerprint) < (?, ?, ?) ${conflictOrder}`,
    );
    this.status = db.prepare<[KeyStatus, string, string, string]>(
      'UPDATE correspondent_keys SET status = ? WHERE account_id = ? AND address = ? AND fingerprint = ?',
    );
    this.statusAndVerified = db.prepare<[KeyStatus, number | null, string, string, string]>(
      'UPDATE correspondent_keys SET status = ?, verified_at = ? WHERE account_id = ? AND address = ? AND fingerprint = ?',
    );
    this.remove = db.prepare<[string, string, string]>(
      'DELETE FROM correspondent_keys WHERE account_id = ? AND address = ? AND fingerprint = ?',
    );
  }

  async put(k: CorrespondentKey): Promise<void> {
    this.upsert.run({
      accountId: k.accountId,
      address: k.address,
      fingerprint: k.fingerprint,
      version: k.version,
      algorithm: k.algorithm,
      publicKey: Buffer.from(k.publicKey.buffer, k.publicKey.byteOffset, k.publicKey.length),
      source: k.source,
      status: k.status,
      keyCreatedAt: toMs(k.keyCreatedAt),
      keyExpiresAt: toMsOrNull(k.keyExpiresAt),
      verifiedAt: toMsOrNull(k.verifiedAt),
      firstSeenAt: toMs(k.firstSeenAt),
      lastSeenAt: toMs(k.lastSeenAt),
    });
  }

  async get(accountId: string, address: string, fingerprint: string): Promise<CorrespondentKey | null> {
    const r = this.one.get(accountId, address, fingerprint);
    return r ? toKey(r) : null;
  }

  async listByAddress(accountId: string, address: string): Promise<CorrespondentKey[]> {
    return this.byAddress.all(accountId, address).map(toKey);
  }

  /** The statement for `n` addresses, prepared once per n (ingest asks for one sender's keys per message). */
  private byAddresses(n: number): Database.Statement<[string, ...string[]], KeyRow> {
    let s = this.byAddressesOf.get(n);
    if (!s) {
      s = this.db.prepare<[string, ...string[]], KeyRow>(
        `SELECT * FROM correspondent_keys WHERE account_id = ? AND address IN (${Array.from({ length: n }, () => '?').join(', ')}) ${ORDER}`,
      );
      if (this.byAddressesOf.size < 64) this.byAddressesOf.set(n, s);
    }
    return s;
  }

  async listByAddresses(accountId: string, addresses: readonly string[]): Promise<CorrespondentKey[]> {
    const unique = [...new Set(addresses)];
    if (unique.length === 0) return [];
    const out: KeyRow[] = [];
    // Bound the number of bound parameters per statement (SQLite allows 32766; contacts have at most a few dozen).
    for (let i = 0; i < unique.length; i += 500) {
      const chunk = unique.slice(i, i + 500);
      const rows = this.byAddresses(chunk.length).all(accountId, ...chunk);
      out.push(...rows);
    }
    out.sort(
      (a, b) =>
        b.first_seen_at - a.first_seen_at ||
        (a.fingerprint < b.fingerprint ? 1 : a.fingerprint > b.fingerprint ? -1 : 0),
    );
    return out.map(toKey);
  }

  async listConflicts(accountId: string, page: { limit: number; after?: ConflictCursor }): Promise<CorrespondentKey[]> {
    const { limit, after } = page;
    const rows =
      after === undefined
        ? this.conflicts.all(accountId, limit)
        : this.conflictsAfter.all(accountId, toMs(after.firstSeenAt), after.address, after.fingerprint, limit);
    return rows.map(toKey);
  }

  async setStatus(
    accountId: string,
    address: string,
    fingerprint: string,
    status: KeyStatus,
    verifiedAt?: Date | null,
  ): Promise<boolean> {
    const changes =
      verifiedAt === undefined
        ? this.status.run(status, accountId, address, fingerprint).changes
        : this.statusAndVerified.run(status, toMsOrNull(verifiedAt), accountId, address, fingerprint).changes;
    return changes === 1;
  }

  async delete(accountId: string, address: string, fingerprint: string): Promise<boolean> {
    return this.remove.run(accountId, address, fingerprint).changes === 1;
  }
}
