import type { BlobStore } from '../blobs/blob-store.port.ts';
import { ContactService } from '../contacts/contact.service.ts';
import { ConversationResolver } from '../conversations/conversation.resolver.ts';
import { ConversationService } from '../conversations/conversation.service.ts';
import type { JobQueue } from '../queue/job-queue.port.ts';
import { SearchIndexer, type IndexerLogger } from '../search/search.indexer.ts';
import type { SearchIndex } from '../search/search.port.ts';
import type { Clock } from '../shared/clock.ts';
import { UNLABELLED, type InstanceStanding } from '../privacy/instance-standing.ts';
import { PiService } from '../privacy/pi.service.ts';
import type { Storage } from '../storage/storage.port.ts';
import { MailboxLocks } from './mailbox-lock.ts';
import { MessageIngestService } from './message-ingest.service.ts';
import { MessageService } from './message.service.ts';

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
}

/** Wires the email core (contacts, conversations, messages, ingest, indexing) over the engines it is given. */
export function buildEmailCore(deps: {
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
}): EmailCore {
  const { storage, blobs, queue, search, clock } = deps;
  const locks = new MailboxLocks();
  const indexer = new SearchIndexer({ storage, blobs, search, queue, ...(deps.logger ? { logger: deps.logger } : {}) });
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
  });
  const privacy = new PiService({
    storage,
    blobs,
    queue,
    clock,
    standing: deps.standing ?? UNLABELLED,
    keysFor: (accountId, addresses) => storage.keys.listByAddresses(accountId, addresses),
  });
  const ingest = new MessageIngestService({ storage, blobs, resolver, conversations, indexer, locks, clock, domain: deps.domain, privacy });
  return {
    blobs,
    contacts,
    conversations,
    messages,
    ingest,
    privacy,
    indexer,
  };
}
