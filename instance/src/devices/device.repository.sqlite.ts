import type { SqliteDb } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import { fromMs, fromMsOrNull, toMs, toMsOrNull } from '@caliopen/platform/sqlite/sqlite.mapping.ts';
import type { StoredPi } from '../mail/message.entity.ts';
import { jsonOrNull, parseOrNull } from '@caliopen/platform/sqlite/sqlite.mapping.ts';
import type { Device, DeviceType } from './device.entity.ts';
import type { DeviceRepository } from './device.repository.ts';

interface DeviceRow {
  id: string;
  account_id: string;
  name: string;
  type: DeviceType;
  os: string | null;
  os_version: string | null;
  browser: string | null;
  browser_version: string | null;
  user_agent: string;
  first_seen_at: number;
  last_seen_at: number;
  revoked_at: number | null;
  pi_json: string | null;
}

const toDevice = (r: DeviceRow): Device => ({
  id: r.id,
  accountId: r.account_id,
  name: r.name,
  type: r.type,
  os: r.os,
  osVersion: r.os_version,
  browser: r.browser,
  browserVersion: r.browser_version,
  userAgent: r.user_agent,
  firstSeenAt: fromMs(r.first_seen_at),
  lastSeenAt: fromMs(r.last_seen_at),
  revokedAt: fromMsOrNull(r.revoked_at),
  pi: parseOrNull<StoredPi>(r.pi_json),
});

export class SqliteDeviceRepository implements DeviceRepository {
  private readonly insert;
  private readonly one;
  private readonly byAccount;
  private readonly touchStmt;
  private readonly revokeStmt;
  private readonly piStmt;

  constructor(db: SqliteDb) {
    this.insert = db.prepare(
      `INSERT INTO devices (id, account_id, name, type, os, os_version, browser, browser_version, user_agent,
         first_seen_at, last_seen_at, revoked_at)
       VALUES (@id, @accountId, @name, @type, @os, @osVersion, @browser, @browserVersion, @userAgent,
         @firstSeenAt, @lastSeenAt, @revokedAt)`,
    );
    this.one = db.prepare<[string, string], DeviceRow>('SELECT * FROM devices WHERE account_id = ? AND id = ?');
    this.byAccount = db.prepare<[string], DeviceRow>(
      'SELECT * FROM devices WHERE account_id = ? ORDER BY last_seen_at DESC, id DESC',
    );
    this.touchStmt = db.prepare<[number, string, string]>(
      'UPDATE devices SET last_seen_at = max(last_seen_at, ?) WHERE account_id = ? AND id = ?',
    );
    this.piStmt = db.prepare<[string | null, string, string]>(
      'UPDATE devices SET pi_json = ? WHERE account_id = ? AND id = ?',
    );
    this.revokeStmt = db.prepare<[number, string, string]>(
      'UPDATE devices SET revoked_at = ? WHERE account_id = ? AND id = ? AND revoked_at IS NULL',
    );
  }

  async create(d: Device): Promise<void> {
    const { pi: _pi, ...row } = d;
    this.insert.run({
      ...row,
      firstSeenAt: toMs(d.firstSeenAt),
      lastSeenAt: toMs(d.lastSeenAt),
      revokedAt: toMsOrNull(d.revokedAt),
    });
  }

  async get(accountId: string, id: string): Promise<Device | null> {
    const r = this.one.get(accountId, id);
    return r ? toDevice(r) : null;
  }

  async listByAccount(accountId: string): Promise<Device[]> {
    return this.byAccount.all(accountId).map(toDevice);
  }

  async touch(accountId: string, id: string, at: Date): Promise<void> {
    this.touchStmt.run(toMs(at), accountId, id);
  }

  async revoke(accountId: string, id: string, at: Date): Promise<boolean> {
    return this.revokeStmt.run(toMs(at), accountId, id).changes === 1;
  }

  async setPi(accountId: string, id: string, pi: StoredPi): Promise<void> {
    this.piStmt.run(jsonOrNull(pi), accountId, id);
  }
}
