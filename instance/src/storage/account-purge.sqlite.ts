import type { SqliteDb } from '@caliopen/platform/sqlite/sqlite.connection.ts';

/**
 * The tables of instance.db that hold rows of one account, keyed by `account_id`, children before parents (the
 * foreign keys cascade anyway; deleting explicitly also covers the tables without one). Every table of the schema
 * with an `account_id` column must be here: storage.sqlite.test.ts checks it against sqlite_master.
 */
export const SQLITE_ACCOUNT_TABLES = [
  'send_as_relays',
  'app_passwords',
  'xmpp_accounts',
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

/**
 * Deletes every row of the account (see Storage.purgeAccount); run inside the store's transaction. With
 * secure_delete on meanwhile, SQLite overwrites the deleted content with zeros instead of leaving it in free space.
 */
export function purgeAccountSqlite(db: SqliteDb, accountId: string): void {
  const previous = db.pragma('secure_delete', { simple: true }) as number;
  db.pragma('secure_delete = ON');
  try {
    for (const table of SQLITE_ACCOUNT_TABLES) db.prepare(`DELETE FROM ${table} WHERE account_id = ?`).run(accountId);
    db.prepare('DELETE FROM accounts WHERE id = ?').run(accountId);
  } finally {
    db.pragma(`secure_delete = ${previous === 1 ? 'ON' : 'OFF'}`);
  }
}

/** After the purge's commit: the write-ahead log, which still holds the pages as they were, is emptied. */
export function truncateWal(db: SqliteDb): void {
  db.pragma('wal_checkpoint(TRUNCATE)');
}
