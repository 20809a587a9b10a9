import type { AccountRepository } from '../accounts/account.repository.ts';
import type { ContactRepository } from '../contacts/contact.repository.ts';
import type { ConversationRepository } from '../conversations/conversation.repository.ts';
import type { DeviceRepository } from '../devices/device.repository.ts';
import type { RemoteIdentityRepository } from '../identities/remote-identity.repository.ts';
import type { AccountKeyRepository } from '../keys/account-key.repository.ts';
import type { CorrespondentKeyRepository } from '../keys/public-key.repository.ts';
import type { CorrespondenceRepository } from '../messages/correspondence.repository.ts';
import type { MessageRepository } from '../messages/message.repository.ts';
import type { SessionRepository } from '../sessions/session.repository.ts';

/**
 * The instance's storage: one repository per domain, all on one engine chosen by configuration.
 * Adapters: storage.sqlite.ts (embedded default), storage.cassandra.ts (scale). Both pass storage.conformance.ts.
 */
export interface Storage {
  readonly engine: 'sqlite' | 'cassandra';
  readonly accounts: AccountRepository;
  readonly devices: DeviceRepository;
  readonly sessions: SessionRepository;
  readonly messages: MessageRepository;
  readonly conversations: ConversationRepository;
  readonly contacts: ContactRepository;
  /** Remote mailboxes (IMAP) of an account and their per-folder sync state. */
  readonly remoteIdentities: RemoteIdentityRepository;
  /** The account's own correspondence (sent Message-IDs, addresses written to), for the importance model. */
  readonly correspondence: CorrespondenceRepository;
  /** Correspondents' OpenPGP public keys (per account and address), as trust on first use pins them. */
  readonly keys: CorrespondentKeyRepository;
  /** The account's own OpenPGP keys (and, in server mode, its wrapped and sealed private key). */
  readonly accountKeys: AccountKeyRepository;
  /** Applies pending schema migrations; idempotent, safe to call at every start. Resolves the schema version. */
  migrate(): Promise<number>;
  /** true when the engine answers. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
