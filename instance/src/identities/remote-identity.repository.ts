import type { FolderSyncState, RemoteIdentity, SyncStatus } from './remote-identity.entity.ts';

/** Port: remote identities of an account and the per-folder sync state of each. Every access is scoped to the owning account. */
export interface RemoteIdentityRepository {
  create(identity: RemoteIdentity): Promise<void>;
  get(accountId: string, id: string): Promise<RemoteIdentity | null>;
  /** Identities of the account, oldest first. */
  listByAccount(accountId: string): Promise<RemoteIdentity[]>;
  /** Replaces the sync status (import progress). Resolves false when the identity does not exist (deleted meanwhile). */
  updateSync(accountId: string, id: string, sync: SyncStatus, at: Date): Promise<boolean>;
  /**
   * Replaces the sealed password and the name (the user changed them), leaving the sync status and the folder
   * positions alone. Resolves false when the identity does not exist.
   */
  updateCredential(
    accountId: string,
    id: string,
    change: { credentialSealed: string; label: string },
    at: Date,
  ): Promise<boolean>;
  /** Removes the identity and its folder states. Resolves false when there was none. */
  delete(accountId: string, id: string): Promise<boolean>;
  listFolders(accountId: string, identityId: string): Promise<FolderSyncState[]>;
  /**
   * Records a folder's position. Under the same UIDVALIDITY the position never goes back (a late writer cannot
   * undo a newer one); a new UIDVALIDITY replaces it.
   */
  putFolder(state: FolderSyncState): Promise<void>;
}

/** This domain's repository on the instance's storage (database/storage.port.ts). */
declare module '../database/storage.port.ts' {
  interface Storage {
    /** Remote mailboxes (IMAP) of an account and their per-folder sync state. */
    readonly remoteIdentities: RemoteIdentityRepository;
  }
}
