import { dateOrNull, textOrNull } from '@caliopen/platform/cassandra/cassandra.schema.ts';
import { TABLES } from '../database/cassandra.schema.ts';
import type { CassandraContext, Row } from '@caliopen/platform/cassandra/cassandra.context.ts';
import type { XmppAccount } from './xmpp-account.entity.ts';
import type { XmppAccountRepository } from './xmpp-account.repository.ts';

const COLUMNS = `account_id, link_id, jid, host, port, label, credential_sealed, archive_cursor, created_at, updated_at`;

/** null for a missing row, and for a partial one (a cursor write that raced a delete: no created_at). */
function toLink(r: Row | null): XmppAccount | null {
  const createdAt = r ? dateOrNull(r.get('created_at')) : null;
  if (r === null || createdAt === null) return null;
  const port = r.get('port') as number | null;
  return {
    id: r.get('link_id') as string,
    accountId: r.get('account_id') as string,
    jid: r.get('jid') as string,
    host: textOrNull(r.get('host')),
    port: typeof port === 'number' ? port : null,
    label: textOrNull(r.get('label')) ?? '',
    credentialSealed: r.get('credential_sealed') as string,
    archiveCursor: textOrNull(r.get('archive_cursor')),
    createdAt,
    updatedAt: dateOrNull(r.get('updated_at')) ?? createdAt,
  };
}

const byAge = (a: XmppAccount, b: XmppAccount) =>
  a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Linked XMPP accounts on Cassandra: one partition per account (a handful of rows). The one-link-per-JID rule is
 * checked by reading the partition first (a user linking the same JID twice at the same instant could get two rows;
 * both then run the same session, and ingest deduplicates what they file). `listAll` scans the small table at start-up.
 */
export class CassandraXmppAccountRepository implements XmppAccountRepository {
  private readonly ctx: CassandraContext;
  private readonly q;

  constructor(ctx: CassandraContext) {
    this.ctx = ctx;
    const t = ctx.table(TABLES.xmppAccountsByAccount);
    this.q = {
      insert: `INSERT INTO ${t} (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      one: `SELECT ${COLUMNS} FROM ${t} WHERE account_id = ? AND link_id = ?`,
      byAccount: `SELECT ${COLUMNS} FROM ${t} WHERE account_id = ?`,
      all: `SELECT ${COLUMNS} FROM ${t}`,
      cursor: `UPDATE ${t} SET archive_cursor = ?, updated_at = ? WHERE account_id = ? AND link_id = ?`,
      remove: `DELETE FROM ${t} WHERE account_id = ? AND link_id = ?`,
    };
  }

  async create(l: XmppAccount): Promise<boolean> {
    if ((await this.listByAccount(l.accountId)).some((x) => x.jid === l.jid)) return false;
    await this.ctx.write(this.q.insert, [
      l.accountId,
      l.id,
      l.jid,
      l.host,
      l.port,
      l.label,
      l.credentialSealed,
      l.archiveCursor,
      l.createdAt,
      l.updatedAt,
    ]);
    return true;
  }

  async get(accountId: string, id: string): Promise<XmppAccount | null> {
    return toLink(await this.ctx.one(this.q.one, [accountId, id]));
  }

  async listByAccount(accountId: string): Promise<XmppAccount[]> {
    return (await this.ctx.rows(this.q.byAccount, [accountId]))
      .map(toLink)
      .filter((l): l is XmppAccount => l !== null)
      .sort(byAge);
  }

  async listAll(): Promise<XmppAccount[]> {
    return (await this.ctx.rows(this.q.all, []))
      .map(toLink)
      .filter((l): l is XmppAccount => l !== null)
      .sort(byAge);
  }

  async setArchiveCursor(accountId: string, id: string, cursor: string, at: Date): Promise<boolean> {
    if ((await this.get(accountId, id)) === null) return false;
    await this.ctx.write(this.q.cursor, [cursor, at, accountId, id]);
    return true;
  }

  async delete(accountId: string, id: string): Promise<boolean> {
    if ((await this.get(accountId, id)) === null) return false;
    await this.ctx.write(this.q.remove, [accountId, id]);
    return true;
  }
}
