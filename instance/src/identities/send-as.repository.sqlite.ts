import type { SqliteDb } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import type { SendAsRelay, SubmissionTls } from './send-as.entity.ts';
import type { SendAsRepository } from './send-as.repository.ts';

interface Row {
  account_id: string;
  identity_id: string;
  address: string;
  host: string;
  port: number;
  tls: string;
  username: string;
  credential_sealed: string;
  created_at: number;
  updated_at: number;
}

const fromRow = (r: Row): SendAsRelay => ({
  accountId: r.account_id,
  identityId: r.identity_id,
  address: r.address,
  host: r.host,
  port: r.port,
  tls: r.tls as SubmissionTls,
  username: r.username,
  credentialSealed: r.credential_sealed,
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
});

/** Send-as relays in the instance's SQLite store (table send_as_relays). */
export class SqliteSendAsRepository implements SendAsRepository {
  private readonly q;

  constructor(db: SqliteDb) {
    this.q = {
      list: db.prepare('SELECT * FROM send_as_relays WHERE account_id = ? ORDER BY created_at, identity_id'),
      get: db.prepare('SELECT * FROM send_as_relays WHERE account_id = ? AND identity_id = ?'),
      put: db.prepare(
        `INSERT INTO send_as_relays (account_id, identity_id, address, host, port, tls, username, credential_sealed, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (account_id, identity_id) DO UPDATE SET address = excluded.address, host = excluded.host,
           port = excluded.port, tls = excluded.tls, username = excluded.username,
           credential_sealed = excluded.credential_sealed, updated_at = excluded.updated_at`,
      ),
      delete: db.prepare('DELETE FROM send_as_relays WHERE account_id = ? AND identity_id = ?'),
    };
  }

  async listByAccount(accountId: string): Promise<SendAsRelay[]> {
    return (this.q.list.all(accountId) as Row[]).map(fromRow);
  }

  async get(accountId: string, identityId: string): Promise<SendAsRelay | null> {
    const row = this.q.get.get(accountId, identityId) as Row | undefined;
    return row ? fromRow(row) : null;
  }

  async put(r: SendAsRelay): Promise<void> {
    this.q.put.run(
      r.accountId,
      r.identityId,
      r.address,
      r.host,
      r.port,
      r.tls,
      r.username,
      r.credentialSealed,
      r.createdAt.getTime(),
      r.updatedAt.getTime(),
    );
  }

  async delete(accountId: string, identityId: string): Promise<boolean> {
    return this.q.delete.run(accountId, identityId).changes > 0;
  }
}
