/** How the connection to a remote IMAP server is protected. */
export type ImapTls = 'implicit' | 'starttls' | 'none';

/** Where an import stands. `idle`: never run. */
export type ImportState = 'idle' | 'queued' | 'running' | 'completed' | 'failed';

/** Progress of one remote folder in the current (or last) import. */
export interface FolderProgress {
  path: string;
  /** Messages to look at in this run (new since the last sync, or the whole folder on a first import or a re-scan); null until the folder is opened. */
  total: number | null;
  /** Messages looked at so far (imported, already present, or skipped). */
  done: number;
  /** Of those, messages that were new to the mailbox. */
  imported: number;
  /** Of those, messages left out (larger than the import limit). */
  skipped: number;
  /**
   * A folder not imported at all, and why: the provider's junk folder (`\Junk`) or its trash (`\Trash`). Their mail
   * stays at the provider; importing it would file spam and what the user threw away among their discussions. Absent
   * (statuses stored before this existed) means imported.
   */
  excluded?: ExcludedFolder;
}

/** Why a remote folder is left at the provider. */
export type ExcludedFolder = 'junk' | 'trash';

/** The state of the latest import of an identity: what the API and the CLI show as progress. */
export interface SyncStatus {
  importId: string | null;
  state: ImportState;
  trigger: 'manual' | 'scheduled' | null;
  queuedAt: Date | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** Written after every batch while running: a running import whose heartbeat stopped was interrupted. */
  heartbeatAt: Date | null;
  lastError: { code: string; message: string } | null;
  folders: FolderProgress[];
  /** End of the last import that completed. */
  lastSuccessAt: Date | null;
}

export const IDLE_SYNC: SyncStatus = {
  importId: null,
  state: 'idle',
  trigger: null,
  queuedAt: null,
  startedAt: null,
  finishedAt: null,
  heartbeatAt: null,
  lastError: null,
  folders: [],
  lastSuccessAt: null,
};

/**
 * A mailbox the account holds elsewhere (another provider's IMAP server) and imports into this instance. The
 * password is never stored in clear: `credentialSealed` is sealed with the instance SecretBox for the purpose
 * `remote-identity:<id>`, so it opens for this identity only.
 */
export interface RemoteIdentity {
  id: string;
  accountId: string;
  kind: 'imap';
  label: string;
  host: string;
  port: number;
  tls: ImapTls;
  username: string;
  credentialSealed: string;
  createdAt: Date;
  updatedAt: Date;
  sync: SyncStatus;
}

/** Per-folder position of the incremental sync: everything up to `lastUid` under `uidValidity` was imported. */
export interface FolderSyncState {
  accountId: string;
  identityId: string;
  path: string;
  /** The folder's UIDVALIDITY (a 32-bit unsigned integer), as a decimal string. */
  uidValidity: string;
  lastUid: number;
  updatedAt: Date;
}

/** The SecretBox purpose a remote identity's password is sealed for. */
export const credentialPurpose = (identityId: string) => `remote-identity:${identityId}`;

/** An identity's name when the user gives none. */
export const defaultLabel = (username: string, host: string) => `${username} on ${host}`;
