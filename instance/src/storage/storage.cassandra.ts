import { CassandraSendAsRepository } from '../identities/send-as.repository.cassandra.ts';
import { CassandraAppPasswordRepository } from '../app-passwords/app-password.repository.cassandra.ts';
import type { Client } from 'cassandra-driver';
import {
  CassandraContext,
  type CassandraOptions,
  connectCassandra,
} from '@caliopen/platform/cassandra/cassandra.context.ts';
import { migrateKeyspace } from '@caliopen/platform/cassandra/cassandra.migrator.ts';
import { CassandraAccountRepository } from '../accounts/account.repository.cassandra.ts';
import { CassandraContactRepository } from '../contacts/contact.repository.cassandra.ts';
import { CassandraReplayRepository } from '../federation/replay.repository.cassandra.ts';
import { CassandraPrekeyRepository } from '../federation/prekey.repository.cassandra.ts';
import { CassandraTrustSharingRepository } from '../federation/trust-sharing.repository.cassandra.ts';
import { CassandraAccountDeletionRepository } from '../account-deletion/account-deletion.repository.cassandra.ts';
import { CassandraNoticeRepository } from '../notices/notice.repository.cassandra.ts';
import { CassandraConversationRepository } from '../conversations/conversation.repository.cassandra.ts';
import { CassandraDeviceRepository } from '../devices/device.repository.cassandra.ts';
import { CassandraXmppAccountRepository } from '../xmpp/xmpp-account.repository.cassandra.ts';
import { CassandraRemoteIdentityRepository } from '../identities/remote-identity.repository.cassandra.ts';
import { CassandraAccountKeyRepository } from '../keys/account-key.repository.cassandra.ts';
import { CassandraCorrespondentKeyRepository } from '../keys/public-key.repository.cassandra.ts';
import { CassandraCorrespondenceRepository } from '../messages/correspondence.repository.cassandra.ts';
import { CassandraMessageRepository } from '../messages/message.repository.cassandra.ts';
import { CassandraSessionRepository } from '../sessions/session.repository.cassandra.ts';
import { AppError } from '../shared/errors.ts';
import { CASSANDRA_MIGRATIONS } from '../database/cassandra.schema.ts';
import type { Storage, UnitOfWork } from '../database/storage.port.ts';
import { purgeAccountCassandra } from './account-purge.cassandra.ts';

/**
 * The distributed store: every domain table in one Cassandra keyspace (cassandra.schema.ts). Chosen by
 * configuration when the instance runs on more than one machine; passes storage.conformance.ts. The context, the
 * uniqueness claims, the connection and the migration runner are the platform's (@caliopen/platform/cassandra).
 */
export class CassandraStorage implements Storage {
  readonly engine = 'cassandra' as const;
  readonly client: Client;
  readonly context: CassandraContext;
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
  private readonly options: CassandraOptions;
  /** Settles when the unit of work running now (if any) has ended. */
  private unitTail: Promise<void> = Promise.resolve();

  private constructor(client: Client, options: CassandraOptions) {
    this.client = client;
    this.options = options;
    this.context = new CassandraContext(
      client,
      options.keyspace,
      options.consistency,
      (message) => new AppError('conflict', message),
    );
    this.accounts = new CassandraAccountRepository(this.context);
    this.devices = new CassandraDeviceRepository(this.context);
    this.sessions = new CassandraSessionRepository(this.context);
    this.messages = new CassandraMessageRepository(this.context);
    this.conversations = new CassandraConversationRepository(this.context);
    this.contacts = new CassandraContactRepository(this.context);
    this.remoteIdentities = new CassandraRemoteIdentityRepository(this.context);
    this.xmppAccounts = new CassandraXmppAccountRepository(this.context);
    this.keys = new CassandraCorrespondentKeyRepository(this.context);
    this.accountKeys = new CassandraAccountKeyRepository(this.context);
    this.correspondence = new CassandraCorrespondenceRepository(this.context);
    this.replay = new CassandraReplayRepository(this.context);
    this.trustSharing = new CassandraTrustSharingRepository(this.context);
    this.prekeys = new CassandraPrekeyRepository(this.context);
    this.notices = new CassandraNoticeRepository(this.context);
    this.appPasswords = new CassandraAppPasswordRepository(this.context);
    this.sendAs = new CassandraSendAsRepository(this.context);
    this.accountDeletions = new CassandraAccountDeletionRepository(this.context);
  }

  /**
   * Connects to the cluster. The keyspace need not exist yet: statements name it explicitly, and migrate()
   * creates it. Call migrate() before the first use of a new keyspace.
   */
  static async connect(options: CassandraOptions): Promise<CassandraStorage> {
    return new CassandraStorage(await connectCassandra(options), options);
  }

  /**
   * Creates the keyspace when missing, then applies pending migrations under a cluster-wide lock. Idempotent;
   * resolves the schema version. Refuses a keyspace whose schema is newer than this code.
   */
  async migrate(): Promise<number> {
    return migrateKeyspace(this.client, this.context, this.options, {
      component: 'instance',
      migrations: CASSANDRA_MIGRATIONS,
    });
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.context.one('SELECT release_version FROM system.local', [])) !== null;
    } catch {
      return false;
    }
  }

  /**
   * Cassandra has no multi-table transaction: the unit's writes are sequential, each durable when it resolves (the
   * repositories' writes are idempotent, so work interrupted part-way is completed by doing it again). Not atomic:
   * callers compensate a failed item's counter updates. Units of this process run one at a time, as the port
   * promises (the real server showed two units interleaving): each waits for the previous one, and a unit ends only
   * once its items have settled, even when `work` throws.
   */
  async unitOfWork<T>(work: (unit: UnitOfWork) => Promise<T>): Promise<T> {
    const previous = this.unitTail;
    let release!: () => void;
    this.unitTail = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous;
    let items: Promise<unknown> = Promise.resolve();
    const unit: UnitOfWork = {
      atomic: false,
      item: <R>(fn: () => Promise<R>): Promise<R> => {
        const run = items.then(fn);
        items = run.catch(() => undefined);
        return run;
      },
    };
    try {
      return await work(unit);
    } finally {
      await items;
      release();
    }
  }

  /** Idempotent deletes of every partition of the account (account-purge.cassandra.ts). */
  async purgeAccount(accountId: string): Promise<void> {
    const { context: ctx, accounts, messages, conversations, contacts, remoteIdentities } = this;
    await purgeAccountCassandra({ ctx, accounts, messages, conversations, contacts, remoteIdentities }, accountId);
  }

  async close(): Promise<void> {
    await this.client.shutdown();
  }
}
