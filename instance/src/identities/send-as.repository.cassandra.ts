import type { CassandraContext, Row } from '@caliopen/platform/cassandra/cassandra.context.ts';
import { TABLES } from '../database/cassandra.schema.ts';
import type { SendAsRelay, SubmissionTls } from './send-as.entity.ts';
import type { SendAsRepository } from './send-as.repository.ts';

const COLUMNS = 'identity_id, address, host, port, tls, username, credential_sealed, created_at, updated_at';

/** Send-as relays on Cassandra (table send_as_relays, one partition per account). */
export class CassandraSendAsRepository implements SendAsRepository {
  private readonly ctx: CassandraContext;
  private readonly q;

  constructor(ctx: CassandraContext) {
    this.ctx = ctx;
    const t = ctx.table(TABLES.sendAsRelays);
    this.q = {
      list: `SELECT ${COLUMNS} FROM ${t} WHERE account_id = ?`,
      get: `SELECT ${COLUMNS} FROM ${t} WHERE account_id = ? AND identity_id = ?`,
      put: `INSERT INTO ${t} (account_id, ${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      delete: `DELETE FROM ${t} WHERE account_id = ? AND identity_id = ?`,
    };
  }

  private fromRow(accountId: string, r: Row): SendAsRelay {
    return {
      accountId,
      identityId: r.get('identity_id') as string,
      address: r.get('address') as string,
      host: r.get('host') as string,
      port: r.get('port') as number,
      tls: r.get('tls') as SubmissionTls,
      username: r.get('username') as string,
      credentialSealed: r.get('credential_sealed') as string,
      createdAt: r.get('created_at') as Date,
      updatedAt: r.get('updated_at') as Date,
    };
  }

  async listByAccount(accountId: string): Promise<SendAsRelay[]> {
    return (await this.ctx.rows(this.q.list, [accountId]))
      .map((r) => this.fromRow(accountId, r))
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.identityId.localeCompare(b.identityId));
  }

  async get(accountId: string, identityId: string): Promise<SendAsRelay | null> {
    const row = await this.ctx.one(this.q.get, [accountId, identityId]);
    return row ? this.fromRow(accountId, row) : null;
  }

  async put(r: SendAsRelay): Promise<void> {
    await this.ctx.write(this.q.put, [
      r.accountId,
      r.identityId,
      r.address,
      r.host,
      r.port,
      r.tls,
      r.username,
      r.credentialSealed,
      r.createdAt,
      r.updatedAt,
    ]);
  }

  async delete(accountId: string, identityId: string): Promise<boolean> {
    if (!(await this.ctx.one(this.q.get, [accountId, identityId]))) return false;
    await this.ctx.write(this.q.delete, [accountId, identityId]);
    return true;
  }
}
