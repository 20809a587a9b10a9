/**
 * Port: a client session on an XMPP server for one linked account, with its server archive (XEP-0313).
 * The adapter (xmpp-session.xmppjs.ts) keeps it connected; the service (xmpp.service.ts) files what it hears.
 */
export interface XmppEndpoint {
  /** Bare JID. */
  jid: string;
  password: string;
  /** Where to connect; null: the JID's domain. */
  host: string | null;
  /** null: 5222. */
  port: number | null;
}

/** TLS of the client-to-server connection, as negotiated by this instance (read from the socket). */
export interface XmppTlsFacts {
  version: string;
  cipher: string;
}

/** End-to-end encryption the stanza claims (its elements are there; nothing here can check them). */
export type XmppE2eClaim = 'omemo' | 'openpgp';

/** One chat message as heard, live or from the archive. Every string is as the server gave it (untrusted). */
export interface ChatStanza {
  /** The archive id (XEP-0359 stanza-id stamped by the account's own server, or the archive result id); null when none. */
  archiveId: string | null;
  /** The sender's own id (XEP-0359 origin-id, else the stanza id). */
  originId: string | null;
  /** Full JIDs as routed by the server. */
  from: string;
  to: string;
  body: string;
  /** XEP-0203 delay (an archived or offline message): when the server received it. */
  delayedAt: Date | null;
  e2e: XmppE2eClaim | null;
  /** Heard from the archive (catch-up) rather than live. */
  fromArchive: boolean;
  /** The TLS of the connection it was heard on (set by the session, not read from the stanza). */
  tls: XmppTlsFacts | null;
}

export interface ArchivePage {
  messages: ChatStanza[];
  /** The id of the last message of the page (the next page starts after it); null when the page is empty. */
  last: string | null;
  complete: boolean;
}

export interface XmppSessionHandlers {
  /** A live chat message with a body (errors, receipts, chat states and group chat never reach here). */
  onMessage(message: ChatStanza): void;
  /** Connected, authenticated, bound (first time and after every reconnect): time to catch up. */
  onOnline(): void;
  /**
   * The connection was lost: the adapter reconnects by itself, except for `auth_failed` (the server refused the
   * password on a reconnection): then it stops and the caller closes the session and tries later.
   */
  onOffline(reason: string): void;
  /** Something a caller may want to know (a stanza ignored, a reconnect failed); never bodies or passwords. */
  onNotice(event: string, detail: Record<string, unknown>): void;
}

export interface XmppSession {
  /** TLS of the current connection; null while not connected. */
  tls(): XmppTlsFacts | null;
  online(): boolean;
  /** Sends a chat message with this id (also its origin-id); resolves once written to the server's TLS stream. */
  send(to: string, body: string, id: string): Promise<void>;
  /** One page of the account's archive after `after` (null: from the start), oldest first. */
  archive(after: string | null, max: number): Promise<ArchivePage>;
  close(): Promise<void>;
}

export interface XmppConnector {
  /** Logs in once and leaves (linking checks the credentials before storing anything). */
  verify(endpoint: XmppEndpoint): Promise<XmppTlsFacts>;
  /** Opens a session that stays up (reconnecting) until closed. Resolves once online the first time. */
  open(endpoint: XmppEndpoint, handlers: XmppSessionHandlers): Promise<XmppSession>;
}
