import type { BlobStore } from '../blobs/blob-store.port.ts';
import type { ConversationService } from '../conversations/conversation.service.ts';
import type { JobQueue, Worker } from '@caliopen/platform/queue/job-queue.port.ts';
import type { SearchIndexer } from '../search/search.indexer.ts';
import { parseSearchQuery } from '../search/search.query-parser.ts';
import type { SearchIndex } from '../search/search.port.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import { AppError } from '../shared/errors.ts';
import type { Storage } from '../database/storage.port.ts';
import type { MailboxLocks } from '../mail/mailbox-lock.ts';
import { cleanTags } from './message-ingest.service.ts';
import type { ImportanceFeedback } from '../mail/importance.model.ts';
import { assessImportance, withFeedback } from './importance.service.ts';
import type { Message, MessageFlags } from '../mail/message.entity.ts';
import type { SpamFacts } from '../mail/message.facts.ts';
import { attachmentOf, parseMessage, type ParsedAttachment, type ParsedMessage } from '../mail/message.parser.ts';
import type { EventPublisher } from '../shared/event-bus.ts';
import type { MessageEvents } from './message.events.ts';

export const PURGE_QUEUE = 'mail-purge';
/** Soft-deleted messages are purged for good this many days after their deletion (unless restored meanwhile). */
export const DEFAULT_PURGE_AFTER_DAYS = 30;
const DAY = 86_400_000;

export interface MessagePatch {
  read?: boolean;
  archived?: boolean;
  tags?: string[];
  /** true: soft delete (hidden, purged later); false: restore. */
  deleted?: boolean;
  /** The user's word on the message's importance (overrides the computed level); null withdraws it. */
  importance?: ImportanceFeedback | null;
}

export interface PurgeJob {
  accountId: string;
  messageId: string;
}

export interface MessageBody {
  text: string;
  textTruncated: boolean;
  hasHtml: boolean;
  attachments: ParsedMessage['attachments'];
}

export interface SearchResults {
  total: number;
  items: { message: Message; score: number }[];
}

/**
 * What a user does with messages: read them (with their facts and raw form), flag, tag, archive, soft-delete and
 * restore, purge. Every change keeps the conversation counters and the search index in step; purging releases the
 * message's bytes from the quota.
 */
export class MessageService {
  private readonly purgeAfterMs: number;

  constructor(
    private readonly deps: {
      storage: Storage;
      blobs: BlobStore;
      search: SearchIndex;
      queue: JobQueue;
      indexer: SearchIndexer;
      conversations: ConversationService;
      locks: MailboxLocks;
      clock: Clock;
      purgeAfterDays?: number;
      /**
       * The decrypted form of a message that was decrypted at arrival, while the account's key is usable (server-side
       * key mode); null otherwise. Reading shows it; the raw form stays as it came.
       */
      openEncrypted?: (message: Message, raw: Buffer) => Promise<Buffer | null>;
      /** Told `message.updated` after each change a user makes (live updates of the apps). */
      events?: EventPublisher<MessageEvents>;
    },
  ) {
    this.purgeAfterMs = (deps.purgeAfterDays ?? DEFAULT_PURGE_AFTER_DAYS) * DAY;
  }

  async get(accountId: string, id: string): Promise<Message> {
    const m = await this.deps.storage.messages.get(accountId, id);
    if (m === null) throw new AppError('not_found', 'No such message.');
    return m;
  }

  async raw(accountId: string, id: string): Promise<Buffer> {
    const m = await this.get(accountId, id);
    const raw = m.rawRef === null ? null : await this.deps.blobs.get(m.rawRef);
    if (raw === null) throw new AppError('not_found', 'This message has no raw form.');
    return raw;
  }

  /** The form of a message the server reads: decrypted when it was decrypted at arrival and the key is usable. */
  private async readable(m: Message): Promise<Buffer | null> {
    const raw = m.rawRef === null ? null : await this.deps.blobs.get(m.rawRef);
    if (raw === null) return null;
    const decrypted = (m.facts['openpgp'] as { decrypted?: unknown } | undefined)?.decrypted === true;
    const inner = decrypted && this.deps.openEncrypted ? await this.deps.openEncrypted(m, raw).catch(() => null) : null;
    return inner ?? raw;
  }

  /**
   * One attachment of one of the account's messages, decoded: `index` as in the message's `attachments` list (from
   * the same readable form, so an encrypted message the server cannot read has none).
   */
  async attachment(accountId: string, id: string, index: number): Promise<ParsedAttachment> {
    const m = await this.get(accountId, id);
    const readable = await this.readable(m);
    const a = readable === null ? null : await attachmentOf(readable, index);
    if (a === null) throw new AppError('attachment_not_found', `This message has no attachment number ${index}.`);
    return a;
  }

  /** The readable body of a message, parsed from its raw form (empty when it has none). */
  async body(m: Message): Promise<MessageBody> {
    const readable = await this.readable(m);
    if (readable === null) return { text: '', textTruncated: false, hasHtml: false, attachments: [] };
    const parsed = await parseMessage(readable);
    return {
      text: parsed.text,
      textTruncated: parsed.textTruncated,
      hasHtml: parsed.hasHtml,
      attachments: parsed.attachments,
    };
  }

  async update(accountId: string, id: string, patch: MessagePatch): Promise<Message> {
    const { storage, conversations, locks } = this.deps;
    const { before, after } = await locks.run(accountId, async () => {
      const current = await this.get(accountId, id);
      const flags: MessageFlags = {};
      if (patch.read !== undefined) flags.read = patch.read;
      if (patch.archived !== undefined) flags.archived = patch.archived;
      if (patch.tags !== undefined) flags.tags = cleanTags(patch.tags);
      if (patch.deleted === true && current.deletedAt === null) flags.deletedAt = this.deps.clock();
      if (patch.deleted === false && current.deletedAt !== null) flags.deletedAt = null;
      if (patch.importance !== undefined || patch.tags !== undefined) {
        // Feedback is kept in the facts (durable: every later computation applies it); user tags count too.
        const facts =
          patch.importance !== undefined
            ? withFeedback(current.facts, patch.importance, this.deps.clock())
            : current.facts;
        const assessed = await assessImportance(storage, { ...current, tags: flags.tags ?? current.tags, facts });
        flags.importance = assessed.importance;
        flags.facts = assessed.facts;
      }
      const next = await storage.messages.updateFlags(accountId, id, flags);
      if (next === null) throw new AppError('not_found', 'No such message.');
      await conversations.recordFlags(current, next);
      await conversations.recordImportance(current, next);
      return { before: current, after: next };
    });
    if (after.deletedAt !== null && before.deletedAt === null) {
      await this.deps.search.remove(accountId, [id]);
      await this.schedulePurge(after);
    }
    if (after.deletedAt === null && (before.deletedAt !== null || patch.tags !== undefined)) {
      await this.deps.indexer.enqueue(accountId, id);
    }
    await this.deps.events?.publish('message.updated', {
      accountId,
      messageId: id,
      conversationId: after.conversationId,
    });
    if (patch.importance !== undefined)
      await this.deps.events?.publish('message.feedback', { accountId, messageId: id, feedback: patch.importance });
    return after;
  }

  /**
   * Records the spam filter's verdict on a message filed unchecked (spam/spam.service.ts) and moves its importance
   * (and its discussion's) accordingly. Resolves null when the message is gone meanwhile.
   */
  async recordSpamVerdict(accountId: string, id: string, spam: SpamFacts): Promise<Message | null> {
    const { storage, conversations, locks } = this.deps;
    const after = await locks.run(accountId, async () => {
      const current = await storage.messages.get(accountId, id);
      if (current === null) return null;
      const assessed = await assessImportance(storage, { ...current, facts: { ...current.facts, spam } });
      const next = await storage.messages.updateFlags(accountId, id, {
        importance: assessed.importance,
        facts: assessed.facts,
      });
      if (next === null) return null;
      await conversations.recordImportance(current, next);
      return next;
    });
    if (after !== null)
      await this.deps.events?.publish('message.updated', {
        accountId,
        messageId: id,
        conversationId: after.conversationId,
      });
    return after;
  }

  /** Removes a message for good: row, raw blob, search document; its size is released from the quota. */
  async purge(accountId: string, id: string): Promise<Message> {
    const { storage, conversations, locks } = this.deps;
    const removed = await locks.run(accountId, async () => {
      const m = await storage.messages.purge(accountId, id);
      if (m === null) throw new AppError('not_found', 'No such message.');
      await conversations.recordPurged(m);
      return m;
    });
    if (removed.rawRef !== null) await this.deps.blobs.delete(removed.rawRef);
    await storage.accounts.addUsage(accountId, -removed.sizeBytes);
    await this.deps.search.remove(accountId, [id]);
    return removed;
  }

  /** Searches the account's messages (search-box language); deleted or vanished messages are left out. */
  async search(accountId: string, q: string, page: { limit: number; offset: number }): Promise<SearchResults> {
    const query = { ...parseSearchQuery(q), limit: page.limit, offset: page.offset };
    const result = await this.deps.search.search(accountId, query);
    const items: SearchResults['items'] = [];
    for (const hit of result.hits) {
      const m = await this.deps.storage.messages.get(accountId, hit.messageId);
      if (m !== null && m.deletedAt === null) items.push({ message: m, score: hit.score });
    }
    return { total: result.total, items };
  }

  /** The purge job of a soft-deleted message, due `purgeAfterDays` after its deletion. */
  private async schedulePurge(m: Message, suffix = ''): Promise<void> {
    const deletedAt = m.deletedAt!.getTime();
    await this.deps.queue.enqueue<PurgeJob>(
      PURGE_QUEUE,
      'purge-deleted',
      { accountId: m.accountId, messageId: m.id },
      {
        jobId: `purge-${m.id}-${deletedAt}${suffix}`,
        delayMs: Math.max(0, deletedAt + this.purgeAfterMs - this.deps.clock().getTime()),
      },
    );
  }

  /**
   * Runs a purge job: purges the message if it is still deleted and has been for `purgeAfterDays` (a message
   * restored meanwhile, or already purged, is left alone). Resolves whether it purged.
   */
  async runPurgeJob(job: PurgeJob): Promise<boolean> {
    const m = await this.deps.storage.messages.get(job.accountId, job.messageId);
    if (m === null || m.deletedAt === null) return false;
    const now = this.deps.clock().getTime();
    if (now - m.deletedAt.getTime() < this.purgeAfterMs) {
      // Ran early (clocks of several processes differ): due again when the retention period is over.
      await this.schedulePurge(m, `-r${now}`);
      return false;
    }
    try {
      await this.purge(job.accountId, job.messageId);
      return true;
    } catch (e) {
      if (e instanceof AppError && e.code === 'not_found') return false;
      throw e;
    }
  }

  startPurgeWorker(): Worker {
    return this.deps.queue.process<PurgeJob>(PURGE_QUEUE, async (job) => {
      await this.runPurgeJob(job.payload);
    });
  }
}
