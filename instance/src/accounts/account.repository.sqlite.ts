import type { SqliteDb } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import type { StoredPi } from '../mail/message.entity.ts';
import { fromMs, jsonOrNull, parseOrNull, toMs } from '@caliopen/platform/sqlite/sqlite.mapping.ts';
import type { Account, Role } from './account.entity.ts';
import type { AccountRepository } from './account.repository.ts';

interface AccountRow {
  id: string;
  username: string;
  display_name: string;
  role: Role;
  password_hash: string;
  totp_secret_sealed: string | null;
  totp_pending_sealed: string | null;
  totp_last_step: number;
  quota_bytes: number;
  used_bytes: number;
  disabled: number;
  created_at: number;
  updated_at: number;
}

const toAccount = (r: AccountRow): Account => ({
  id: r.id,
  username: r.username,
  displayName: r.display_name,
  role: r.role,
  passwordHash: r.password_hash,
  totpSecretSealed: r.totp_secret_sealed,
  totpPendingSealed: r.totp_pending_sealed,
  totpLastStep: r.totp_last_step,
  quotaBytes: r.quota_bytes,
  usedBytes: r.used_bytes,
  disabled: r.disabled === 1,
  createdAt: fromMs(r.created_at),
  updatedAt: fromMs(r.updated_at),
});

export class SqliteAccountRepository implements AccountRepository {
  private readonly insert;
  private readonly byId;
  private readonly byUsername;
  private readonly firstPage;
  private readonly nextPage;
  private readonly total;
  private readonly updateStmt;
  private readonly usage;

  private readonly piGet;
  private readonly piSet;

  constructor(db: SqliteDb) {
    this.insert = db.prepare(
      `INSERT INTO accounts (id, username, display_name, role, password_hash, totp_secret_sealed, totp_pending_sealed,
         totp_last_step, quota_bytes, used_bytes, disabled, created_at, updated_at)
       VALUES (@id, @username, @displayName, @role, @passwordHash, @totpSecretSealed, @totpPendingSealed,
         @totpLastStep, @quotaBytes, @usedBytes, @disabled, @createdAt, @updatedAt)
       ON CONFLICT (username) DO NOTHING`,
    );
    this.byId = db.prepare<[string], AccountRow>('SELECT * FROM accounts WHERE id = ?');
    this.byUsername = db.prepare<[string], AccountRow>('SELECT * FROM accounts WHERE username = ?');
    this.firstPage = db.prepare<[number], AccountRow>('SELECT * FROM accounts ORDER BY username LIMIT ?');
    this.nextPage = db.prepare<[string, number], AccountRow>(
      'SELECT * FROM accounts WHERE username > ? ORDER BY username LIMIT ?',
    );
    this.total = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM accounts');
    this.piGet = db.prepare<[string], { pi_json: string | null }>('SELECT pi_json FROM accounts WHERE id = ?');
    this.piSet = db.prepare<[string | null, string]>('UPDATE accounts SET pi_json = ? WHERE id = ?');
    this.updateStmt = db.prepare(
      `UPDATE accounts SET display_name = @displayName, role = @role, password_hash = @passwordHash,
         totp_secret_sealed = @totpSecretSealed, totp_pending_sealed = @totpPendingSealed,
         totp_last_step = @totpLastStep, quota_bytes = @quotaBytes,
         disabled = @disabled, updated_at = @updatedAt
       WHERE id = @id`,
    );
    // The quota check and the increment are one statement: two concurrent writers cannot both squeeze under it.
    this.usage = db.prepare<[{ id: string; delta: number }], { used_bytes: number }>(
      `UPDATE accounts SET used_bytes = max(0, used_bytes + @delta)
       WHERE id = @id AND (@delta <= 0 OR used_bytes + @delta <= quota_bytes)
       RETURNING used_bytes`,
    );
  }

  private params(a: Account) {
    return {
      ...a,
      disabled: a.disabled ? 1 : 0,
      createdAt: toMs(a.createdAt),
      updatedAt: toMs(a.updatedAt),
    };
  }

  async create(account: Account): Promise<boolean> {
    return this.insert.run(this.params(account)).changes === 1;
  }

  async get(id: string): Promise<Account | null> {
    const r = this.byId.get(id);
    return r ? toAccount(r) : null;
  }

  async getByUsername(username: string): Promise<Account | null> {
    const r = this.byUsername.get(username);
    return r ? toAccount(r) : null;
  }

  async list(page: { limit: number; afterUsername?: string }): Promise<Account[]> {
    const rows =
      page.afterUsername === undefined
        ? this.firstPage.all(page.limit)
        : this.nextPage.all(page.afterUsername, page.limit);
    return rows.map(toAccount);
  }

  async count(): Promise<number> {
    return this.total.get()!.n;
  }

  async update(account: Account): Promise<void> {
    this.updateStmt.run(this.params(account));
  }

  async addUsage(id: string, delta: number): Promise<number | null> {
    const r = this.usage.get({ id, delta });
    return r ? r.used_bytes : null;
  }

  async getPi(id: string): Promise<StoredPi | null> {
    return parseOrNull<StoredPi>(this.piGet.get(id)?.pi_json ?? null);
  }

  async setPi(id: string, pi: StoredPi): Promise<void> {
    this.piSet.run(jsonOrNull(pi), id);
  }
}
