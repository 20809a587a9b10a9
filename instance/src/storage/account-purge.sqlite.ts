import type { SqliteDb } from '@caliopen/platform/sqlite/sqlite.connection.ts';

/**
 * The tables of instance.db that hold rows of one account, keyed by `account_id`, children before parents (the
 * foreign keys cascade anyway; deleting explicitly also covers the tables without one). Every table of the schema
 * with an `account_id` column must be here: storage.sqlite.test.ts checks it against sqlite_master.
 */
export const SQLITE_ACCOUNT_TABLES = [
  'imap_folder_states',
  'remote_identities',
  'contact_identities',
  'contacts',
  'messages',
  'conversations',
  'sent_message_ids',
  'written_addresses',
  'correspondent_keys',
  'account_keys',
  'sessions',
  'devices',
  'trust_sharing',
  'notice_delivery_failures',
  'notice_dismissals',
  'account_deletions',
] as const;

/** Deletes every row of the account (see Storage.purgeAccount); run inside the store's transaction. */
export function purgeAccountSqlite(db: SqliteDb, accountId: string): void {
  for (const table of SQLITE_ACCOUNT_TABLES) db.prepare(`DELETE FROM ${table} WHERE account_id = ?`).run(accountId);
  db.prepare('DELETE FROM accounts WHERE id = ?').run(accountId);
}
