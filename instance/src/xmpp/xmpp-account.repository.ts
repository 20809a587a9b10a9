import type { XmppAccount } from './xmpp-account.entity.ts';

/** Port: the XMPP accounts linked to the instance's accounts. Every per-account access is scoped to the owner. */
export interface XmppAccountRepository {
  /** Resolves false when the account already links that JID (nothing written). */
  create(link: XmppAccount): Promise<boolean>;
  get(accountId: string, id: string): Promise<XmppAccount | null>;
  /** The account's links, oldest first. */
  listByAccount(accountId: string): Promise<XmppAccount[]>;
  /** Every link of the instance (the sessions to open at start-up). */
  listAll(): Promise<XmppAccount[]>;
  /** Records the archive position caught up to. Resolves false when the link does not exist (deleted meanwhile). */
  setArchiveCursor(accountId: string, id: string, cursor: string, at: Date): Promise<boolean>;
  /** Resolves false when there was none. */
  delete(accountId: string, id: string): Promise<boolean>;
}

/** This domain's repository on the instance's storage (database/storage.port.ts). */
declare module '../database/storage.port.ts' {
  interface Storage {
    /** XMPP accounts linked to the instance's accounts. */
    readonly xmppAccounts: XmppAccountRepository;
  }
}
