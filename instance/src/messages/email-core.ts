import type { BlobStore } from '../blobs/blob-store.port.ts';
import { decryptionKeyList, decryptMessage, type DecryptionKeys } from '../openpgp/openpgp.decrypt.ts';
import { ContactService } from '../contacts/contact.service.ts';
import { ConversationResolver } from '../conversations/conversation.resolver.ts';
import { ConversationService } from '../conversations/conversation.service.ts';
import type { JobQueue } from '@caliopen/platform/queue/job-queue.port.ts';
import { SearchIndexer, type IndexerLogger } from '../search/search.indexer.ts';
import type { SearchIndex } from '../search/search.port.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import { UNLABELLED, type InstanceStanding } from '../pi-model/instance-standing.ts';
import { PiService } from '../privacy/pi.service.ts';
import type { Storage } from '../database/storage.port.ts';
import { LateDecryptionService } from './late-decryption.service.ts';
import { MailboxLocks } from '../mail/mailbox-lock.ts';
import { MessageIngestService, type KeyLearner, type OwnAddressSource } from './message-ingest.service.ts';
import type { Message } from '../mail/message.entity.ts';
import type { ParsedMessage } from '../mail/message.parser.ts';
import { MessageService } from './message.service.ts';
import type { EventPublisher } from '../shared/event-bus.ts';
import type { MessageEvents } from './message.events.ts';
import type { PrivacyEvents } from '../privacy/privacy.events.ts';

export interface EmailCore {
  blobs: BlobStore;
  contacts: ContactService;
  conversations: ConversationService;
  messages: MessageService;
  ingest: MessageIngestService;
  /** Privacy Index of every element; its 'pi' queue worker runs in startInstance. */
  privacy: PiService;
  /** Its worker (`indexer.start()`) and the purge worker (`messages.startPurgeWorker()`) run in startInstance. */
  indexer: SearchIndexer;
  /**
   * Encrypted mail that arrived while the account's server-held key was locked, decrypted once it is unlocked
   * (queue 'decrypt-pending'; its worker runs in startInstance). Absent without decryptionKeyOf and keyStorageOf.
   */
  lateDecryption?: LateDecryptionService;
}

/** Wires the email core (contacts, conversations, messages, ingest, indexing) over the engines it is given. */
export function buildEmailCore(deps: {
  /** How arriving mail is parsed (MessageIngestService's `parse`): on worker threads in the instance; inline by default. */
  parse?: (raw: Buffer) => Promise<ParsedMessage>;
  storage: Storage;
  blobs: BlobStore;
  queue: JobQueue;
  search: SearchIndex;
  clock: Clock;
  domain: string;
  logger?: IndexerLogger;
  purgeAfterDays?: number;
  /** This instance's standing at the registry (caps account PIs); unlabelled by default. */
  standing?: InstanceStanding;
  /**
   * The account's private key when the server may use it (server-side key mode, unlocked): encrypted mail is then
   * decrypted at arrival (facts, subject, search). Absent: mail is stored and indexed as it came.
   */
  decryptionKeyOf?: (accountId: string) => Promise<DecryptionKeys | null>;
  /** Where the account's private key lives (the account-keys service answers); 'none' for every account when absent. */
  keyStorageOf?: (accountId: string) => Promise<'none' | 'server' | 'client'>;
  /** More addresses an account owns, and learners of keys from inbound mail (MessageIngestService). */
  ownAddressSources?: readonly OwnAddressSource[];
  keyLearners?: readonly KeyLearner[];
  /** A contact's federation facts (PiService): the federation's key directory answers. */
  federationFacts?: ConstructorParameters<typeof PiService>[0]['federationFacts'];
  /** Where the messages domain tells what it stored and what users changed (`message.stored`, `message.updated`). */
  events?: EventPublisher<MessageEvents & PrivacyEvents>;
}): EmailCore {
  const { storage, blobs, queue, search, clock } = deps;
  const locks = new MailboxLocks();
  const decryptionKeyOf = deps.decryptionKeyOf;
  // A message decrypted at arrival is indexed from its decrypted form, while the account's key is usable.
  const openEncrypted = decryptionKeyOf
    ? async (m: Message, raw: Buffer) => {
        const keys = decryptionKeyList(await decryptionKeyOf(m.accountId));
        if (keys.length === 0) return null;
        const outcome = await decryptMessage(raw, keys, [], clock());
        return outcome.ok ? outcome.content.mime : null;
      }
    : undefined;
  const indexer = new SearchIndexer({
    storage,
    blobs,
    search,
    queue,
    ...(deps.logger ? { logger: deps.logger } : {}),
    ...(openEncrypted ? { openEncrypted } : {}),
  });
  const conversations = new ConversationService(storage);
  const contacts = new ContactService(storage, clock, locks, conversations);
  const resolver = new ConversationResolver(storage, contacts, clock);
  const messages = new MessageService({
    storage,
    blobs,
    search,
    queue,
    indexer,
    conversations,
    locks,
    clock,
    ...(deps.purgeAfterDays !== undefined ? { purgeAfterDays: deps.purgeAfterDays } : {}),
    ...(openEncrypted ? { openEncrypted } : {}),
    ...(deps.events ? { events: deps.events } : {}),
  });
  const privacy = new PiService({
    storage,
    blobs,
    queue,
    clock,
    standing: deps.standing ?? UNLABELLED,
    keysFor: (accountId, addresses) => storage.keys.listByAddresses(accountId, addresses),
    ...(deps.keyStorageOf ? { keyStorageOf: deps.keyStorageOf } : {}),
    ...(decryptionKeyOf ? { decryptionKeyOf } : {}),
    ...(deps.federationFacts ? { federationFacts: deps.federationFacts } : {}),
    ...(deps.events ? { events: deps.events } : {}),
  });
  const lateDecryption =
    decryptionKeyOf && deps.keyStorageOf
      ? new LateDecryptionService({
          storage,
          blobs,
          queue,
          indexer,
          privacy,
          keyStorageOf: deps.keyStorageOf,
          decryptionKeyOf,
          ...(deps.logger ? { logger: deps.logger } : {}),
        })
      : undefined;
  const ingest = new MessageIngestService({
    ...(deps.parse ? { parse: deps.parse } : {}),
    storage,
    blobs,
    resolver,
    conversations,
    indexer,
    locks,
    clock,
    domain: deps.domain,
    privacy,
    ...(lateDecryption ? { pendingDecryption: lateDecryption } : {}),
    ...(deps.ownAddressSources ? { ownAddressSources: deps.ownAddressSources } : {}),
    ...(deps.keyLearners ? { keyLearners: deps.keyLearners } : {}),
    ...(deps.events ? { events: deps.events } : {}),
  });
  return {
    blobs,
    contacts,
    conversations,
    messages,
    ingest,
    privacy,
    indexer,
    ...(lateDecryption ? { lateDecryption } : {}),
  };
}
