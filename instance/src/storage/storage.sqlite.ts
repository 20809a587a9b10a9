import { join } from 'node:path';
import { SqliteAccountRepository } from '../accounts/account.repository.sqlite.ts';
import { SqliteContactRepository } from '../contacts/contact.repository.sqlite.ts';
import { SqliteConversationRepository } from '../conversations/conversation.repository.sqlite.ts';
import { SqliteDeviceRepository } from '../devices/device.repository.sqlite.ts';
import { SqliteRemoteIdentityRepository } from '../identities/remote-identity.repository.sqlite.ts';
import { SqliteAccountKeyRepository } from '../keys/account-key.repository.sqlite.ts';
import { SqliteCorrespondentKeyRepository } from '../keys/public-key.repository.sqlite.ts';
import { SqliteCorrespondenceRepository } from '../messages/correspondence.repository.sqlite.ts';
import { SqliteMessageRepository } from '../messages/message.repository.sqlite.ts';
import { SqliteSessionRepository } from '../sessions/session.repository.sqlite.ts';
import { migrateSqlite, openSqlite, type SqliteDb } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import { SQLITE_MIGRATIONS } from './sqlite.migrations.ts';
import type { Storage } from '../database/storage.port.ts';

/** The embedded store: one SQLite file (`<dataDir>/instance.db`, WAL) holding every domain table. */
export class SqliteStorage implements Storage {
  readonly engine = 'sqlite' as const;
  readonly db: SqliteDb;
  readonly accounts;
  readonly devices;
  readonly sessions;
  readonly messages;
  readonly conversations;
  readonly contacts;
  readonly remoteIdentities;
  readonly keys;
  readonly accountKeys;
  readonly correspondence;

  private constructor(db: SqliteDb) {
    this.db = db;
    this.accounts = new SqliteAccountRepository(db);
    this.devices = new SqliteDeviceRepository(db);
    this.sessions = new SqliteSessionRepository(db);
    this.messages = new SqliteMessageRepository(db);
    this.conversations = new SqliteConversationRepository(db);
    this.contacts = new SqliteContactRepository(db);
    this.remoteIdentities = new SqliteRemoteIdentityRepository(db);
    this.keys = new SqliteCorrespondentKeyRepository(db);
    this.accountKeys = new SqliteAccountKeyRepository(db);
    this.correspondence = new SqliteCorrespondenceRepository(db);
  }

  /** Opens the store and applies pending migrations (statements are prepared against the migrated schema). */
  static open(path: string): SqliteStorage {
    const db = openSqlite(path);
    migrateSqlite(db, SQLITE_MIGRATIONS, 'instance');
    return new SqliteStorage(db);
  }

  static inDataDir(dataDir: string): SqliteStorage {
    return SqliteStorage.open(join(dataDir, 'instance.db'));
  }

  async migrate(): Promise<number> {
    return migrateSqlite(this.db, SQLITE_MIGRATIONS, 'instance');
  }

  async ping(): Promise<boolean> {
    return this.db.prepare('SELECT 1 AS ok').get() !== undefined;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
