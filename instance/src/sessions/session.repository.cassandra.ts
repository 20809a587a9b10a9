import { dateOrNull, dayBucket } from '@caliopen/platform/cassandra/cassandra.schema.ts';
import { sessionTtlSeconds, TABLES } from '../database/cassandra.schema.ts';
import type { CassandraContext, Row } from '@caliopen/platform/cassandra/cassandra.context.ts';
import type { Session } from './session.entity.ts';
import type { SessionRepository } from './session.repository.ts';

/** The single partition of session_expiry_days. */
const SCOPE = 'sessions';

/** null for a missing row, and for the ghost a revocation leaves when it races a purge (no created_at). */
function toSession(r: Row | null): Session | null {
  const createdAt = r ? dateOrNull(r.get('created_at')) : null;
  if (r === null || createdAt === null) return null;
  return {
    id: r.get('session_id') as string,
    accountId: r.get('account_id') as string,
    deviceId: r.get('device_id') as string,
    tokenHash: r.get('token_hash') as string,
    createdAt,
    expiresAt: dateOrNull(r.get('expires_at')) ?? createdAt,
    revokedAt: dateOrNull(r.get('revoked_at')),
  };
}

/**
 * Sessions on Cassandra: found by token hash (sessions_by_token_hash), listed and revoked per account
 * (sessions_by_account), purged by expiry day (sessions_by_expiry, whose days session_expiry_days lists).
 * All three rows of a session are written together with one TTL (expiry + retention, cassandra.schema.ts), so
 * sessions disappear even when no purge runs; a revocation rewrites its cells with the TTL that remains.
 */
export class CassandraSessionRepository implements SessionRepository {
  private readonly ctx: CassandraContext;
  private readonly q;

  constructor(ctx: CassandraContext) {
    this.ctx = ctx;
    const byHash = ctx.table(TABLES.sessionsByTokenHash);
    const byAccount = ctx.table(TABLES.sessionsByAccount);
    const byExpiry = ctx.table(TABLES.sessionsByExpiry);
    const days = ctx.table(TABLES.sessionExpiryDays);
    const columns = 'session_id, account_id, device_id, token_hash, created_at, expires_at, revoked_at';
    this.q = {
      insertByHash: `INSERT INTO ${byHash} (${columns}) VALUES (?, ?, ?, ?, ?, ?, ?) USING TTL ?`,
      insertByAccount: `INSERT INTO ${byAccount} (${columns}) VALUES (?, ?, ?, ?, ?, ?, ?) USING TTL ?`,
      insertByExpiry: `INSERT INTO ${byExpiry} (expiry_day, expires_at, session_id, account_id, token_hash)
        VALUES (?, ?, ?, ?, ?) USING TTL ?`,
      insertDay: `INSERT INTO ${days} (scope, expiry_day) VALUES (?, ?)`,
      byHash: `SELECT ${columns} FROM ${byHash} WHERE token_hash = ?`,
      byAccount: `SELECT ${columns}, TTL(expires_at) AS ttl_left FROM ${byAccount} WHERE account_id = ?`,
      one: `SELECT ${columns}, TTL(expires_at) AS ttl_left FROM ${byAccount} WHERE account_id = ? AND session_id = ?`,
      revokeByAccountRow: `UPDATE ${byAccount} USING TTL ? SET revoked_at = ? WHERE account_id = ? AND session_id = ?`,
      revokeByHashRow: `UPDATE ${byHash} USING TTL ? SET revoked_at = ? WHERE token_hash = ?`,
      expiryDays: `SELECT expiry_day FROM ${days} WHERE scope = ? AND expiry_day <= ?`,
      expiring: `SELECT expires_at, session_id, account_id, token_hash FROM ${byExpiry} WHERE expiry_day = ? AND expires_at < ?`,
      deleteByHash: `DELETE FROM ${byHash} WHERE token_hash = ?`,
      deleteByAccount: `DELETE FROM ${byAccount} WHERE account_id = ? AND session_id = ?`,
      deleteByExpiry: `DELETE FROM ${byExpiry} WHERE expiry_day = ? AND expires_at = ? AND session_id = ?`,
      deleteDay: `DELETE FROM ${days} WHERE scope = ? AND expiry_day = ?`,
    };
  }

  async create(s: Session): Promise<void> {
    const ttl = sessionTtlSeconds(s.expiresAt, new Date());
    const values = [s.id, s.accountId, s.deviceId, s.tokenHash, s.createdAt, s.expiresAt, s.revokedAt, ttl];
    const day = dayBucket(s.expiresAt);
    await this.ctx.loggedBatch([
      { query: this.q.insertByHash, params: values },
      { query: this.q.insertByAccount, params: values },
      { query: this.q.insertByExpiry, params: [day, s.expiresAt, s.id, s.accountId, s.tokenHash, ttl] },
      { query: this.q.insertDay, params: [SCOPE, day] },
    ]);
  }

  async getByTokenHash(tokenHash: string): Promise<Session | null> {
    return toSession(await this.ctx.one(this.q.byHash, [tokenHash]));
  }

  async listByAccount(accountId: string): Promise<Session[]> {
    return (await this.liveAndRevoked(accountId)).map((x) => x.session);
  }

  async revoke(accountId: string, id: string, at: Date): Promise<boolean> {
    const row = await this.ctx.one(this.q.one, [accountId, id]);
    const session = toSession(row);
    if (session === null || session.revokedAt !== null) return false;
    await this.markRevoked(session, ttlOf(row), at);
    return true;
  }

  async revokeByDevice(accountId: string, deviceId: string, at: Date): Promise<number> {
    return this.revokeWhere(accountId, at, (s) => s.deviceId === deviceId);
  }

  async revokeByAccount(accountId: string, at: Date): Promise<number> {
    return this.revokeWhere(accountId, at, () => true);
  }

  /**
   * Walks the expiry days up to `before` and removes each session that expired before it. A day wholly before
   * `before` is then forgotten. Sessions already removed by their TTL are not counted: the engine forgot them.
   */
  async purgeExpired(before: Date): Promise<number> {
    const lastDay = dayBucket(before);
    const days = await this.ctx.rows(this.q.expiryDays, [SCOPE, lastDay]);
    let removed = 0;
    for (const d of days) {
      const day = d.get('expiry_day') as number;
      for (const r of await this.ctx.rows(this.q.expiring, [day, before])) {
        const sessionId = r.get('session_id') as string;
        await this.ctx.loggedBatch([
          { query: this.q.deleteByHash, params: [r.get('token_hash')] },
          { query: this.q.deleteByAccount, params: [r.get('account_id'), sessionId] },
          { query: this.q.deleteByExpiry, params: [day, r.get('expires_at'), sessionId] },
        ]);
        removed++;
      }
      // Every session of an earlier day expired before `before`: the day is done. (A session created later with an
      // expiry already that far in the past is still removed by its TTL.)
      if (day < lastDay) await this.ctx.write(this.q.deleteDay, [SCOPE, day]);
    }
    return removed;
  }

  /** The account's sessions, newest first, with the TTL their rows have left. */
  private async liveAndRevoked(accountId: string): Promise<{ session: Session; ttl: number }[]> {
    const out: { session: Session; ttl: number }[] = [];
    for (const r of await this.ctx.rows(this.q.byAccount, [accountId])) {
      const session = toSession(r);
      if (session !== null) out.push({ session, ttl: ttlOf(r) });
    }
    return out.sort(
      (a, b) =>
        b.session.createdAt.getTime() - a.session.createdAt.getTime() ||
        (a.session.id < b.session.id ? 1 : a.session.id > b.session.id ? -1 : 0),
    );
  }

  private async revokeWhere(accountId: string, at: Date, match: (s: Session) => boolean): Promise<number> {
    let n = 0;
    for (const { session, ttl } of await this.liveAndRevoked(accountId)) {
      if (session.revokedAt !== null || !match(session)) continue;
      await this.markRevoked(session, ttl, at);
      n++;
    }
    return n;
  }

  /** Sets revoked_at in both lookup tables, keeping the rows' remaining TTL (a cell without one would outlive them). */
  private async markRevoked(s: Session, ttl: number, at: Date): Promise<void> {
    await this.ctx.loggedBatch([
      { query: this.q.revokeByAccountRow, params: [ttl, at, s.accountId, s.id] },
      { query: this.q.revokeByHashRow, params: [ttl, at, s.tokenHash] },
    ]);
  }
}

/** Remaining TTL of a row (seconds); 0, meaning none, when the row has no TTL. */
function ttlOf(r: Row | null): number {
  const ttl = r?.get('ttl_left');
  return typeof ttl === 'number' && ttl > 0 ? ttl : 0;
}
