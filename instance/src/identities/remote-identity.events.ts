/** What the remote identities domain tells the others (published on the instance's event bus, shared/event-bus.ts). */
export type RemoteIdentityEvents = {
  /** A remote mailbox (IMAP) was added to an account: its scheduled re-sync can start. */
  'remote-identity.added': { accountId: string; identityId: string };
};
