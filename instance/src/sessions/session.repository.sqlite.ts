import type { SqliteDb } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import { fromMs, fromMsOrNull, toMs, toMsOrNull } from '@caliopen/platform/sqlite/sqlite.mapping.ts';
import type { Session } from './session.entity.ts';
import type { SessionRepository } from './session.repository.ts';

interface SessionRow {
  id: string;
  account_id: string;
  device_id: string;
  token_hash: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
}

const toSession = (r: SessionRow): Session => ({
  id: r.id,
  accountId: r.account_id,
  deviceId: r.device_id,
  tokenHash: r.token_hash,
  createdAt: fromMs(r.created_at),
  expiresAt: fromMs(r.expires_at),
  revokedAt: fromMsOrNull(r.revoked_at),
});

export class SqliteSessionRepository implements SessionRepository {
  private readonly insert;
  private readonly byHash;
  private readonly byAccount;
  private readonly revokeOne;
  private readonly revokeDevice;
  private readonly revokeAccount;
  private readonly purge;

  constructor(db: SqliteDb) {
    this.insert = db.prepare(
      `INSERT INTO sessions (id, account_id, device_id, token_hash, created_at, expires_at, revoked_at)
       VALUES (@id, @accountId, @deviceId, @tokenHash, @createdAt, @expiresAt, @revokedAt)`,
    );
    this.byHash = db.prepare<[string], SessionRow>('SELECT * FROM sessions WHERE token_hash = ?');
    this.byAccount = db.prepare<[string], SessionRow>(
      'SELECT * FROM sessions WHERE account_id = ? ORDER BY created_at DESC',
    );
    this.revokeOne = db.prepare<[number, string, string]>(
      'UPDATE sessions SET revoked_at = ? WHERE account_id = ? AND id = ? AND revoked_at IS NULL',
    );
    this.revokeDevice = db.prepare<[number, string, string]>(
      'UPDATE sessions SET revoked_at = ? WHERE account_id = ? AND device_id = ? AND revoked_at IS NULL',
    );
    this.revokeAccount = db.prepare<[number, string]>(
      'UPDATE sessions SET revoked_at = ? WHERE account_id = ? AND revoked_at IS NULL',
    );
    this.purge = db.prepare<[number]>('DELETE FROM sessions WHERE expires_at < ?');
  }

  async create(s: Session): Promise<void> {
    this.insert.run({
      ...s,
      createdAt: toMs(s.createdAt),
      expiresAt: toMs(s.expiresAt),
      revokedAt: toMsOrNull(s.revokedAt),
    });
  }

  async getByTokenHash(tokenHash: string): Promise<Session | null> {
    const r = this.byHash.get(tokenHash);
    return r ? toSession(r) : null;
  }

  async listByAccount(accountId: string): Promise<Session[]> {
    return this.byAccount.all(accountId).map(toSession);
  }

  async revoke(accountId: string, id: string, at: Date): Promise<boolean> {
    return this.revokeOne.run(toMs(at), accountId, id).changes === 1;
  }

  async revokeByDevice(accountId: string, deviceId: string, at: Date): Promise<number> {
    return this.revokeDevice.run(toMs(at), accountId, deviceId).changes;
  }

  async revokeByAccount(accountId: string, at: Date): Promise<number> {
    return this.revokeAccount.run(toMs(at), accountId).changes;
  }

  async purgeExpired(before: Date): Promise<number> {
    return this.purge.run(toMs(before)).changes;
  }
}
