/** What the keys domain tells the others (published on the instance's event bus, shared/event-bus.ts). */
export type KeyEvents = {
  /**
   * Keys changed: the account's own keys or their storage mode (`address` null: the account PI moves), or a
   * correspondent's keys (a key added, replaced, verified, rejected — not a mere "seen again": its contact's and
   * messages' PIs move).
   */
  'keys.changed': { accountId: string; address: string | null };
  /** A session now holds an unlock for the account's server-held key: mail that waited for it can be decrypted. */
  'key.unlocked': { accountId: string };
};
