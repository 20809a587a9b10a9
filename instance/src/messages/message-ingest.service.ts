import { createHash, randomUUID } from 'node:crypto';
import type { BlobStore } from '../blobs/blob-store.port.ts';
import { normaliseEmailAddress, normaliseIdentityAddress } from '../mail/address.normalise.ts';
import { threadKeyOf, type ConversationResolver } from '../conversations/conversation.resolver.ts';
import type { ConversationService } from '../conversations/conversation.service.ts';
import type { SearchIndexer } from '../search/search.indexer.ts';
import type { EventPublisher } from '../shared/event-bus.ts';
import type { MessageEvents } from './message.events.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import { AppError } from '../shared/errors.ts';
import type { Storage } from '../database/storage.port.ts';
import type { MailboxLocks } from '../mail/mailbox-lock.ts';
import type { IngestRequest, IngestResult, MessageIngest } from './message-ingest.port.ts';
import { assessImportance, findRepliedTo, recordSent, referencedMessageIds } from './importance.service.ts';
import type { PiService } from '../privacy/pi.service.ts';
import type { Message } from '../mail/message.entity.ts';
import { parseMessage, snippetOf, type ParsedMessage } from '../mail/message.parser.ts';
import { headerValue, messageIdOf, readHeaderBlock } from '../mail/mime-headers.ts';

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

/** Most messages filed in one batch (one transaction, one group of blob syncs, one index job). */
export const MAX_INGEST_BATCH = 64;

type Prepared =
  | { kind: 'known'; message: Message }
  | {
      kind: 'new';
      request: IngestRequest;
      accountId: string;
      username: string;
      contentHash: string;
      externalId: string | null;
      parsed: ParsedMessage;
      /** The decrypted inner message, when it was decrypted at arrival. */
      inner: ParsedMessage | null;
      openpgp: Record<string, unknown> | null;
      view: { subject: string; snippet: string; threadKey: string | null };
      pending: boolean;
      id: string;
      rawRef: string;
    };

export function rawKeyOf(accountId: string, messageId: string): string {
  return `${rawPrefixOf(accountId)}/${messageId}`;
}

/** Every raw message of the account is under this blob prefix (deleted whole with the account). */
export function rawPrefixOf(accountId: string): string {
  return `raw/${accountId}`;
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
  /** How the decrypted inner message is parsed (ingest: on the mail worker threads). */
  parse: (raw: Buffer) => Promise<ParsedMessage> = parseMessage,
  /** An outbound message encrypted here: what it decrypts to (IngestRequest.encryptedPlaintext). */
  plaintext?: Buffer,
): Promise<OpenedContent> {
  const examined = privacy
    ? await privacy.examineOpenPgp(accountId, sender, raw, direction, undefined, plaintext)
    : null;
  const openpgp =
    examined && (direction === 'inbound' || examined.facts.kind !== 'none') ? { ...examined.facts } : null;
  const inner = examined?.content ? await parse(examined.content.mime) : null;
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
 * Order of work (per batch: see ingestBatch), chosen so that a failure at any point leaves nothing half-visible:
 * 1. SHA-256 of the raw bytes and the Message-ID (from a cheap header read); a message already stored with the same
 *    (Message-ID, hash) is returned as it is (`inserted: false`) before anything is written.
 * 2. Full parse (never throws; a message mailparser cannot read keeps what its headers said), OpenPGP examination.
 * 3. Raw bytes of the batch's new messages to the blob store (`raw/<accountId>/<messageId>`), synced as a group.
 * 4. One storage unit of work for the batch; per message, under the account's lock: the quota (`addUsage` refused ->
 *    `quota_exceeded`, that message only), participants resolved to contacts (automatic ones created), conversation
 *    found or created, message stored, conversation counters updated. A failed message leaves no write and its blob
 *    is deleted.
 * 5. One `index` job for the batch (queue 'index'): acceptance never waits on the search engine.
 */
export class MessageIngestService implements MessageIngest {
  private readonly parse: (raw: Buffer) => Promise<ParsedMessage>;
  private readonly ownSources: readonly OwnAddressSource[];
  private readonly keyLearners: readonly KeyLearner[];

  constructor(
    private readonly deps: {
      /** Parses an arriving message (parseMessage's contract: never throws); parseMessage on this thread by default. */
      parse?: (raw: Buffer) => Promise<ParsedMessage>;
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
    this.parse = deps.parse ?? parseMessage;
    this.ownSources = deps.ownAddressSources ?? [];
    this.keyLearners = deps.keyLearners ?? [];
  }

  /** Requests waiting for the next batch (single `ingest` calls that arrive together are filed together). */
  private waiting: { request: IngestRequest; resolve: (r: IngestResult) => void; reject: (e: unknown) => void }[] = [];
  private flushing: Promise<void> | null = null;

  /**
   * Files one message. Calls that arrive together (federation deliveries, a compose fan-out...) are gathered and
   * filed as one batch (ingestBatch), like a group commit: each caller gets its own outcome.
   */
  async ingest(request: IngestRequest): Promise<IngestResult> {
    if (!Buffer.isBuffer(request.raw)) throw new TypeError('IngestRequest.raw must be a Buffer');
    return new Promise<IngestResult>((resolve, reject) => {
      this.waiting.push({ request, resolve, reject });
      this.flushing ??= this.flush();
    });
  }

  private async flush(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      while (this.waiting.length > 0) {
        const group = this.waiting.splice(0, MAX_INGEST_BATCH);
        try {
          const results = await this.ingestBatch(group.map((g) => g.request));
          results.forEach((r, i) => {
            if (r.status === 'fulfilled') group[i]!.resolve(r.value);
            else group[i]!.reject(r.reason);
          });
        } catch (e) {
          for (const g of group) g.reject(e);
        }
      }
    } finally {
      this.flushing = null;
    }
  }

  /**
   * Files several messages as one batch; outcomes in request order, one failing never fails the others. Parsing,
   * Autocrypt, OpenPGP examination run for all first (concurrently: no mailbox state); then the raw bytes of the new
   * ones are written as one group of blobs (each directory synced once); then every mailbox write (usage, contacts,
   * conversation, message, importance, PI) goes into ONE storage unit of work (SQLite: one transaction, one commit);
   * then ONE index job for the lot. A crash anywhere before the commit leaves nothing but orphan blob files; after
   * it, a retry finds every message by its dedupe key (Message-ID + content hash) and only queues its indexing again.
   */
  async ingestBatch(requests: readonly IngestRequest[]): Promise<PromiseSettledResult<IngestResult>[]> {
    const { storage, blobs } = this.deps;
    const results: PromiseSettledResult<IngestResult>[] = requests.map(() => ({
      status: 'rejected',
      reason: new Error('not filed'),
    }));
    const fail = (i: number, reason: unknown) => {
      results[i] = { status: 'rejected', reason };
    };
    const prepared = await Promise.all(
      requests.map((r, i) =>
        this.prepare(r).catch((e: unknown) => {
          fail(i, e);
          return null;
        }),
      ),
    );
    const toIndex: { accountId: string; messageId: string }[] = [];
    let fresh: number[] = [];
    prepared.forEach((p, i) => {
      if (p?.kind === 'known') {
        results[i] = { status: 'fulfilled', value: { message: p.message, inserted: false } };
        // A retry after a crash may have stored the message but not queued its indexing: queue it again.
        toIndex.push({ accountId: p.message.accountId, messageId: p.message.id });
      } else if (p?.kind === 'new') fresh.push(i);
    });
    const freshOf = (i: number) => prepared[i] as Extract<Prepared, { kind: 'new' }>;

    if (fresh.length > 0) {
      try {
        await blobs.putMany(fresh.map((i) => ({ key: freshOf(i).rawRef, data: freshOf(i).request.raw })));
      } catch (e) {
        for (const i of fresh) fail(i, e);
        await Promise.all(fresh.map((i) => blobs.delete(freshOf(i).rawRef).catch(() => false)));
        fresh = [];
      }
    }
    if (fresh.length > 0) {
      try {
        await storage.unitOfWork(async (unit) => {
          const touched = new Map<string, { accountId: string; conversationId: string }>();
          for (const i of fresh) {
            try {
              const r = await unit.item(() => this.file(freshOf(i), unit.atomic));
              results[i] = { status: 'fulfilled', value: r };
              if (r.inserted) touched.set(`${r.message.accountId}/${r.message.conversationId}`, r.message);
            } catch (e) {
              fail(i, e);
            }
          }
          // Each conversation's PI once, from its newest messages (the same result as after each message).
          const privacy = this.deps.privacy;
          if (privacy) {
            for (const { accountId, conversationId } of touched.values()) {
              await unit
                .item(() =>
                  this.deps.locks.run(accountId, () => privacy.refreshConversation(accountId, conversationId)),
                )
                .catch(() => undefined); // left as it was: the next message or a recompute refreshes it
            }
          }
        });
      } catch (e) {
        // The commit itself failed: nothing of the batch is stored (an engine without transactions never gets here).
        for (const i of fresh) fail(i, e);
      }
    }
    const inserted: number[] = [];
    const unused: string[] = [];
    for (const i of fresh) {
      const r = results[i]!;
      if (r.status === 'fulfilled' && r.value.inserted) inserted.push(i);
      else unused.push(freshOf(i).rawRef);
    }
    await Promise.all(unused.map((key) => blobs.delete(key).catch(() => false)));
    for (const i of inserted) {
      const p = freshOf(i);
      toIndex.push({ accountId: p.accountId, messageId: p.id });
      // Parsed once: the index job takes this text instead of parsing the raw message again. Encrypted mail decrypted
      // here hands over its decrypted text (what the job would get by decrypting again with the key usable now);
      // encrypted mail not decrypted here is left to the job (its searchable text depends on the key, later).
      const searchable = p.openpgp?.['encrypted'] === true ? p.inner : p.parsed;
      if (searchable !== null)
        this.deps.indexer.handOver(
          p.id,
          searchable.text,
          searchable.attachments.flatMap((a) => (a.filename ? [a.filename] : [])),
        );
    }

    // The index job and the scoring of new correspondents are enqueued together: one queue commit for both.
    const [indexing, scoring] = await Promise.allSettled([
      toIndex.length > 0 ? this.deps.indexer.enqueueMany(toIndex) : Promise.resolve(),
      this.scoreNewCorrespondents(
        inserted.map((i) => (results[i] as PromiseFulfilledResult<IngestResult>).value.message),
      ),
    ]);
    if (indexing.status === 'rejected') {
      // Stored but not queued for indexing: the caller's retry finds the messages and queues them again.
      prepared.forEach((p, i) => {
        if (p?.kind === 'known' || inserted.includes(i)) fail(i, indexing.reason);
      });
      return results;
    }
    if (scoring.status === 'rejected') for (const i of inserted) fail(i, scoring.reason);
    // A key may have been unlocked while these messages were examined: its login's job may have run already.
    const pendingAccounts = new Set(inserted.filter((i) => freshOf(i).pending).map((i) => freshOf(i).accountId));
    for (const accountId of pendingAccounts)
      await this.deps.pendingDecryption?.scheduleIfUnlocked(accountId).catch(() => undefined);
    for (const i of inserted) {
      const r = results[i]!;
      if (r.status !== 'fulfilled') continue;
      const { message } = r.value;
      await this.deps.events?.publish('message.stored', {
        accountId: message.accountId,
        messageId: message.id,
        conversationId: message.conversationId,
        direction: message.direction,
      });
    }
    return results;
  }

  /**
   * Everything that needs no mailbox state: account, dedupe key, parse, Autocrypt keys, OpenPGP examination (and
   * decryption when the key is usable here), the view (subject, snippet, thread key).
   */
  private async prepare(request: IngestRequest): Promise<Prepared> {
    const { storage } = this.deps;
    const { accountId, raw } = request;
    if (!Buffer.isBuffer(raw)) throw new TypeError('IngestRequest.raw must be a Buffer');
    const account = await storage.accounts.get(accountId);
    if (account === null) throw new AppError('not_found', 'No such account.');

    const contentHash = createHash('sha256').update(raw).digest('hex');
    const externalId = messageIdOf(headerValue(readHeaderBlock(raw), 'message-id'));
    const known = await storage.messages.findByDedupeKey(accountId, externalId, contentHash);
    if (known !== null) return { kind: 'known', message: known };

    const parsed = await this.parse(raw);
    const email = (request.protocol ?? 'email') === 'email';
    const sender = email ? (normaliseEmailAddress(parsed.from?.address ?? '') ?? '') : '';
    // Keys the message itself brings (Autocrypt) are learnt first, so that its signature is checked with them.
    if (request.direction === 'inbound' && sender !== '') {
      for (const learn of this.keyLearners) await learn(accountId, sender, raw, request.facts).catch(() => undefined);
    }
    // OpenPGP facts (encrypted? signed, and does it verify with a key we hold for the sender?) before the lock: the
    // checks are CPU work and need no mailbox state. When the account's key is usable here (server-side key mode),
    // encrypted mail is decrypted: its inner subject, snippet and text (search) are the decrypted ones; the raw
    // message stays as it came (ciphertext).
    const examine = () =>
      examineContent(
        this.deps.privacy,
        accountId,
        sender,
        raw,
        request.direction,
        this.parse,
        request.direction === 'outbound' ? request.encryptedPlaintext : undefined,
      );
    let { openpgp, inner } = email ? await examine() : { openpgp: null, inner: null };
    // Encrypted mail that could not be opened (only that: the key state is not asked of every message). The key is
    // locked: marked, decrypted once it is unlocked (late-decryption.service.ts; one unlocked after this check is
    // caught after filing). The key was unlocked since the examination: examined again, so it opens now.
    let pending = false;
    const pendingDecryption = this.deps.pendingDecryption;
    if (pendingDecryption && openpgp !== null && openpgp['encrypted'] === true && openpgp['decrypted'] !== true) {
      if (await pendingDecryption.isLocked(accountId).catch(() => false)) pending = true;
      else if (await pendingDecryption.isUnlocked(accountId).catch(() => false)) ({ openpgp, inner } = await examine());
    }
    if (pending) openpgp!['pendingDecryption'] = true;
    const id = randomUUID();
    return {
      kind: 'new',
      request,
      accountId,
      username: account.username,
      contentHash,
      externalId,
      parsed,
      inner,
      openpgp,
      view: contentView(parsed, inner),
      pending,
      id,
      rawRef: rawKeyOf(accountId, id),
    };
  }

  /**
   * The mailbox writes of one message, inside the batch's unit of work and under the account's lock: dedupe again
   * (an earlier message of the same batch, or a concurrent filing), quota, participants resolved to contacts,
   * conversation found or created, importance, PI, message stored, conversation counters and PI updated. On an
   * engine without transactions (`atomic` false) a failure gives the usage back; otherwise the savepoint undoes all.
   */
  private async file(p: Extract<Prepared, { kind: 'new' }>, atomic: boolean): Promise<IngestResult> {
    const { storage, locks } = this.deps;
    const { request, accountId, parsed, view, openpgp, id, rawRef } = p;
    const raw = request.raw;
    return locks.run(accountId, async () => {
      const again = await storage.messages.findByDedupeKey(accountId, p.externalId, p.contentHash);
      if (again !== null) return { message: again, inserted: false };
      if ((await storage.accounts.addUsage(accountId, raw.length)) === null) {
        throw new AppError(
          'quota_exceeded',
          `Storing this message (${raw.length} bytes) would exceed the account's quota.`,
        );
      }
      try {
        const own = await this.ownAddresses(accountId, p.username);
        const protocol = request.protocol ?? 'email';
        const given = request.participants;
        const resolution = await this.deps.resolver.resolve({
          accountId,
          protocol,
          direction: request.direction,
          from: given ? given.from : parsed.from,
          to: given ? given.to : parsed.to,
          cc: given ? [] : parsed.cc,
          list: given ? null : parsed.list,
          own,
          receivedAt: request.receivedAt,
        });
        const message: Message = {
          id,
          accountId,
          conversationId: resolution.conversation.id,
          protocol,
          direction: request.direction,
          externalId: p.externalId,
          contentHash: p.contentHash,
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
            ...(request.facts?.spam ? { spam: request.facts.spam } : {}),
            ...(request.facts?.xmpp ? { xmpp: request.facts.xmpp } : {}),
            ...(request.facts?.delivery ? { delivery: request.facts.delivery } : {}),
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
        if (!stored.inserted) {
          await storage.accounts.addUsage(accountId, -raw.length);
          return stored;
        }
        await this.deps.conversations.recordIngested(resolution, message);
        // The conversation's PI is refreshed once per batch (ingestBatch), after all its new messages.
        return stored;
      } catch (e) {
        if (!atomic) await storage.accounts.addUsage(accountId, -raw.length).catch(() => null);
        throw e;
      }
    });
  }

  /**
   * Senders seen for the first time (their contact has no PI yet) get one, through the 'pi' queue: one job per account
   * for the batch (a commit each on the queue), not one per message.
   */
  private async scoreNewCorrespondents(messages: readonly Message[]): Promise<void> {
    const privacy = this.deps.privacy;
    if (!privacy) return;
    const byAccount = new Map<string, Set<string>>();
    for (const m of messages) {
      const contactId = m.direction === 'inbound' ? m.from.contactId : null;
      if (contactId === null) continue;
      const seen = byAccount.get(m.accountId) ?? new Set<string>();
      byAccount.set(m.accountId, seen.add(contactId));
    }
    for (const [accountId, ids] of byAccount) {
      const unscored: string[] = [];
      for (const id of ids) {
        const contact = await this.deps.storage.contacts.get(accountId, id);
        if (contact !== null && contact.pi === null) unscored.push(id);
      }
      if (unscored.length === 1) await privacy.enqueue({ kind: 'contact-pi', accountId, contactId: unscored[0]! });
      else if (unscored.length > 1) await privacy.enqueue({ kind: 'contacts-pi', accountId, contactIds: unscored });
    }
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

  private async ownAddresses(accountId: string, username: string): Promise<Set<string>> {
    const own = new Set<string>();
    const primary = normaliseEmailAddress(`${username}@${this.deps.domain}`);
    if (primary !== null) own.add(primary);
    for (const source of this.ownSources) {
      for (const a of await source(accountId)) {
        const n = normaliseEmailAddress(a);
        if (n !== null) own.add(n);
        // An account's own chat addresses (bare JIDs) are its own too.
        const jid = normaliseIdentityAddress('xmpp', a);
        if (jid !== null && jid.includes('@')) own.add(jid);
      }
    }
    return own;
  }
}
