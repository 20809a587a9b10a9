import { dateOrNull, textOrNull, toNumber } from '@caliopen/platform/cassandra/cassandra.schema.ts';
import { TABLES } from '../database/cassandra.schema.ts';
import type { CassandraContext, Row } from '@caliopen/platform/cassandra/cassandra.context.ts';
import { syncFromJson, syncToJson } from './remote-identity.codec.ts';
import type { FolderSyncState, ImapTls, RemoteIdentity, SyncStatus } from './remote-identity.entity.ts';
import type { RemoteIdentityRepository } from './remote-identity.repository.ts';

const IDENTITY_COLUMNS = `account_id, identity_id, kind, label, host, port, tls, username, credential_sealed, sync_json,
  created_at, updated_at`;
const FOLDER_COLUMNS = 'account_id, identity_id, folder_path, uid_validity, last_uid, updated_at';

/** null for a missing row, and for a partial one (a progress write that raced a delete: no created_at). */
function toIdentity(r: Row | null): RemoteIdentity | null {
  const createdAt = r ? dateOrNull(r.get('created_at')) : null;
  if (r === null || createdAt === null) return null;
  return {
    id: r.get('identity_id') as string,
    accountId: r.get('account_id') as string,
    kind: 'imap',
    label: textOrNull(r.get('label')) ?? '',
    host: r.get('host') as string,
    port: r.get('port') as number,
    tls: r.get('tls') as ImapTls,
    username: r.get('username') as string,
    credentialSealed: r.get('credential_sealed') as string,
    createdAt,
    updatedAt: dateOrNull(r.get('updated_at')) ?? createdAt,
    sync: syncFromJson(textOrNull(r.get('sync_json'))),
  };
}

const toFolder = (r: Row): FolderSyncState => ({
  accountId: r.get('account_id') as string,
  identityId: r.get('identity_id') as string,
  path: r.get('folder_path') as string,
  uidValidity: r.get('uid_validity') as string,
  lastUid: toNumber(r.get('last_uid')),
  updatedAt: dateOrNull(r.get('updated_at')) ?? new Date(0),
});

/**
 * Remote identities on Cassandra: one partition per account for the identities (a handful of rows), one partition
 * per identity for its folder states (one row per remote folder). No uniqueness to defend, so no LWT: a sync of an
 * identity is run by one worker at a time (the import job's lease), which makes the read-then-write of putFolder safe
 * in practice; a lost race only makes the next sync look at a few messages again, which ingest deduplicates.
 */
export class CassandraRemoteIdentityRepository implements RemoteIdentityRepository {
  private readonly ctx: CassandraContext;
  private readonly q;

  constructor(ctx: CassandraContext) {
    this.ctx = ctx;
    const t = ctx.table(TABLES.remoteIdentitiesByAccount);
    const f = ctx.table(TABLES.imapFolderStates);
    this.q = {
      insert: `INSERT INTO ${t} (${IDENTITY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      one: `SELECT ${IDENTITY_COLUMNS} FROM ${t} WHERE account_id = ? AND identity_id = ?`,
      all: `SELECT ${IDENTITY_COLUMNS} FROM ${t} WHERE account_id = ?`,
      sync: `UPDATE ${t} SET sync_json = ?, updated_at = ? WHERE account_id = ? AND identity_id = ?`,
      credential: `UPDATE ${t} SET credential_sealed = ?, label = ?, updated_at = ? WHERE account_id = ? AND identity_id = ?`,
      remove: `DELETE FROM ${t} WHERE account_id = ? AND identity_id = ?`,
      removeFolders: `DELETE FROM ${f} WHERE account_id = ? AND identity_id = ?`,
      folders: `SELECT ${FOLDER_COLUMNS} FROM ${f} WHERE account_id = ? AND identity_id = ?`,
      folder: `SELECT ${FOLDER_COLUMNS} FROM ${f} WHERE account_id = ? AND identity_id = ? AND folder_path = ?`,
      putFolder: `INSERT INTO ${f} (${FOLDER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`,
    };
  }

  async create(i: RemoteIdentity): Promise<void> {
    await this.ctx.write(this.q.insert, [
      i.accountId,
      i.id,
      i.kind,
      i.label,
      i.host,
      i.port,
      i.tls,
      i.username,
      i.credentialSealed,
      syncToJson(i.sync),
      i.createdAt,
      i.updatedAt,
    ]);
  }

  async get(accountId: string, id: string): Promise<RemoteIdentity | null> {
    return toIdentity(await this.ctx.one(this.q.one, [accountId, id]));
  }

  async listByAccount(accountId: string): Promise<RemoteIdentity[]> {
    const all = (await this.ctx.rows(this.q.all, [accountId]))
      .map(toIdentity)
      .filter((i): i is RemoteIdentity => i !== null);
    return all.sort(
      (a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
  }

  async updateSync(accountId: string, id: string, sync: SyncStatus, at: Date): Promise<boolean> {
    // Checking first keeps unknown ids from leaving partial rows; a write racing a delete leaves one, which reads skip.
    if ((await this.get(accountId, id)) === null) return false;
    await this.ctx.write(this.q.sync, [syncToJson(sync), at, accountId, id]);
    return true;
  }

  async updateCredential(
    accountId: string,
    id: string,
    change: { credentialSealed: string; label: string },
    at: Date,
  ): Promise<boolean> {
    // As updateSync: checked first, so that an unknown id leaves no partial row.
    if ((await this.get(accountId, id)) === null) return false;
    await this.ctx.write(this.q.credential, [change.credentialSealed, change.label, at, accountId, id]);
    return true;
  }

  async delete(accountId: string, id: string): Promise<boolean> {
    if ((await this.get(accountId, id)) === null) return false;
    // The identity row and its folder-state partition go together.
    await this.ctx.loggedBatch([
      { query: this.q.remove, params: [accountId, id] },
      { query: this.q.removeFolders, params: [accountId, id] },
    ]);
    return true;
  }

  async listFolders(accountId: string, identityId: string): Promise<FolderSyncState[]> {
    const rows = (await this.ctx.rows(this.q.folders, [accountId, identityId])).map(toFolder);
    return rows.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async putFolder(s: FolderSyncState): Promise<void> {
    if ((await this.get(s.accountId, s.identityId)) === null) return;
    const current = await this.ctx.one(this.q.folder, [s.accountId, s.identityId, s.path]);
    if (
      current !== null &&
      current.get('uid_validity') === s.uidValidity &&
      toNumber(current.get('last_uid')) >= s.lastUid
    )
      return;
    await this.ctx.write(this.q.putFolder, [s.accountId, s.identityId, s.path, s.uidValidity, s.lastUid, s.updatedAt]);
  }
}
