import type { PiSuggestion, PrivacyIndex } from '@caliopen/federation-protocol';
import type { EventPublisher } from '../shared/event-bus.ts';
import type { PrivacyEvents } from './privacy.events.ts';
import type { BlobStore } from '../blobs/blob-store.port.ts';
import type { Contact } from '../contacts/contact.entity.ts';
import type { Storage } from '../database/storage.port.ts';
import type { Device } from '../devices/device.entity.ts';
import type { CorrespondentKey } from '../keys/public-key.entity.ts';
import type { DeliveryFact } from '../mail/delivery.fact.ts';
import type { Message, StoredPi } from '../mail/message.entity.ts';
import type { DecryptionKeys } from '../openpgp/openpgp.decrypt.ts';
import type { ContactPiFacts } from '../pi-model/contact-pi.model.ts';
import type { InstanceStanding } from '../pi-model/instance-standing.ts';
import type { JobQueue, Worker } from '@caliopen/platform/queue/job-queue.port.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import type { OpenPgpExamination } from './openpgp.facts.ts';
import { PiOpenPgp } from './pi.openpgp.ts';
import { type PiJob, PiRecompute } from './pi.recompute.worker.ts';
import { PiScoring, type SeenFrom } from './pi.scoring.ts';

export { PI_QUEUE, type PiJob } from './pi.recompute.worker.ts';
export { RECENT_EXCHANGES, type SeenFrom, summaryOf } from './pi.scoring.ts';

/**
 * Computes, stores and recomputes the Privacy Index of every element. The models are pure (pi-model/*.model.ts);
 * this service gathers their facts from storage and writes the results back. Recomputation goes through the 'pi'
 * queue: a change of input enqueues a PiJob for what depends on it, scoped to one account.
 *
 * A facade over its three parts, one file each (issue 11): scoring (pi.scoring.ts), the recomputation queue and its
 * worker (pi.recompute.worker.ts), the OpenPGP examination and decryption (pi.openpgp.ts).
 */
export class PiService {
  private readonly scoring: PiScoring;
  private readonly recomputation: PiRecompute;
  private readonly openPgp: PiOpenPgp;

  constructor(deps: {
    storage: Storage;
    blobs: BlobStore;
    queue: JobQueue;
    clock: Clock;
    standing: InstanceStanding;
    /** Where the account's private key lives (the keys service answers; 'none' until it exists). */
    keyStorageOf?: (accountId: string) => Promise<'none' | 'server' | 'client'>;
    /** Correspondents' keys for some addresses (storage.keys once it exists). */
    keysFor?: (accountId: string, addresses: readonly string[]) => Promise<CorrespondentKey[]>;
    /**
     * The account's private key when the server may use it (server-side key mode, unlocked by a session); null
     * otherwise. Encrypted mail is then decrypted to check the signature inside (openpgp.facts.ts examineOpenPgp).
     */
    decryptionKeyOf?: (accountId: string) => Promise<DecryptionKeys | null>;
    /** A contact's facts as a member instance gives them (label, instance PI, shared account PI): the federation's. */
    federationFacts?: (addresses: readonly string[]) => Promise<ContactPiFacts['federation']>;
    /** Told `conversation.pi-changed` when a discussion's stored PI moves. */
    events?: EventPublisher<PrivacyEvents>;
  }) {
    this.scoring = new PiScoring(deps);
    this.openPgp = new PiOpenPgp(deps);
    this.recomputation = new PiRecompute({ ...deps, scoring: this.scoring, openPgp: this.openPgp });
  }

  // --- messages -------------------------------------------------------------------------------------------------

  /** A correspondent the user made or kept, or has written to. */
  isKnown(accountId: string, contactId: string | null, address: string): Promise<boolean> {
    return this.scoring.isKnown(accountId, contactId, address);
  }

  /** The message's full PI, computed now from its stored facts. */
  messagePi(message: Message): Promise<PrivacyIndex> {
    return this.scoring.messagePi(message);
  }

  /** See PiOpenPgp.openPgpFacts. */
  openPgpFacts(accountId: string, sender: string, raw: Buffer, stored?: unknown): Promise<Record<string, unknown>> {
    return this.openPgp.openPgpFacts(accountId, sender, raw, stored);
  }

  /** See PiOpenPgp.examineOpenPgp. */
  examineOpenPgp(
    accountId: string,
    sender: string,
    raw: Buffer,
    direction: 'inbound' | 'outbound',
    senderKeys?: CorrespondentKey[],
    plaintext?: Buffer,
  ): Promise<OpenPgpExamination> {
    return this.openPgp.examineOpenPgp(accountId, sender, raw, direction, senderKeys, plaintext);
  }

  /** See PiScoring.recordDelivery. */
  recordDelivery(accountId: string, messageId: string, fact: DeliveryFact): Promise<void> {
    return this.scoring.recordDelivery(accountId, messageId, fact);
  }

  /** Recomputes the conversation's PI from its newest messages and stores it. */
  refreshConversation(accountId: string, conversationId: string): Promise<void> {
    return this.scoring.refreshConversation(accountId, conversationId);
  }

  // --- contacts -------------------------------------------------------------------------------------------------

  contactPi(contact: Contact, seen?: SeenFrom): Promise<PrivacyIndex> {
    return this.scoring.contactPi(contact, seen);
  }

  /** Recomputes and stores a contact's PI; `seen` (from a bulk pass over their messages) spares the scan. */
  refreshContact(accountId: string, contactId: string, seen?: SeenFrom): Promise<void> {
    return this.scoring.refreshContact(accountId, contactId, seen);
  }

  // --- devices and the account ----------------------------------------------------------------------------------

  devicePi(device: Device): PrivacyIndex {
    return this.scoring.devicePi(device);
  }

  accountPi(accountId: string): Promise<PrivacyIndex> {
    return this.scoring.accountPi(accountId);
  }

  storeAccountPi(accountId: string, pi: StoredPi): Promise<void> {
    return this.scoring.storeAccountPi(accountId, pi);
  }

  /** Recomputes and stores the devices' and the account's PIs. */
  refreshSummary(accountId: string): Promise<StoredPi> {
    return this.scoring.refreshSummary(accountId);
  }

  /** See PiScoring.overview (GET /api/v1/privacy). */
  overview(
    accountId: string,
  ): Promise<{ account: PrivacyIndex; suggestions: (PiSuggestion & { elementScore: number })[] }> {
    return this.scoring.overview(accountId);
  }

  // --- recomputation --------------------------------------------------------------------------------------------

  enqueue(job: PiJob): Promise<void> {
    return this.recomputation.enqueue(job);
  }

  startWorker(): Worker {
    return this.recomputation.startWorker();
  }

  run(job: PiJob): Promise<void> {
    return this.recomputation.run(job);
  }

  /** See PiRecompute.recomputeContact. */
  recomputeContact(accountId: string, contactId: string): Promise<void> {
    return this.recomputation.recomputeContact(accountId, contactId);
  }

  /** Every element of the account, in bulk: messages page by page (one write transaction per page), then the rest. */
  recomputeAccount(accountId: string): Promise<{ messages: number }> {
    return this.recomputation.recomputeAccount(accountId);
  }

  /** See PiRecompute.scheduleModelUpgrade. */
  scheduleModelUpgrade(): Promise<number> {
    return this.recomputation.scheduleModelUpgrade();
  }
}
