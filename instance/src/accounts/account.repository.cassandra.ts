import { randomUUID } from 'node:crypto';
import { AppError } from '../shared/errors.ts';
import type { StoredPi } from '../mail/message.entity.ts';
import { dateOrNull, textOrNull, toNumber } from '@caliopen/platform/cassandra/cassandra.schema.ts';
import { piFromUdt, piToUdt, TABLES } from '../database/cassandra.schema.ts';
import type { CassandraContext, Row, UniqueClaims } from '@caliopen/platform/cassandra/cassandra.context.ts';
import type { Account, Role } from './account.entity.ts';
import type { AccountRepository } from './account.repository.ts';

/** The single partition of account_directory (see cassandra.schema.ts for why one is enough). */
const DIRECTORY = 'accounts';
/** Compare-and-set attempts before addUsage gives up under contention. */
const MAX_CAS_ATTEMPTS = 50;

const COLUMNS = `account_id, username, display_name, role, password_hash, totp_secret_sealed, totp_pending_sealed,
  totp_last_step, quota_bytes, disabled, created_at, updated_at`;

/** null for a missing row, and for the ghost an update leaves when it races a delete (no created_at). */
function toAccount(r: Row | null, usedBytes: number): Account | null {
  const createdAt = r ? dateOrNull(r.get('created_at')) : null;
  if (r === null || createdAt === null) return null;
  return {
    id: r.get('account_id') as string,
    username: r.get('username') as string,
    displayName: r.get('display_name') as string,
    role: r.get('role') as Role,
    passwordHash: r.get('password_hash') as string,
    totpSecretSealed: textOrNull(r.get('totp_secret_sealed')),
    totpPendingSealed: textOrNull(r.get('totp_pending_sealed')),
    totpLastStep: toNumber(r.get('totp_last_step')),
    quotaBytes: toNumber(r.get('quota_bytes')),
    usedBytes,
    disabled: r.get('disabled') === true,
    createdAt,
    updatedAt: dateOrNull(r.get('updated_at')) ?? createdAt,
  };
}

/**
 * Accounts on Cassandra: accounts_by_id holds the account, accounts_by_username reserves the name (LWT),
 * account_directory lists names in order, account_usage holds the quota usage (LWT only).
 *
 * `update` does not write `usedBytes`: usage is only ever changed by `addUsage`'s compare-and-set, since a plain
 * write of a value read earlier would both undo concurrent deliveries and break the LWT's linearisability.
 */
export class CassandraAccountRepository implements AccountRepository {
  private readonly ctx: CassandraContext;
  private readonly usernames: UniqueClaims;
  private readonly q;

  constructor(ctx: CassandraContext) {
    this.ctx = ctx;
    this.usernames = ctx.claims(TABLES.accountsByUsername, ['username'], 'account_id');
    const byId = ctx.table(TABLES.accountsById);
    const usage = ctx.table(TABLES.accountUsage);
    const dir = ctx.table(TABLES.accountDirectory);
    this.q = {
      insert: `INSERT INTO ${byId} (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      insertDirectory: `INSERT INTO ${dir} (directory, username, account_id) VALUES (?, ?, ?)`,
      insertUsage: `INSERT INTO ${usage} (account_id, used_bytes, last_op) VALUES (?, ?, ?) IF NOT EXISTS`,
      byId: `SELECT ${COLUMNS} FROM ${byId} WHERE account_id = ?`,
      usage: `SELECT used_bytes FROM ${usage} WHERE account_id = ?`,
      usageWithOp: `SELECT used_bytes, last_op FROM ${usage} WHERE account_id = ?`,
      casUsage: `UPDATE ${usage} SET used_bytes = ?, last_op = ? WHERE account_id = ? IF used_bytes = ?`,
      firstPage: `SELECT username, account_id FROM ${dir} WHERE directory = ? LIMIT ?`,
      nextPage: `SELECT username, account_id FROM ${dir} WHERE directory = ? AND username > ? LIMIT ?`,
      count: `SELECT count(*) AS n FROM ${dir} WHERE directory = ?`,
      piGet: `SELECT pi FROM ${ctx.table(TABLES.accountPi)} WHERE account_id = ?`,
      piSet: `INSERT INTO ${ctx.table(TABLES.accountPi)} (account_id, pi) VALUES (?, ?)`,
      update: `UPDATE ${byId} SET display_name = ?, role = ?, password_hash = ?, totp_secret_sealed = ?,
        totp_pending_sealed = ?, totp_last_step = ?, quota_bytes = ?, disabled = ?, updated_at = ?
        WHERE account_id = ?`,
    };
  }

  async create(account: Account): Promise<boolean> {
    const claim = await this.usernames.acquire([account.username], account.id, (owner) => this.get(owner));
    if (!claim.won) return false;
    // Usage first: once the account row is visible, addUsage must find its counterpart.
    await this.ctx.lwt(this.q.insertUsage, [account.id, account.usedBytes, 'create']);
    await this.ctx.loggedBatch([
      {
        query: this.q.insert,
        params: [
          account.id,
          account.username,
          account.displayName,
          account.role,
          account.passwordHash,
          account.totpSecretSealed,
          account.totpPendingSealed,
          account.totpLastStep,
          account.quotaBytes,
          account.disabled,
          account.createdAt,
          account.updatedAt,
        ],
      },
      { query: this.q.insertDirectory, params: [DIRECTORY, account.username, account.id] },
    ]);
    return true;
  }

  async get(id: string): Promise<Account | null> {
    const [row, usage] = await Promise.all([this.ctx.one(this.q.byId, [id]), this.ctx.one(this.q.usage, [id])]);
    return toAccount(row, toNumber(usage?.get('used_bytes')));
  }

  async getByUsername(username: string): Promise<Account | null> {
    const owner = await this.usernames.owner([username]);
    if (owner === null) return null;
    const account = await this.get(owner);
    return account?.username === username ? account : null;
  }

  async list(page: { limit: number; afterUsername?: string }): Promise<Account[]> {
    const out: Account[] = [];
    let after = page.afterUsername;
    while (out.length < page.limit) {
      const need = page.limit - out.length;
      const keys =
        after === undefined
          ? await this.ctx.rows(this.q.firstPage, [DIRECTORY, need])
          : await this.ctx.rows(this.q.nextPage, [DIRECTORY, after, need]);
      const accounts = await Promise.all(keys.map((k) => this.get(k.get('account_id') as string)));
      for (const a of accounts) if (a !== null) out.push(a);
      if (keys.length < need) break;
      after = keys.at(-1)!.get('username') as string;
    }
    return out;
  }

  async count(): Promise<number> {
    const row = await this.ctx.one(this.q.count, [DIRECTORY]);
    return toNumber(row?.get('n'));
  }

  async update(account: Account): Promise<void> {
    await this.ctx.write(this.q.update, [
      account.displayName,
      account.role,
      account.passwordHash,
      account.totpSecretSealed,
      account.totpPendingSealed,
      account.totpLastStep,
      account.quotaBytes,
      account.disabled,
      account.updatedAt,
      account.id,
    ]);
  }

  /**
   * Compare-and-set loop on account_usage.used_bytes: read, check the quota, `UPDATE ... IF used_bytes = <read>`;
   * a refused CAS returns the current value and the loop tries again from it. Two deliveries can therefore never
   * both squeeze under the quota.
   */
  async addUsage(id: string, delta: number): Promise<number | null> {
    const [account, usage] = await Promise.all([this.ctx.one(this.q.byId, [id]), this.ctx.one(this.q.usage, [id])]);
    const quota = toAccount(account, 0)?.quotaBytes;
    if (quota === undefined || usage === null) return null;
    const op = randomUUID();
    let current = toNumber(usage.get('used_bytes'));
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const next = Math.max(0, current + delta);
      if (delta > 0 && next > quota) return null;
      let result;
      try {
        result = await this.ctx.lwt(this.q.casUsage, [next, op, id, current]);
      } catch (err) {
        // Outcome unknown (e.g. a timeout once the proposal was accepted): a serial read settles it. Ours applied
        // when last_op is ours; not applied when the value is still the one we compared with.
        const seen = await this.ctx.serialOne(this.q.usageWithOp, [id]).catch(() => null);
        if (seen?.get('last_op') === op) return toNumber(seen.get('used_bytes'));
        if (seen !== null && toNumber(seen.get('used_bytes')) === current) continue;
        throw err;
      }
      if (result.applied) return next;
      const seen = result.row?.get('used_bytes');
      if (seen === null || seen === undefined) return null;
      current = toNumber(seen);
    }
    throw new AppError('conflict', 'The storage usage of this account is too contended right now; retry shortly.');
  }

  async getPi(id: string): Promise<StoredPi | null> {
    const row = await this.ctx.one(this.q.piGet, [id]);
    return row === null ? null : piFromUdt(row.get('pi'));
  }

  async setPi(id: string, pi: StoredPi): Promise<void> {
    await this.ctx.write(this.q.piSet, [id, piToUdt(pi)]);
  }
}
