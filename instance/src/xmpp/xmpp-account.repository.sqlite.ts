import type { SqliteDb } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import { fromMs, toMs } from '@caliopen/platform/sqlite/sqlite.mapping.ts';
import type { XmppAccount } from './xmpp-account.entity.ts';
import type { XmppAccountRepository } from './xmpp-account.repository.ts';

interface Row {
  id: string;
  account_id: string;
  jid: string;
  host: string | null;
  port: number | null;
  label: string;
  credential_sealed: string;
  archive_cursor: string | null;
  created_at: number;
  updated_at: number;
}

const toLink = (r: Row): XmppAccount => ({
  id: r.id,
  accountId: r.account_id,
  jid: r.jid,
  host: r.host,
  port: r.port,
  label: r.label,
  credentialSealed: r.credential_sealed,
  archiveCursor: r.archive_cursor,
  createdAt: fromMs(r.created_at),
  updatedAt: fromMs(r.updated_at),
});

/** Linked XMPP accounts in the embedded store: `xmpp_accounts` (migration 11). */
export class SqliteXmppAccountRepository implements XmppAccountRepository {
  private readonly insert;
  private readonly one;
  private readonly byAccount;
  private readonly all;
  private readonly cursor;
  private readonly remove;

  constructor(db: SqliteDb) {
    this.insert = db.prepare(
      `INSERT INTO xmpp_accounts (id, account_id, jid, host, port, label, credential_sealed, archive_cursor,
         created_at, updated_at)
       VALUES (@id, @accountId, @jid, @host, @port, @label, @credentialSealed, @archiveCursor, @createdAt, @updatedAt)
       ON CONFLICT (account_id, jid) DO NOTHING`,
    );
    this.one = db.prepare<[string, string], Row>('SELECT * FROM xmpp_accounts WHERE account_id = ? AND id = ?');
    this.byAccount = db.prepare<[string], Row>(
      'SELECT * FROM xmpp_accounts WHERE account_id = ? ORDER BY created_at, id',
    );
    this.all = db.prepare<[], Row>('SELECT * FROM xmpp_accounts ORDER BY created_at, id');
    this.cursor = db.prepare<[string, number, string, string]>(
      'UPDATE xmpp_accounts SET archive_cursor = ?, updated_at = ? WHERE account_id = ? AND id = ?',
    );
    this.remove = db.prepare<[string, string]>('DELETE FROM xmpp_accounts WHERE account_id = ? AND id = ?');
  }

  async create(l: XmppAccount): Promise<boolean> {
    const r = this.insert.run({
      id: l.id,
      accountId: l.accountId,
      jid: l.jid,
      host: l.host,
      port: l.port,
      label: l.label,
      credentialSealed: l.credentialSealed,
      archiveCursor: l.archiveCursor,
      createdAt: toMs(l.createdAt),
      updatedAt: toMs(l.updatedAt),
    });
    return r.changes === 1;
  }

  async get(accountId: string, id: string): Promise<XmppAccount | null> {
    const r = this.one.get(accountId, id);
    return r ? toLink(r) : null;
  }

  async listByAccount(accountId: string): Promise<XmppAccount[]> {
    return this.byAccount.all(accountId).map(toLink);
  }

  async listAll(): Promise<XmppAccount[]> {
    return this.all.all().map(toLink);
  }

  async setArchiveCursor(accountId: string, id: string, cursor: string, at: Date): Promise<boolean> {
    return this.cursor.run(cursor, toMs(at), accountId, id).changes === 1;
  }

  async delete(accountId: string, id: string): Promise<boolean> {
    return this.remove.run(accountId, id).changes === 1;
  }
}
