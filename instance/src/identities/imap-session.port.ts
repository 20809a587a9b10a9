import type { ImapTls } from './remote-identity.entity.ts';

/** Where and how to log in to a remote IMAP server. Holds the password in clear: never log it, never store it. */
export interface ImapEndpoint {
  host: string;
  port: number;
  tls: ImapTls;
  username: string;
  password: string;
}

export interface RemoteFolder {
  path: string;
  /** IMAP special-use attribute (`\Sent`, `\Drafts`, `\Junk`...; `\Inbox` for INBOX), or null. */
  specialUse: string | null;
}

export interface OpenedFolder {
  /** UIDVALIDITY as a decimal string. */
  uidValidity: string;
  uidNext: number;
  exists: number;
}

export interface RemoteMessageSize {
  uid: number;
  size: number;
}

export interface FetchedMessage {
  uid: number;
  source: Buffer;
  flags: Set<string>;
  internalDate: Date | null;
}

/**
 * Port: one logged-in session on a remote mailbox, read-only. The adapter (imap-session.imapflow.ts) turns every
 * failure into an AppError with an imap_* code.
 */
export interface ImapSession {
  /** Folders that can be opened (\Noselect and \NonExistent ones are left out). */
  listFolders(): Promise<RemoteFolder[]>;
  /** Opens `path` read-only for the duration of `fn`. */
  withFolder<T>(path: string, fn: (folder: OpenedFolder) => Promise<T>): Promise<T>;
  /** UIDs of the open folder's messages from `fromUid` on, ascending. */
  uidsFrom(fromUid: number): Promise<number[]>;
  sizes(uids: readonly number[]): Promise<RemoteMessageSize[]>;
  /** The messages of these UIDs (those still there), streamed one by one. */
  fetch(uids: readonly number[]): AsyncIterable<FetchedMessage>;
  close(): Promise<void>;
}

export interface ImapConnector {
  connect(endpoint: ImapEndpoint): Promise<ImapSession>;
  /** Logs in and out: resolves when the credentials work, throws an imap_* AppError otherwise. */
  verify(endpoint: ImapEndpoint): Promise<void>;
}
