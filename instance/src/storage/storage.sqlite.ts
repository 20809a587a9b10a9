import { SqliteSendAsRepository } from '../identities/send-as.repository.sqlite.ts';
import { SqliteAppPasswordRepository } from '../app-passwords/app-password.repository.sqlite.ts';
import { join } from 'node:path';
import { SqliteAccountRepository } from '../accounts/account.repository.sqlite.ts';
import { SqliteContactRepository } from '../contacts/contact.repository.sqlite.ts';
import { SqliteReplayRepository } from '../federation/replay.repository.sqlite.ts';
import { SqlitePrekeyRepository } from '../federation/prekey.repository.sqlite.ts';
import { SqliteTrustSharingRepository } from '../federation/trust-sharing.repository.sqlite.ts';
import { SqliteAccountDeletionRepository } from '../account-deletion/account-deletion.repository.sqlite.ts';
import { SqliteNoticeRepository } from '../notices/notice.repository.sqlite.ts';
import { SqliteConversationRepository } from '../conversations/conversation.repository.sqlite.ts';
import { SqliteDeviceRepository } from '../devices/device.repository.sqlite.ts';
import { SqliteXmppAccountRepository } from '../xmpp/xmpp-account.repository.sqlite.ts';
import { SqliteRemoteIdentityRepository } from '../identities/remote-identity.repository.sqlite.ts';
import { SqliteAccountKeyRepository } from '../keys/account-key.repository.sqlite.ts';
import { SqliteCorrespondentKeyRepository } from '../keys/public-key.repository.sqlite.ts';
import { SqliteCorrespondenceRepository } from '../messages/correspondence.repository.sqlite.ts';
import { SqliteMessageRepository } from '../messages/message.repository.sqlite.ts';
import { SqliteSessionRepository } from '../sessions/session.repository.sqlite.ts';
import { migrateSqlite, openSqlite, type SqliteDb } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import { WalCommits } from '@caliopen/platform/sqlite/sqlite.wal-sync.ts';
import { SQLITE_MIGRATIONS } from './sqlite.migrations.ts';
import { purgeAccountSqlite, truncateWal } from './account-purge.sqlite.ts';
import type { Storage, UnitOfWork } from '../database/storage.port.ts';

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
  readonly xmppAccounts;
  readonly keys;
  readonly accountKeys;
  readonly correspondence;
  readonly replay;
  readonly trustSharing;
  readonly prekeys;
  readonly notices;
  readonly appPasswords;
  readonly sendAs;
  readonly accountDeletions;

  /** Makes a unit of work's commit, and the replay records', durable off the event loop (ADR 0028). */
  private readonly commits: WalCommits;

  private constructor(db: SqliteDb, path: string) {
    this.db = db;
    this.commits = new WalCommits(db, path);
    const durably = <T>(write: () => T) => this.commits.durably(write);
    this.accounts = new SqliteAccountRepository(db);
    this.devices = new SqliteDeviceRepository(db);
    this.sessions = new SqliteSessionRepository(db);
    this.messages = new SqliteMessageRepository(db);
    this.conversations = new SqliteConversationRepository(db);
    this.contacts = new SqliteContactRepository(db);
    this.remoteIdentities = new SqliteRemoteIdentityRepository(db);
    this.xmppAccounts = new SqliteXmppAccountRepository(db);
    this.keys = new SqliteCorrespondentKeyRepository(db);
    this.accountKeys = new SqliteAccountKeyRepository(db);
    this.correspondence = new SqliteCorrespondenceRepository(db);
    this.replay = new SqliteReplayRepository(db, durably);
    this.trustSharing = new SqliteTrustSharingRepository(db);
    this.prekeys = new SqlitePrekeyRepository(db);
    this.notices = new SqliteNoticeRepository(db);
    this.appPasswords = new SqliteAppPasswordRepository(db);
    this.sendAs = new SqliteSendAsRepository(db);
    this.accountDeletions = new SqliteAccountDeletionRepository(db);
  }

  /** Opens the store and applies pending migrations (statements are prepared against the migrated schema). */
  static open(path: string): SqliteStorage {
    const db = openSqlite(path);
    migrateSqlite(db, SQLITE_MIGRATIONS, 'instance');
    return new SqliteStorage(db, path);
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

  /**
   * Units one at a time, each one transaction (BEGIN IMMEDIATE ... COMMIT). The commit writes the log without waiting
   * for the disk (`synchronous=NORMAL` for that commit only); the unit resolves after the log's fdatasync on libuv's
   * pool (WalSync, ADR 0028): durable when it resolves, as before, without holding the event loop for the disk. Other
   * writes of the connection keep `synchronous=FULL`.
   */
  private unitTail: Promise<void> = Promise.resolve();
  private savepoint = 0;

  /**
   * One transaction held across `work`. The connection is the process's only one, so statements other callers run
   * meanwhile join the transaction: they commit with it. Work done inside is storage work (synchronous under the
   * promises), so a unit is short; items are savepoints, run one at a time.
   */
  async unitOfWork<T>(work: (unit: UnitOfWork) => Promise<T>): Promise<T> {
    const previous = this.unitTail;
    let release!: () => void;
    this.unitTail = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous;
    try {
      const { db } = this;
      // Set outside the transaction (SQLite refuses inside); every statement until COMMIT joins the transaction, so
      // this commit is the only one it applies to.
      this.commits.relax();
      try {
        db.exec('BEGIN IMMEDIATE');
      } catch (e) {
        this.commits.restore();
        throw e;
      }
      let items: Promise<unknown> = Promise.resolve();
      const unit: UnitOfWork = {
        atomic: true,
        item: <R>(fn: () => Promise<R>): Promise<R> => {
          const run = items.then(async () => {
            const name = `unit_item_${++this.savepoint}`;
            db.exec(`SAVEPOINT ${name}`);
            try {
              const result = await fn();
              db.exec(`RELEASE ${name}`);
              return result;
            } catch (e) {
              db.exec(`ROLLBACK TO ${name}`);
              db.exec(`RELEASE ${name}`);
              throw e;
            }
          });
          items = run.catch(() => undefined);
          return run;
        },
      };
      try {
        const result = await work(unit);
        await items;
        db.exec('COMMIT');
        this.commits.restore();
        release();
        await this.commits.sync();
        return result;
      } catch (e) {
        if (db.inTransaction) db.exec('ROLLBACK');
        this.commits.restore();
        throw e;
      }
    } finally {
      release();
    }
  }

  /** One transaction (a unit of work, so it never interleaves with another unit's writes). */
  async purgeAccount(accountId: string): Promise<void> {
    await this.unitOfWork(async () => purgeAccountSqlite(this.db, accountId));
    truncateWal(this.db);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
    await this.commits.close();
  }
}
