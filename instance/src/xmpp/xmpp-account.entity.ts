/**
 * An XMPP account the user holds (on any server) and linked to this instance: the instance keeps a client session
 * open for it, files every chat message it sends or receives through the one ingest port, and sends the user's
 * replies over it. The password is never stored in clear: `credentialSealed` is sealed with the instance SecretBox
 * for the purpose `xmpp-account:<id>`, so it opens for this link only.
 */
export interface XmppAccount {
  id: string;
  accountId: string;
  /** The bare JID, normalised (lowercased, no resource). */
  jid: string;
  /** Where to connect when not the JID's domain (no SRV lookup then); null: the JID's domain, port 5222. */
  host: string | null;
  port: number | null;
  label: string;
  credentialSealed: string;
  /**
   * The server archive (XEP-0313) id of the newest message caught up to: a reconnect asks the archive for what came
   * after it, so a disconnect loses nothing. null: never caught up (the first catch-up reads the whole archive).
   */
  archiveCursor: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** The SecretBox purpose a linked XMPP account's password is sealed for. */
export const xmppCredentialPurpose = (id: string) => `xmpp-account:${id}`;
