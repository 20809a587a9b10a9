import { createHash, randomUUID } from 'node:crypto';
import type { BlobStore } from '../blobs/blob-store.port.ts';
import { normaliseEmailAddress } from '../mail/address.normalise.ts';
import { threadKeyOf, type ConversationResolver } from '../conversations/conversation.resolver.ts';
import type { ConversationService } from '../conversations/conversation.service.ts';
import type { SearchIndexer } from '../search/search.indexer.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import { AppError } from '../shared/errors.ts';
import type { Storage } from '../database/storage.port.ts';
import type { MailboxLocks } from '../mail/mailbox-lock.ts';
import type { IngestRequest, IngestResult, MessageIngest } from './message-ingest.port.ts';
import { assessImportance, findRepliedTo, recordSent, referencedMessageIds } from './importance.service.ts';
import type { PiService } from '../privacy/pi.service.ts';
import type { Message } from '../mail/message.entity.ts';
import type { EventPublisher } from '../shared/event-bus.ts';
import type { MessageEvents } from './message.events.ts';
import { parseHeaders, parseMessage, snippetOf, type ParsedMessage } from '../mail/message.parser.ts';

/** Extra addresses an account owns (remote identities...), beyond `<username>@<domain>`. */
export type OwnAddressSource = (accountId: string) => Promise<string[]>;

/**
 * Learns correspondents' keys from an inbound message before its OpenPGP is checked (Autocrypt headers: see
 * KeyDiscoveryService.learnAutocrypt). Must not throw; a failure never stops the message.
 */
export type KeyLearner = (
  accountId: string,
  sender: string,
  raw: Buffer,
  facts: IngestRequest['facts'],
) => Promise<void>;

export const MAX_INGEST_TAGS = 50;

export function rawKeyOf(accountId: string, messageId: string): string {
  return `raw/${accountId}/${messageId}`;
}

/**
 * Late decryption (late-decryption.service.ts): tells whether the account's server-held key is locked now (server
 * mode, no live unlock), and schedules the account's pending mail when the key became usable meanwhile.
 */
export interface PendingDecryption {
  isLocked(accountId: string): Promise<boolean>;
  isUnlocked(accountId: string): Promise<boolean>;
  scheduleIfUnlocked(accountId: string): Promise<void>;
}

/** The OpenPGP of a message as the mailbox records it: the facts (null: none to record) and the decrypted inner message. */
export interface OpenedContent {
  openpgp: Record<string, unknown> | null;
  inner: ParsedMessage | null;
}

/**
 * OpenPGP facts (encrypted? signed, and does it verify with a key we hold for the sender?), decrypting when the
 * account's key is usable here (server-side key mode): the inner message is then parsed. Ingest and late decryption
 * share it. `privacy` absent (a few unit tests): nothing is examined.
 */
export async function examineContent(
  privacy: PiService | undefined,
  accountId: string,
  sender: string,
  raw: Buffer,
  direction: 'inbound' | 'outbound',
): Promise<OpenedContent> {
  const examined = privacy ? await privacy.examineOpenPgp(accountId, sender, raw, direction) : null;
  const openpgp =
    examined && (direction === 'inbound' || examined.facts.kind !== 'none') ? { ...examined.facts } : null;
  const inner = examined?.content ? await parseMessage(examined.content.mime) : null;
  return { openpgp, inner };
}

/** Subject, snippet and thread key as shown: protected headers, the inner Subject of a decrypted message is the real one (the outer is often "..."). */
export function contentView(
  parsed: ParsedMessage,
  inner: ParsedMessage | null,
): { subject: string; snippet: string; threadKey: string | null } {
  const subject = inner?.hasSubject ? inner.subject : parsed.subject;
  return { subject, snippet: snippetOf((inner ?? parsed).text), threadKey: threadKeyOf(subject) };
}

/** Tags as stored: trimmed, NFC, without control characters, 1..64 characters, unique, at most 50. */
export function cleanTags(tags: readonly string[]): string[] {
  const out: string[] = [];
  for (const t of tags) {
    const s = Array.from(
      t
        .normalize('NFC')
        .replace(/[\u0000-\u001f\u007f]/g, '')
        .trim(),
    )
      .slice(0, 64)
      .join('');
    if (s !== '' && !out.includes(s)) out.push(s);
    if (out.length >= MAX_INGEST_TAGS) break;
  }
  return out;
}

/**
 * The one way a message enters a mailbox (the MessageIngest port): SMTP, IMAP import, the composer's Sent copy and
 * bounces all come through here.
 *
 * Order of work, chosen so that a failure at any point leaves nothing half-visible:
 * 1. SHA-256 of the raw bytes and the Message-ID (from a cheap header read); a message already stored with the same
 *    (Message-ID, hash) is returned as it is (`inserted: false`) before anything is written.
 * 2. Full parse (never throws; a message mailparser cannot read keeps what its headers said).
 * 3. Raw bytes to the blob store (`raw/<accountId>/<messageId>`), then the quota: `addUsage` refused -> the blob is
 *    deleted and `quota_exceeded` thrown; nothing else was written.
 * 4. Under the account's lock: participants resolved to contacts (automatic ones created), conversation found or
 *    created, message stored, conversation counters updated. A failure here releases the quota and the blob.
 * 5. An `index` job queued (queue 'index'): acceptance never waits on the search engine.
 */
export class MessageIngestService implements MessageIngest {
  private readonly ownSources: readonly OwnAddressSource[];
  private readonly keyLearners: readonly KeyLearner[];

  constructor(
    private readonly deps: {
      storage: Storage;
      blobs: BlobStore;
      resolver: ConversationResolver;
      conversations: ConversationService;
      indexer: SearchIndexer;
      locks: MailboxLocks;
      clock: Clock;
      domain: string;
      /** Scores each message as it is stored (and its conversation); absent in a few unit tests. */
      privacy?: PiService;
      /** Marks encrypted mail that arrives while the account's server-held key is locked, for a later decryption. */
      pendingDecryption?: PendingDecryption;
      /** More addresses the account owns (they never count as other participants): its remote mailboxes'. */
      ownAddressSources?: readonly OwnAddressSource[];
      /** Learners of correspondents' keys from inbound mail (Autocrypt), run before its OpenPGP is checked. */
      keyLearners?: readonly KeyLearner[];
      /** Told `message.stored` once a new message is stored and its indexing queued (live updates of the apps). */
      events?: EventPublisher<MessageEvents>;
    },
  ) {
    this.ownSources = deps.ownAddressSources ?? [];
    this.keyLearners = deps.keyLearners ?? [];
  }

  async ingest(request: IngestRequest): Promise<IngestResult> {
    const { storage, blobs, locks } = this.deps;
    const { accountId, raw } = request;
    if (!Buffer.isBuffer(raw)) throw new TypeError('IngestRequest.raw must be a Buffer');
    const account = await storage.accounts.get(accountId);
    if (account === null) throw new AppError('not_found', 'No such account.');

    const contentHash = createHash('sha256').update(raw).digest('hex');
    const externalId = parseHeaders(raw).messageId;
    const known = await storage.messages.findByDedupeKey(accountId, externalId, contentHash);
    if (known !== null) {
      // A retry after a crash may have stored the message but not queued its indexing: queue it again (same job id).
      await this.deps.indexer.enqueue(accountId, known.id, { once: true });
      return { message: known, inserted: false };
    }

    const parsed = await parseMessage(raw);
    const sender = normaliseEmailAddress(parsed.from?.address ?? '') ?? '';
    // Keys the message itself brings (Autocrypt) are learnt first, so that its signature is checked with them.
    if (request.direction === 'inbound' && sender !== '') {
      for (const learn of this.keyLearners) await learn(accountId, sender, raw, request.facts).catch(() => undefined);
    }
    // OpenPGP facts (encrypted? signed, and does it verify with a key we hold for the sender?) before the lock: the
    // checks are CPU work and need no mailbox state. When the account's key is usable here (server-side key mode),
    // encrypted mail is decrypted: its inner subject, snippet and text (search) are the decrypted ones; the raw
    // message stays as it came (ciphertext).
    let { openpgp, inner } = await examineContent(this.deps.privacy, accountId, sender, raw, request.direction);
    // Encrypted mail that could not be opened (only that: the key state is not asked of every message). The key is
    // locked: marked, decrypted once it is unlocked (late-decryption.service.ts; one unlocked after this check is
    // caught below). The key was unlocked since the examination: examined again, so it opens now.
    let pending = false;
    const pendingDecryption = this.deps.pendingDecryption;
    if (pendingDecryption && openpgp !== null && openpgp['encrypted'] === true && openpgp['decrypted'] !== true) {
      if (await pendingDecryption.isLocked(accountId).catch(() => false)) pending = true;
      else if (await pendingDecryption.isUnlocked(accountId).catch(() => false))
        ({ openpgp, inner } = await examineContent(this.deps.privacy, accountId, sender, raw, request.direction));
    }
    if (pending) openpgp!['pendingDecryption'] = true;
    const view = contentView(parsed, inner);
    const id = randomUUID();
    const rawRef = rawKeyOf(accountId, id);
    await blobs.put(rawRef, raw);
    if ((await storage.accounts.addUsage(accountId, raw.length)) === null) {
      await blobs.delete(rawRef);
      throw new AppError(
        'quota_exceeded',
        `Storing this message (${raw.length} bytes) would exceed the account's quota.`,
      );
    }

    let outcome: IngestResult;
    try {
      outcome = await locks.run(accountId, async () => {
        const again = await storage.messages.findByDedupeKey(accountId, externalId, contentHash);
        if (again !== null) return { message: again, inserted: false };
        const own = await this.ownAddresses(accountId, account.username);
        const resolution = await this.deps.resolver.resolve({
          accountId,
          direction: request.direction,
          from: parsed.from,
          to: parsed.to,
          cc: parsed.cc,
          list: parsed.list,
          own,
          receivedAt: request.receivedAt,
        });
        const message: Message = {
          id,
          accountId,
          conversationId: resolution.conversation.id,
          protocol: 'email',
          direction: request.direction,
          externalId,
          contentHash,
          from: resolution.from,
          to: resolution.to,
          cc: resolution.cc,
          // Protected headers: the inner Subject of a decrypted message is the real one (the outer is often "...").
          subject: view.subject,
          snippet: view.snippet,
          sentAt: parsed.date,
          receivedAt: request.receivedAt,
          sizeBytes: raw.length,
          rawRef,
          threadKey: view.threadKey,
          tags: cleanTags(request.tags ?? []),
          read: request.read ?? request.direction === 'outbound',
          archived: false,
          deletedAt: null,
          pi: null,
          importance: 0, // set by applyImportance below
          facts: {
            transport: request.facts?.transport ?? null,
            authentication: request.facts?.authentication ?? null,
            ...(request.facts?.federation ? { federation: request.facts.federation } : {}),
            ...(openpgp !== null ? { openpgp } : {}),
            mime: {
              parsed: parsed.problem === null,
              problem: parsed.problem,
              attachments: parsed.attachments.length,
              truncatedHeaders: parsed.truncatedHeaders,
              droppedAddresses: parsed.droppedAddresses,
              listId: parsed.list?.id ?? null,
            },
          },
        };
        await this.applyImportance(message, raw, own);
        if (this.deps.privacy) {
          const pi = await this.deps.privacy.messagePi(message);
          message.pi = { score: pi.score, level: pi.level, modelVersion: pi.modelVersion };
        }
        const stored = await storage.messages.put(message);
        if (stored.inserted) await this.deps.conversations.recordIngested(resolution, message);
        if (stored.inserted && this.deps.privacy)
          await this.deps.privacy.refreshConversation(accountId, message.conversationId);
        return stored;
      });
    } catch (e) {
      await this.release(accountId, rawRef, raw.length);
      throw e;
    }
    if (!outcome.inserted) {
      await this.release(accountId, rawRef, raw.length);
      return outcome;
    }
    await this.deps.indexer.enqueue(accountId, id, { once: true });
    await this.scoreNewCorrespondent(outcome.message);
    // The key may have been unlocked while this message was examined: its login's job may have run already.
    if (pending) await this.deps.pendingDecryption?.scheduleIfUnlocked(accountId).catch(() => undefined);
    await this.deps.events?.publish('message.stored', {
      accountId,
      messageId: id,
      conversationId: outcome.message.conversationId,
      direction: request.direction,
    });
    return outcome;
  }

  /** A sender seen for the first time (its contact has no PI yet) gets one, through the 'pi' queue. */
  private async scoreNewCorrespondent(message: Message): Promise<void> {
    const contactId = message.direction === 'inbound' ? message.from.contactId : null;
    if (!this.deps.privacy || contactId === null) return;
    const contact = await this.deps.storage.contacts.get(message.accountId, contactId);
    if (contact !== null && contact.pi === null)
      await this.deps.privacy.enqueue({ kind: 'contact-pi', accountId: message.accountId, contactId });
  }

  /**
   * Importance at ingest (importance.model.ts): an outbound message is recorded in the correspondence ledger (its
   * Message-ID and recipients: later replies and senders are recognised by it); an inbound one is checked for a
   * reply to one of the account's messages, then assessed. Sets `importance` and `facts.importance`.
   */
  private async applyImportance(message: Message, raw: Buffer, own: ReadonlySet<string>): Promise<void> {
    const { storage } = this.deps;
    if (message.direction === 'outbound') await recordSent(storage, message, own);
    const repliesTo =
      message.direction === 'inbound'
        ? await findRepliedTo(storage, message.accountId, referencedMessageIds(raw))
        : null;
    message.facts = { ...message.facts, importance: { repliesTo, feedback: null, feedbackAt: null, reasons: [] } };
    const assessed = await assessImportance(storage, message);
    message.importance = assessed.importance;
    message.facts = assessed.facts;
  }

  private async release(accountId: string, rawRef: string, size: number): Promise<void> {
    await this.deps.storage.accounts.addUsage(accountId, -size);
    await this.deps.blobs.delete(rawRef);
  }

  private async ownAddresses(accountId: string, username: string): Promise<Set<string>> {
    const own = new Set<string>();
    const primary = normaliseEmailAddress(`${username}@${this.deps.domain}`);
    if (primary !== null) own.add(primary);
    for (const source of this.ownSources) {
      for (const a of await source(accountId)) {
        const n = normaliseEmailAddress(a);
        if (n !== null) own.add(n);
      }
    }
    return own;
  }
}
