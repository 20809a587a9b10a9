import { createHash } from 'node:crypto';
import type { BlobStore } from '../blobs/blob-store.port.ts';
import type { Message, Participant } from '../mail/message.entity.ts';
import { parseMessage } from '../mail/message.parser.ts';
import type { JobInfo, JobQueue, Worker } from '@caliopen/platform/queue/job-queue.port.ts';
import type { Storage } from '../database/storage.port.ts';
import type { SearchDocument, SearchIndex } from './search.port.ts';

export const INDEX_QUEUE = 'index';

export interface IndexJob {
  accountId: string;
  messageId: string;
}

/** One job for the messages a batch of ingest filed together (one commit on the queue instead of one each). */
export interface IndexBatchJob {
  items: IndexJob[];
}

/** Body text sent to the search engine, at most. */
const MAX_BODY_CHARS = 256 * 1024;
/** Documents written in one call to the engine, at most. */
const MAX_BATCH = 64;
/** How long the first job of a batch waits for others to join it. */
const BATCH_WINDOW_MS = 2;

interface Pending {
  docs: SearchDocument[];
  removals: IndexJob[];
  done: Promise<void>;
}

export interface IndexerLogger {
  warn(details: Record<string, unknown>, message: string): void;
}

function participantText(p: Participant): string {
  return p.name ? `${p.name} <${p.address}>` : p.address;
}

/**
 * Keeps the search index in step with the mailbox through the queue: ingest, flag changes and deletions enqueue an
 * `index` job ({accountId, messageId}); the worker loads the message and its raw form, extracts the text (the text
 * part, or the HTML converted to text, plus attachment names), and indexes it — or removes it from the index when
 * the message is gone or soft-deleted. Jobs that arrive together are written in one call to the engine.
 */
/** Bodies handed over by ingest, kept until their index job runs (bounded: the job parses again when it is gone). */
const MAX_HANDED_OVER_CHARS = 32 * 1024 * 1024;

export class SearchIndexer {
  private pending: Pending | null = null;
  /** messageId -> body text extracted at ingest, so that the index job does not parse the raw message again. */
  private readonly handedOver = new Map<string, string>();
  private handedOverChars = 0;

  constructor(
    private readonly deps: {
      storage: Storage;
      blobs: BlobStore;
      search: SearchIndex;
      queue: JobQueue;
      logger?: IndexerLogger;
      /**
       * The decrypted form of a message that was decrypted at arrival (server-side key mode), when the account's key
       * is usable now; null otherwise (then only the snippet recorded at arrival is searchable besides metadata).
       */
      openEncrypted?: (message: Message, raw: Buffer) => Promise<Buffer | null>;
    },
  ) {}

  /**
   * Queues (re)indexing of a message. `once` gives the job a stable id, so that a message's first indexing is queued
   * once however many times its ingest is retried; later changes (tags, undelete) queue a fresh job.
   */
  async enqueue(accountId: string, messageId: string, options: { once?: boolean } = {}): Promise<void> {
    await this.deps.queue.enqueue<IndexJob>(
      INDEX_QUEUE,
      'index',
      { accountId, messageId },
      {
        attempts: 8,
        backoff: { type: 'exponential', baseDelayMs: 500 },
        ...(options.once ? { jobId: `index-${messageId}` } : {}),
      },
    );
  }

  /**
   * Queues the first indexing of messages filed together, as ONE job (one commit on the queue). Its id is derived
   * from the set of messages, so a batch retried as it was is queued once; a retry grouped differently queues
   * another job, and indexing the same message twice is harmless.
   */
  async enqueueMany(items: readonly IndexJob[]): Promise<void> {
    if (items.length === 0) return;
    if (items.length === 1) return this.enqueue(items[0]!.accountId, items[0]!.messageId, { once: true });
    const ids = items.map((i) => `${i.accountId}/${i.messageId}`).sort();
    const digest = createHash('sha256').update(ids.join('\n')).digest('hex').slice(0, 32);
    await this.deps.queue.enqueue<IndexBatchJob>(
      INDEX_QUEUE,
      'index-batch',
      { items: items.map((i) => ({ accountId: i.accountId, messageId: i.messageId })) },
      { attempts: 8, backoff: { type: 'exponential', baseDelayMs: 500 }, jobId: `index-batch-${digest}` },
    );
  }

  /**
   * The body text ingest extracted from a message it just stored (the parsed text, then the attachment names): its
   * index job, when it runs in this process soon enough, uses it instead of parsing the raw message again. Only for
   * messages stored as they came (not decrypted ones, whose text depends on the key).
   */
  handOver(messageId: string, text: string, attachmentNames: readonly string[]): void {
    const body = bodyText(text, attachmentNames);
    this.takeHandedOver(messageId);
    while (this.handedOver.size > 0 && this.handedOverChars + body.length > MAX_HANDED_OVER_CHARS) {
      const oldest = this.handedOver.keys().next().value;
      if (oldest === undefined) break;
      this.takeHandedOver(oldest);
    }
    this.handedOver.set(messageId, body);
    this.handedOverChars += body.length;
  }

  private takeHandedOver(messageId: string): string | undefined {
    const body = this.handedOver.get(messageId);
    if (body !== undefined) {
      this.handedOver.delete(messageId);
      this.handedOverChars -= body.length;
    }
    return body;
  }

  /** Starts the worker; the returned Worker stops it. */
  start(concurrency = 16): Worker {
    return this.deps.queue.process<IndexJob | IndexBatchJob>(INDEX_QUEUE, (job) => this.handle(job), { concurrency });
  }

  /** The document for a message as it is now, or null when it should not be searchable (gone, deleted). */
  async documentFor(accountId: string, messageId: string): Promise<SearchDocument | null> {
    const m = await this.deps.storage.messages.get(accountId, messageId);
    if (m === null || m.deletedAt !== null) return null;
    return { ...this.metadata(m), body: await this.bodyOf(m) };
  }

  private async handle(job: JobInfo<IndexJob | IndexBatchJob>): Promise<void> {
    const payload = job.payload as Partial<IndexJob & IndexBatchJob> | null;
    if (Array.isArray(payload?.items)) {
      await Promise.all(payload.items.map((item) => this.handleOne(job.id, item)));
      return;
    }
    return this.handleOne(job.id, payload);
  }

  private async handleOne(jobId: string, item: Partial<IndexJob> | null | undefined): Promise<void> {
    const { accountId, messageId } = item ?? {};
    if (typeof accountId !== 'string' || typeof messageId !== 'string') {
      this.deps.logger?.warn({ jobId }, 'index job without accountId/messageId ignored');
      return;
    }
    const doc = await this.documentFor(accountId, messageId);
    return this.add(doc, { accountId, messageId });
  }

  private add(doc: SearchDocument | null, key: IndexJob): Promise<void> {
    let batch = this.pending;
    if (batch === null || batch.docs.length + batch.removals.length >= MAX_BATCH) {
      const created: Pending = { docs: [], removals: [], done: Promise.resolve() };
      created.done = new Promise<void>((resolve) => setTimeout(resolve, BATCH_WINDOW_MS)).then(() => {
        if (this.pending === created) this.pending = null;
        return this.write(created);
      });
      this.pending = created;
      batch = created;
    }
    if (doc === null) batch.removals.push(key);
    else batch.docs.push(doc);
    return batch.done;
  }

  private async write(batch: Pending): Promise<void> {
    if (batch.docs.length > 0) await this.deps.search.index(batch.docs);
    const byAccount = new Map<string, string[]>();
    for (const r of batch.removals) byAccount.set(r.accountId, [...(byAccount.get(r.accountId) ?? []), r.messageId]);
    for (const [accountId, ids] of byAccount) await this.deps.search.remove(accountId, ids);
  }

  private metadata(m: Message): Omit<SearchDocument, 'body'> {
    return {
      accountId: m.accountId,
      messageId: m.id,
      conversationId: m.conversationId,
      date: m.receivedAt,
      protocol: m.protocol,
      from: m.from.address === '' && m.from.name === null ? [] : [participantText(m.from)],
      to: [...m.to, ...m.cc].map(participantText),
      subject: m.subject,
      tags: m.tags,
      pi: m.pi?.score ?? 0,
    };
  }

  private async bodyOf(m: Message): Promise<string> {
    const handed = this.takeHandedOver(m.id);
    if (handed !== undefined) return handed;
    if (m.rawRef === null) return m.snippet;
    const raw = await this.deps.blobs.get(m.rawRef);
    if (raw === null) return m.snippet;
    const decrypted = (m.facts['openpgp'] as { decrypted?: unknown } | undefined)?.decrypted === true;
    if (decrypted) {
      const inner = this.deps.openEncrypted ? await this.deps.openEncrypted(m, raw).catch(() => null) : null;
      if (inner === null) return m.snippet;
      return this.textOf(inner);
    }
    return this.textOf(raw);
  }

  private async textOf(raw: Buffer): Promise<string> {
    const parsed = await parseMessage(raw);
    return bodyText(
      parsed.text,
      parsed.attachments.flatMap((a) => (a.filename ? [a.filename] : [])),
    );
  }
}

/** What is indexed as a message's body: its text, then its attachments' names, at most MAX_BODY_CHARS. */
function bodyText(text: string, attachmentNames: readonly string[]): string {
  const body = attachmentNames.length > 0 ? `${text}\n\n${attachmentNames.join('\n')}` : text;
  return body.length > MAX_BODY_CHARS ? body.slice(0, MAX_BODY_CHARS) : body;
}
