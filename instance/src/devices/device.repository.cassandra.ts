import type { StoredPi } from '../mail/message.entity.ts';
import { dateOrNull, textOrNull } from '@caliopen/platform/cassandra/cassandra.schema.ts';
import { piFromUdt, piToUdt, TABLES } from '../database/cassandra.schema.ts';
import type { CassandraContext, Row } from '@caliopen/platform/cassandra/cassandra.context.ts';
import type { Device, DeviceType } from './device.entity.ts';
import type { DeviceRepository } from './device.repository.ts';

const COLUMNS = `account_id, device_id, name, device_type, os, os_version, browser, browser_version, user_agent,
  first_seen_at, last_seen_at, revoked_at`;

/** Write timestamps are in microseconds; a sighting's time (ms) becomes the timestamp of its last_seen_at cell. */
const micros = (d: Date) => d.getTime() * 1000;

/** null for a missing row, and for a partial one (no first_seen_at: never created through `create`). */
function toDevice(r: Row | null): Device | null {
  const firstSeenAt = r ? dateOrNull(r.get('first_seen_at')) : null;
  if (r === null || firstSeenAt === null) return null;
  return {
    id: r.get('device_id') as string,
    accountId: r.get('account_id') as string,
    name: r.get('name') as string,
    type: r.get('device_type') as DeviceType,
    os: textOrNull(r.get('os')),
    osVersion: textOrNull(r.get('os_version')),
    browser: textOrNull(r.get('browser')),
    browserVersion: textOrNull(r.get('browser_version')),
    userAgent: r.get('user_agent') as string,
    firstSeenAt,
    lastSeenAt: dateOrNull(r.get('last_seen_at')) ?? firstSeenAt,
    revokedAt: dateOrNull(r.get('revoked_at')),
    pi: null,
  };
}

/**
 * Devices on Cassandra: one partition per account (a handful of rows), ordered by last sighting in memory.
 * last_seen_at is only ever written with `USING TIMESTAMP <seen time>`: Cassandra keeps the cell with the highest
 * timestamp, so the latest sighting wins whatever order touches arrive in, without a read-modify-write.
 */
export class CassandraDeviceRepository implements DeviceRepository {
  private readonly ctx: CassandraContext;
  private readonly q;

  constructor(ctx: CassandraContext) {
    this.ctx = ctx;
    const t = ctx.table(TABLES.devicesByAccount);
    this.q = {
      insert: `INSERT INTO ${t} (account_id, device_id, name, device_type, os, os_version, browser, browser_version,
        user_agent, first_seen_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      seen: `UPDATE ${t} USING TIMESTAMP ? SET last_seen_at = ? WHERE account_id = ? AND device_id = ?`,
      one: `SELECT ${COLUMNS} FROM ${t} WHERE account_id = ? AND device_id = ?`,
      all: `SELECT ${COLUMNS} FROM ${t} WHERE account_id = ?`,
      revoke: `UPDATE ${t} SET revoked_at = ? WHERE account_id = ? AND device_id = ?`,
      pi: `INSERT INTO ${ctx.table(TABLES.devicePi)} (account_id, device_id, pi) VALUES (?, ?, ?)`,
      piOne: `SELECT pi FROM ${ctx.table(TABLES.devicePi)} WHERE account_id = ? AND device_id = ?`,
      piAll: `SELECT device_id, pi FROM ${ctx.table(TABLES.devicePi)} WHERE account_id = ?`,
    };
  }

  async create(d: Device): Promise<void> {
    // One partition, so an unlogged batch is atomic; it lets the two statements carry different write timestamps.
    await this.ctx.partitionBatch([
      {
        query: this.q.insert,
        params: [
          d.accountId,
          d.id,
          d.name,
          d.type,
          d.os,
          d.osVersion,
          d.browser,
          d.browserVersion,
          d.userAgent,
          d.firstSeenAt,
          d.revokedAt,
        ],
      },
      { query: this.q.seen, params: [micros(d.lastSeenAt), d.lastSeenAt, d.accountId, d.id] },
    ]);
  }

  async get(accountId: string, id: string): Promise<Device | null> {
    const device = toDevice(await this.ctx.one(this.q.one, [accountId, id]));
    if (device === null) return null;
    const pi = await this.ctx.one(this.q.piOne, [accountId, id]);
    return { ...device, pi: pi === null ? null : piFromUdt(pi.get('pi')) };
  }

  async listByAccount(accountId: string): Promise<Device[]> {
    const pis = new Map(
      (await this.ctx.rows(this.q.piAll, [accountId])).map((r) => [
        r.get('device_id') as string,
        piFromUdt(r.get('pi')),
      ]),
    );
    const devices = (await this.ctx.rows(this.q.all, [accountId]))
      .map(toDevice)
      .filter((d): d is Device => d !== null)
      .map((d) => ({ ...d, pi: pis.get(d.id) ?? null }));
    return devices.sort(
      (a, b) => b.lastSeenAt.getTime() - a.lastSeenAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0),
    );
  }

  async touch(accountId: string, id: string, at: Date): Promise<void> {
    // Devices are never deleted, so checking first cannot race with a removal; it keeps unknown ids from
    // leaving partial rows behind.
    if ((await this.get(accountId, id)) === null) return;
    await this.ctx.write(this.q.seen, [micros(at), at, accountId, id]);
  }

  async revoke(accountId: string, id: string, at: Date): Promise<boolean> {
    const device = await this.get(accountId, id);
    if (device === null || device.revokedAt !== null) return false;
    await this.ctx.write(this.q.revoke, [at, accountId, id]);
    return true;
  }

  async setPi(accountId: string, id: string, pi: StoredPi): Promise<void> {
    if ((await this.get(accountId, id)) === null) return;
    await this.ctx.write(this.q.pi, [accountId, id, piToUdt(pi)]);
  }
}
