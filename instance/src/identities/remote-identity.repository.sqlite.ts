import type { SqliteDb } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import { fromMs, toMs } from '@caliopen/platform/sqlite/sqlite.mapping.ts';
import { syncFromJson, syncToJson } from './remote-identity.codec.ts';
import type { FolderSyncState, ImapTls, RemoteIdentity, SyncStatus } from './remote-identity.entity.ts';
import type { RemoteIdentityRepository } from './remote-identity.repository.ts';

interface IdentityRow {
  id: string;
  account_id: string;
  kind: 'imap';
  label: string;
  host: string;
  port: number;
  tls: ImapTls;
  username: string;
  credential_sealed: string;
  sync_json: string;
  created_at: number;
  updated_at: number;
}

interface FolderRow {
  account_id: string;
  identity_id: string;
  path: string;
  uid_validity: string;
  last_uid: number;
  updated_at: number;
}

const toIdentity = (r: IdentityRow): RemoteIdentity => ({
  id: r.id,
  accountId: r.account_id,
  kind: r.kind,
  label: r.label,
  host: r.host,
  port: r.port,
  tls: r.tls,
  username: r.username,
  credentialSealed: r.credential_sealed,
  createdAt: fromMs(r.created_at),
  updatedAt: fromMs(r.updated_at),
  sync: syncFromJson(r.sync_json),
});

const toFolder = (r: FolderRow): FolderSyncState => ({
  accountId: r.account_id,
  identityId: r.identity_id,
  path: r.path,
  uidValidity: r.uid_validity,
  lastUid: r.last_uid,
  updatedAt: fromMs(r.updated_at),
});

/** Remote identities in the embedded store: `remote_identities` and `imap_folder_states` (migration 2). */
export class SqliteRemoteIdentityRepository implements RemoteIdentityRepository {
  private readonly insert;
  private readonly one;
  private readonly byAccount;
  private readonly sync;
  private readonly credential;
  private readonly remove;
  private readonly folders;
  private readonly upsertFolder;

  constructor(db: SqliteDb) {
    this.insert = db.prepare(
      `INSERT INTO remote_identities (id, account_id, kind, label, host, port, tls, username, credential_sealed,
         sync_json, created_at, updated_at)
       VALUES (@id, @accountId, @kind, @label, @host, @port, @tls, @username, @credentialSealed,
         @syncJson, @createdAt, @updatedAt)`,
    );
    this.one = db.prepare<[string, string], IdentityRow>(
      'SELECT * FROM remote_identities WHERE account_id = ? AND id = ?',
    );
    this.byAccount = db.prepare<[string], IdentityRow>(
      'SELECT * FROM remote_identities WHERE account_id = ? ORDER BY created_at, id',
    );
    this.sync = db.prepare<[string, number, string, string]>(
      'UPDATE remote_identities SET sync_json = ?, updated_at = ? WHERE account_id = ? AND id = ?',
    );
    this.credential = db.prepare<[string, string, number, string, string]>(
      'UPDATE remote_identities SET credential_sealed = ?, label = ?, updated_at = ? WHERE account_id = ? AND id = ?',
    );
    // Folder states go with the identity (ON DELETE CASCADE).
    this.remove = db.prepare<[string, string]>('DELETE FROM remote_identities WHERE account_id = ? AND id = ?');
    this.folders = db.prepare<[string, string], FolderRow>(
      'SELECT * FROM imap_folder_states WHERE account_id = ? AND identity_id = ? ORDER BY path',
    );
    this.upsertFolder = db.prepare(
      `INSERT INTO imap_folder_states (account_id, identity_id, path, uid_validity, last_uid, updated_at)
       SELECT @accountId, @identityId, @path, @uidValidity, @lastUid, @updatedAt
       WHERE EXISTS (SELECT 1 FROM remote_identities WHERE account_id = @accountId AND id = @identityId)
       ON CONFLICT (identity_id, path) DO UPDATE SET
         last_uid = CASE WHEN uid_validity = excluded.uid_validity THEN max(last_uid, excluded.last_uid) ELSE excluded.last_uid END,
         uid_validity = excluded.uid_validity,
         updated_at = excluded.updated_at
       WHERE account_id = excluded.account_id`,
    );
  }

  async create(i: RemoteIdentity): Promise<void> {
    this.insert.run({
      id: i.id,
      accountId: i.accountId,
      kind: i.kind,
      label: i.label,
      host: i.host,
      port: i.port,
      tls: i.tls,
      username: i.username,
      credentialSealed: i.credentialSealed,
      syncJson: syncToJson(i.sync),
      createdAt: toMs(i.createdAt),
      updatedAt: toMs(i.updatedAt),
    });
  }

  async get(accountId: string, id: string): Promise<RemoteIdentity | null> {
    const r = this.one.get(accountId, id);
    return r ? toIdentity(r) : null;
  }

  async listByAccount(accountId: string): Promise<RemoteIdentity[]> {
    return this.byAccount.all(accountId).map(toIdentity);
  }

  async updateSync(accountId: string, id: string, sync: SyncStatus, at: Date): Promise<boolean> {
    return this.sync.run(syncToJson(sync), toMs(at), accountId, id).changes === 1;
  }

  async updateCredential(
    accountId: string,
    id: string,
    change: { credentialSealed: string; label: string },
    at: Date,
  ): Promise<boolean> {
    return this.credential.run(change.credentialSealed, change.label, toMs(at), accountId, id).changes === 1;
  }

  async delete(accountId: string, id: string): Promise<boolean> {
    return this.remove.run(accountId, id).changes === 1;
  }

  async listFolders(accountId: string, identityId: string): Promise<FolderSyncState[]> {
    return this.folders.all(accountId, identityId).map(toFolder);
  }

  async putFolder(s: FolderSyncState): Promise<void> {
    this.upsertFolder.run({
      accountId: s.accountId,
      identityId: s.identityId,
      path: s.path,
      uidValidity: s.uidValidity,
      lastUid: s.lastUid,
      updatedAt: toMs(s.updatedAt),
    });
  }
}
