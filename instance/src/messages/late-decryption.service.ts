import type { BlobStore } from '../blobs/blob-store.port.ts';
import { normaliseEmailAddress } from '../mail/address.normalise.ts';
import { decryptionKeyList, type DecryptionKeys } from '../openpgp/openpgp.decrypt.ts';
import type { PiService } from '../privacy/pi.service.ts';
import type { JobQueue, Worker } from '@caliopen/platform/queue/job-queue.port.ts';
import type { SearchIndexer } from '../search/search.indexer.ts';
import type { Storage } from '../database/storage.port.ts';
import { contentView, examineContent, type PendingDecryption } from './message-ingest.service.ts';
import type { Message } from '../mail/message.entity.ts';
import { parseMessage } from '../mail/message.parser.ts';
import type { DecryptionUpdate } from './message.repository.ts';

export const DECRYPT_PENDING_QUEUE = 'decrypt-pending';

/** A job of the 'decrypt-pending' queue: the account's pending mail, in bounded batches. Carries an id only. */
export interface DecryptPendingJob {
  accountId: string;
}

/** Messages read per batch, and batches per job (then a follow-up job is queued: other accounts get their turn). */
export const LATE_DECRYPTION_BATCH = 50;
export const LATE_DECRYPTION_MAX_BATCHES = 20;

export interface LateDecryptionOutcome {
  decrypted: number;
  /** Messages none of the account's unlocked keys could open: left as they were, never tried again. */
  givenUp: number;
  /** A follow-up job was queued (more was pending than one job takes). */
  more: boolean;
}

interface Logger {
  warn(obj: object, msg: string): void;
}

/**
 * Late decryption: encrypted mail that reached an account in server-side key mode while its key was locked (after
 * a restart, before the user signed in again) is marked at ingest (`facts.openpgp.pendingDecryption: true`) and
 * stored as it came: outer subject, no readable body. When the key becomes usable (a login, or the key moved to the
 * server within a session), a job of the 'decrypt-pending' queue takes the account's marked messages, oldest first,
 * in bounded batches, and runs ingest's own examination on each (examineContent, contentView): inner subject,
 * snippet, signature facts inside, `decrypted: true`. The message is updated in place (setDecryption), rescored,
 * re-indexed from its decrypted form, and its conversation and the account rescored. The raw blob is never
 * rewritten (ciphertext stays ciphertext); nothing decrypted reaches the blob store.
 *
 * A message that none of the unlocked keys opens (not for them, altered, hostile) loses its marker and keeps its
 * facts, with the reason in `problem`: it is not tried again. A job whose key is locked again stops and leaves the
 * rest marked for the next unlock. Idempotent: a re-run finds only what is still marked.
 */
export class LateDecryptionService implements PendingDecryption {
  constructor(
    private readonly deps: {
      storage: Storage;
      blobs: BlobStore;
      queue: JobQueue;
      indexer: SearchIndexer;
      privacy: PiService;
      keyStorageOf: (accountId: string) => Promise<'none' | 'server' | 'client'>;
      decryptionKeyOf: (accountId: string) => Promise<DecryptionKeys | null>;
      logger?: Logger;
    },
  ) {}

  /** Server-side key mode with no key usable now: encrypted mail arriving now waits. */
  async isLocked(accountId: string): Promise<boolean> {
    if ((await this.deps.keyStorageOf(accountId)) !== 'server') return false;
    return decryptionKeyList(await this.deps.decryptionKeyOf(accountId).catch(() => null)).length === 0;
  }

  /** Server-side key mode and at least one key usable now. */
  async isUnlocked(accountId: string): Promise<boolean> {
    if ((await this.deps.keyStorageOf(accountId)) !== 'server') return false;
    return decryptionKeyList(await this.deps.decryptionKeyOf(accountId).catch(() => null)).length > 0;
  }

  /** Queues the account's job. Jobs of one account may pile up harmlessly: each finds only what is still marked. */
  async schedule(accountId: string): Promise<void> {
    await this.deps.queue.enqueue<DecryptPendingJob>(
      DECRYPT_PENDING_QUEUE,
      'decrypt-pending',
      { accountId },
      { attempts: 5, backoff: { type: 'exponential', baseDelayMs: 1000 } },
    );
  }

  async scheduleIfUnlocked(accountId: string): Promise<void> {
    if (await this.isUnlocked(accountId)) await this.schedule(accountId);
  }

  /** The key hook: the account's key was just unlocked. Queues a job only when something is pending (one index read). */
  async keyUnlocked(accountId: string): Promise<void> {
    if ((await this.deps.storage.messages.listPendingDecryption(accountId, 1)).length > 0)
      await this.schedule(accountId);
  }

  startWorker(): Worker {
    return this.deps.queue.process<DecryptPendingJob>(
      DECRYPT_PENDING_QUEUE,
      async (job) => {
        const accountId = (job.payload as Partial<DecryptPendingJob> | null)?.accountId;
        if (typeof accountId !== 'string' || accountId === '') return; // a malformed job is dropped, not retried
        await this.run(accountId);
      },
      { concurrency: 1 },
    );
  }

  /** Works through the account's pending mail, at most LATE_DECRYPTION_BATCH × LATE_DECRYPTION_MAX_BATCHES messages. */
  async run(accountId: string): Promise<LateDecryptionOutcome> {
    const outcome: LateDecryptionOutcome = { decrypted: 0, givenUp: 0, more: false };
    if (!(await this.isUnlocked(accountId))) return outcome;
    const contacts = new Set<string>();
    const conversations = new Set<string>();
    try {
      for (let batch = 0; batch < LATE_DECRYPTION_MAX_BATCHES; batch++) {
        const pending = await this.deps.storage.messages.listPendingDecryption(accountId, LATE_DECRYPTION_BATCH);
        for (const m of pending) {
          const result = await this.decryptOne(m);
          if (result === 'locked') return outcome; // locked again: the rest waits for the next unlock
          if (result === 'decrypted') {
            outcome.decrypted++;
            conversations.add(m.conversationId);
            if (m.direction === 'inbound' && m.from.contactId !== null) contacts.add(m.from.contactId);
          } else {
            outcome.givenUp++;
          }
        }
        if (pending.length < LATE_DECRYPTION_BATCH) return outcome;
      }
      if ((await this.deps.storage.messages.listPendingDecryption(accountId, 1)).length > 0) {
        await this.schedule(accountId);
        outcome.more = true;
      }
      return outcome;
    } finally {
      // What depends on the messages' PI: their conversations, their senders, the account (through the 'pi' queue).
      for (const conversationId of conversations)
        await this.deps.privacy.refreshConversation(accountId, conversationId);
      for (const contactId of contacts) await this.deps.privacy.enqueue({ kind: 'contact-pi', accountId, contactId });
      if (outcome.decrypted > 0) await this.deps.privacy.enqueue({ kind: 'summary', accountId });
    }
  }

  private async decryptOne(m: Message): Promise<'decrypted' | 'given-up' | 'locked'> {
    const { storage, blobs, privacy } = this.deps;
    const before = (m.facts['openpgp'] ?? {}) as Record<string, unknown>;
    const raw = m.rawRef === null ? null : await blobs.get(m.rawRef);
    let problem: string | null = raw === null ? 'Not decrypted: the raw message is missing.' : null;
    let update: DecryptionUpdate | null = null;
    if (raw !== null) {
      try {
        const parsed = await parseMessage(raw);
        const sender = m.direction === 'inbound' ? (normaliseEmailAddress(parsed.from?.address ?? '') ?? '') : '';
        const { openpgp, inner } = await examineContent(privacy, m.accountId, sender, raw, m.direction);
        if (openpgp !== null && openpgp['decrypted'] === true) {
          update = { content: contentView(parsed, inner), openpgp, pi: null };
        } else {
          problem = typeof openpgp?.['problem'] === 'string' ? openpgp['problem'] : 'Not decrypted.';
        }
      } catch (e) {
        // examineContent never throws on hostile input; anything else is told (no content, no key) and given up.
        this.deps.logger?.warn(
          { accountId: m.accountId, messageId: m.id, reason: e instanceof Error ? e.name : 'error' },
          'late decryption: message could not be examined',
        );
        problem = 'Not decrypted: the message could not be examined.';
      }
    }
    if (update === null) {
      // Not opened: the key may have been locked meanwhile (then the message stays marked), else it is given up.
      if (!(await this.isUnlocked(m.accountId))) return 'locked';
      const { pendingDecryption: _, ...rest } = before;
      update = {
        content: null,
        openpgp: { ...rest, problem: problem ?? (rest['problem'] as string | null | undefined) ?? null },
        pi: m.pi,
      };
    }
    const next: Message = { ...m, ...(update.content ?? {}), facts: { ...m.facts, openpgp: update.openpgp } };
    const pi = await privacy.messagePi(next);
    update.pi = { score: pi.score, level: pi.level, modelVersion: pi.modelVersion };
    const stored = await storage.messages.setDecryption(m.accountId, m.id, update);
    if (stored === null) return 'given-up'; // purged meanwhile
    if (update.content === null) return 'given-up';
    // Re-indexed from its decrypted form (a fresh job: the arrival's one indexed the ciphertext).
    await this.deps.indexer.enqueue(m.accountId, m.id);
    return 'decrypted';
  }
}
