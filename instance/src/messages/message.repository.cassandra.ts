import { AppError } from '../shared/errors.ts';
import type { TimePage } from '../shared/paging.ts';
import {
  collectNewestFirst,
  dateOrNull,
  listOf,
  monthBucket,
  type TimeKey,
  textOrNull,
  toNumber,
} from '@caliopen/platform/cassandra/cassandra.schema.ts';
import { piFromUdt, piToUdt, TABLES } from '../database/cassandra.schema.ts';
import type { CassandraContext, Row, Statement, UniqueClaims } from '@caliopen/platform/cassandra/cassandra.context.ts';
import type { Message, MessageFlags, Participant, StoredPi } from '../mail/message.entity.ts';
import {
  isPendingDecryption,
  type DecryptionUpdate,
  type MessageRepository,
  type RecentPi,
} from './message.repository.ts';

const COLUMNS = `account_id, message_id, conversation_id, protocol, direction, external_id, content_hash,
  from_participant, to_participants, cc_participants, subject, snippet, sent_at, received_at, size_bytes, raw_ref,
  thread_key, tags, read, archived, deleted_at, pi, importance, facts_json`;

/** Point reads issued at once when hydrating a page or moving a conversation. */
const PARALLEL_READS = 16;

interface ParticipantUdt {
  protocol: string;
  address: string;
  name: string | null;
  contact_id: string | null;
}

const participantToUdt = (p: Participant): ParticipantUdt => ({
  protocol: p.protocol,
  address: p.address,
  name: p.name,
  contact_id: p.contactId,
});

const participantFromUdt = (u: ParticipantUdt): Participant => ({
  protocol: u.protocol,
  address: u.address,
  name: textOrNull(u.name),
  contactId: textOrNull(u.contact_id),
});

/**
 * null for a missing row, and for the ghost a flag update or a move leaves when it races a purge (no
 * content_hash / received_at: only `put` writes those).
 */
function toMessage(r: Row | null): Message | null {
  const receivedAt = r ? dateOrNull(r.get('received_at')) : null;
  const contentHash = r ? textOrNull(r.get('content_hash')) : null;
  if (r === null || receivedAt === null || contentHash === null) return null;
  return {
    id: r.get('message_id') as string,
    accountId: r.get('account_id') as string,
    conversationId: r.get('conversation_id') as string,
    protocol: r.get('protocol') as string,
    direction: r.get('direction') as Message['direction'],
    externalId: textOrNull(r.get('external_id')),
    contentHash,
    from: participantFromUdt(r.get('from_participant') as ParticipantUdt),
    to: listOf<ParticipantUdt>(r.get('to_participants')).map(participantFromUdt),
    cc: listOf<ParticipantUdt>(r.get('cc_participants')).map(participantFromUdt),
    subject: r.get('subject') as string,
    snippet: r.get('snippet') as string,
    sentAt: dateOrNull(r.get('sent_at')),
    receivedAt,
    sizeBytes: toNumber(r.get('size_bytes')),
    rawRef: textOrNull(r.get('raw_ref')),
    threadKey: textOrNull(r.get('thread_key')),
    tags: listOf<string>(r.get('tags')),
    read: r.get('read') === true,
    archived: r.get('archived') === true,
    deletedAt: dateOrNull(r.get('deleted_at')),
    pi: piFromUdt(r.get('pi')),
    importance: toNumber(r.get('importance')),
    facts: JSON.parse((r.get('facts_json') as string | null) ?? '{}') as Record<string, unknown>,
  };
}

const dedupeKey = (accountId: string, externalId: string | null, contentHash: string) => [
  accountId,
  externalId ?? '',
  contentHash,
];

const sameDedupeKey = (m: Message, externalId: string | null, contentHash: string) =>
  (m.externalId ?? '') === (externalId ?? '') && m.contentHash === contentHash;

/** Runs `fn` over `items` with at most `limit` calls in flight; results in input order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Messages on Cassandra: messages_by_id holds each message in its own partition; messages_by_conversation lists
 * keys per conversation and month of reception (message_months lists those months); messages_by_dedupe claims
 * (external id, content hash) by LWT, which makes `put` idempotent even for two copies arriving at once;
 * message_counts counts per account.
 *
 * A listing key counts only if the message still belongs to that conversation at that time; a stale key (a move
 * racing a reader, a lost write) is skipped and deleted with the write time of the message's placement, so the
 * repair never hides a key written after it.
 */
export class CassandraMessageRepository implements MessageRepository {
  private readonly ctx: CassandraContext;
  private readonly dedupe: UniqueClaims;
  private readonly q;

  constructor(ctx: CassandraContext) {
    this.ctx = ctx;
    this.dedupe = ctx.claims(TABLES.messagesByDedupe, ['account_id', 'external_id', 'content_hash'], 'message_id');
    const byId = ctx.table(TABLES.messagesById);
    const byConv = ctx.table(TABLES.messagesByConversation);
    const months = ctx.table(TABLES.messageMonths);
    const counts = ctx.table(TABLES.messageCounts);
    const pending = ctx.table(TABLES.messagesPendingDecryption);
    const indexKey = 'account_id = ? AND conversation_id = ? AND month = ? AND received_at = ? AND message_id = ?';
    this.q = {
      insert: `INSERT INTO ${byId} (${COLUMNS}) VALUES (${COLUMNS.split(',')
        .map(() => '?')
        .join(', ')})`,
      one: `SELECT ${COLUMNS}, WRITETIME(conversation_id) AS placed_written FROM ${byId}
        WHERE account_id = ? AND message_id = ?`,
      flags: `UPDATE ${byId} SET read = ?, archived = ?, tags = ?, deleted_at = ?, importance = ?, pi = ?, facts_json = ?
        WHERE account_id = ? AND message_id = ?`,
      place: `UPDATE ${byId} SET conversation_id = ? WHERE account_id = ? AND message_id = ?`,
      pi: `UPDATE ${byId} SET pi = ? WHERE account_id = ? AND message_id = ?`,
      piFacts: `UPDATE ${byId} SET pi = ?, facts_json = ? WHERE account_id = ? AND message_id = ?`,
      delete: `DELETE FROM ${byId} WHERE account_id = ? AND message_id = ?`,
      insertIndex: `INSERT INTO ${byConv} (account_id, conversation_id, month, received_at, message_id) VALUES (?, ?, ?, ?, ?)`,
      deleteIndex: `DELETE FROM ${byConv} WHERE ${indexKey}`,
      repairIndex: `DELETE FROM ${byConv} USING TIMESTAMP ? WHERE ${indexKey}`,
      firstInMonth: `SELECT received_at, message_id FROM ${byConv}
        WHERE account_id = ? AND conversation_id = ? AND month = ? LIMIT ?`,
      nextInMonth: `SELECT received_at, message_id FROM ${byConv}
        WHERE account_id = ? AND conversation_id = ? AND month = ? AND (received_at, message_id) < (?, ?) LIMIT ?`,
      allInMonth: `SELECT received_at, message_id FROM ${byConv} WHERE account_id = ? AND conversation_id = ? AND month = ?`,
      insertMonth: `INSERT INTO ${months} (account_id, conversation_id, month) VALUES (?, ?, ?)`,
      months: `SELECT month FROM ${months} WHERE account_id = ? AND conversation_id = ?`,
      count: `SELECT messages FROM ${counts} WHERE account_id = ?`,
      addCount: `UPDATE ${counts} SET messages = messages + ? WHERE account_id = ?`,
      insertPending: `INSERT INTO ${pending} (account_id, received_at, message_id) VALUES (?, ?, ?)`,
      deletePending: `DELETE FROM ${pending} WHERE account_id = ? AND received_at = ? AND message_id = ?`,
      pending: `SELECT received_at, message_id FROM ${pending} WHERE account_id = ? LIMIT ?`,
      decrypted: `UPDATE ${byId} SET subject = ?, snippet = ?, thread_key = ?, pi = ?, facts_json = ?
        WHERE account_id = ? AND message_id = ?`,
    };
  }

  async put(message: Message): Promise<{ message: Message; inserted: boolean }> {
    const { accountId, externalId, contentHash } = message;
    const byId = await this.get(accountId, message.id);
    if (byId !== null) return { message: byId, inserted: false };
    // A duplicate is usually already stored: found with plain reads, no LWT.
    const known = await this.findByDedupeKey(accountId, externalId, contentHash);
    if (known !== null) return { message: known, inserted: false };
    const outcome = await this.dedupe.acquire(
      dedupeKey(accountId, externalId, contentHash),
      message.id,
      (owner) => this.holding(accountId, owner, externalId, contentHash),
      { waitForOwner: true },
    );
    if (!outcome.won) {
      if (outcome.current !== null) return { message: outcome.current, inserted: false };
      throw new AppError('conflict', 'The same message is being stored by another request; retry shortly.');
    }
    const month = monthBucket(message.receivedAt);
    await this.ctx.loggedBatch([
      { query: this.q.insert, params: this.row(message) },
      { query: this.q.insertIndex, params: [accountId, message.conversationId, month, message.receivedAt, message.id] },
      { query: this.q.insertMonth, params: [accountId, message.conversationId, month] },
      ...(isPendingDecryption(message.facts)
        ? [{ query: this.q.insertPending, params: [accountId, message.receivedAt, message.id] }]
        : []),
    ]);
    // Counters cannot join a batch with other tables, nor be retried safely: a lost answer may leave it off by one.
    await this.ctx.write(this.q.addCount, [1, accountId], { idempotent: false });
    return { message, inserted: true };
  }

  async get(accountId: string, id: string): Promise<Message | null> {
    return toMessage(await this.ctx.one(this.q.one, [accountId, id]));
  }

  async findByDedupeKey(accountId: string, externalId: string | null, contentHash: string): Promise<Message | null> {
    const owner = await this.dedupe.owner(dedupeKey(accountId, externalId, contentHash));
    return owner === null ? null : this.holding(accountId, owner, externalId, contentHash);
  }

  async listByConversation(accountId: string, conversationId: string, page: TimePage): Promise<Message[]> {
    return collectNewestFirst<Message>({
      months: await this.monthsOf(accountId, conversationId),
      before: page.before,
      limit: page.limit,
      fetch: async (month, before, limit) => {
        const rows = before
          ? await this.ctx.rows(this.q.nextInMonth, [accountId, conversationId, month, before.at, before.id, limit])
          : await this.ctx.rows(this.q.firstInMonth, [accountId, conversationId, month, limit]);
        return rows.map(toKey);
      },
      hydrate: (keys) => mapLimit(keys, PARALLEL_READS, (k) => this.placed(accountId, conversationId, k)),
    });
  }

  /** Whole messages are read here (a message's columns live in one row with its facts). */
  async recentPis(accountId: string, conversationId: string, limit: number): Promise<RecentPi[]> {
    return (await this.listByConversation(accountId, conversationId, { limit })).map((m) => ({
      id: m.id,
      receivedAt: m.receivedAt,
      deletedAt: m.deletedAt,
      pi: m.pi,
    }));
  }

  async updateFlags(accountId: string, id: string, flags: MessageFlags): Promise<Message | null> {
    const m = await this.get(accountId, id);
    if (m === null) return null;
    const next: Message = {
      ...m,
      read: flags.read ?? m.read,
      archived: flags.archived ?? m.archived,
      tags: flags.tags ?? m.tags,
      deletedAt: flags.deletedAt === undefined ? m.deletedAt : flags.deletedAt,
      importance: flags.importance ?? m.importance,
      pi: flags.pi === undefined ? m.pi : flags.pi,
      facts: flags.facts ?? m.facts,
    };
    await this.ctx.write(this.q.flags, [
      next.read,
      next.archived,
      next.tags,
      next.deletedAt,
      next.importance,
      piToUdt(next.pi),
      JSON.stringify(next.facts),
      accountId,
      id,
    ]);
    return next;
  }

  async setPis(
    accountId: string,
    updates: readonly { id: string; pi: StoredPi; facts?: Record<string, unknown> }[],
  ): Promise<void> {
    // Like updateFlags: plain writes (these cells are never written under LWT), after checking the message is there so
    // that an unknown id leaves no partial row.
    await mapLimit(updates, PARALLEL_READS, async (u) => {
      if ((await this.get(accountId, u.id)) === null) return;
      if (u.facts === undefined) await this.ctx.write(this.q.pi, [piToUdt(u.pi), accountId, u.id]);
      else await this.ctx.write(this.q.piFacts, [piToUdt(u.pi), JSON.stringify(u.facts), accountId, u.id]);
    });
  }

  /**
   * Walks the source conversation's keys month by month and re-homes each message: its placement, its key and the
   * target's month, in one logged batch per message (each move is whole or not at all; a retried call resumes).
   */
  async moveConversation(accountId: string, fromConversationId: string, toConversationId: string): Promise<number> {
    let moved = 0;
    for (const month of await this.monthsOf(accountId, fromConversationId)) {
      const keys = (await this.ctx.rows(this.q.allInMonth, [accountId, fromConversationId, month])).map(toKey);
      const done = await mapLimit(keys, PARALLEL_READS, async (k) => {
        const m = await this.placed(accountId, fromConversationId, k);
        if (m === null) return false;
        if (fromConversationId === toConversationId) return true;
        await this.ctx.loggedBatch([
          { query: this.q.place, params: [toConversationId, accountId, m.id] },
          { query: this.q.deleteIndex, params: [accountId, fromConversationId, month, m.receivedAt, m.id] },
          { query: this.q.insertIndex, params: [accountId, toConversationId, month, m.receivedAt, m.id] },
          { query: this.q.insertMonth, params: [accountId, toConversationId, month] },
        ]);
        return true;
      });
      moved += done.filter(Boolean).length;
    }
    return moved;
  }

  /**
   * Releasing the dedupe claim (an LWT) decides which of two concurrent purges removes the message: only that one
   * resolves it (and decrements the count), so its size is released from the quota once.
   */
  async purge(accountId: string, id: string): Promise<Message | null> {
    const m = await this.get(accountId, id);
    if (m === null) return null;
    const released = await this.dedupe.release(dedupeKey(accountId, m.externalId, m.contentHash), id);
    const rows: Statement[] = [
      { query: this.q.delete, params: [accountId, id] },
      {
        query: this.q.deleteIndex,
        params: [accountId, m.conversationId, monthBucket(m.receivedAt), m.receivedAt, id],
      },
      { query: this.q.deletePending, params: [accountId, m.receivedAt, id] },
    ];
    await this.ctx.loggedBatch(rows);
    if (!released) return null;
    await this.ctx.write(this.q.addCount, [-1, accountId], { idempotent: false });
    return m;
  }

  /**
   * Walks the account's pending keys oldest first; a key whose message is gone or no longer pending (a lost
   * delete) is removed on the way. Bounded: at most `limit` messages, reading at most a few pages of keys.
   */
  async listPendingDecryption(accountId: string, limit: number): Promise<Message[]> {
    if (limit <= 0) return [];
    const keys = (await this.ctx.rows(this.q.pending, [accountId, limit * 2])).map(toKey);
    const found = await mapLimit(keys, PARALLEL_READS, async (k) => {
      const m = await this.get(accountId, k.id);
      if (m !== null && isPendingDecryption(m.facts)) return m;
      await this.ctx.write(this.q.deletePending, [accountId, k.at, k.id]);
      return null;
    });
    return found.filter((m): m is Message => m !== null).slice(0, limit);
  }

  async setDecryption(accountId: string, id: string, update: DecryptionUpdate): Promise<Message | null> {
    const m = await this.get(accountId, id);
    if (m === null) return null;
    // Only the openpgp section is replaced (plain writes, like updateFlags: these cells are never written under LWT).
    const next: Message = {
      ...m,
      ...(update.content ?? {}),
      pi: update.pi,
      facts: { ...m.facts, openpgp: update.openpgp },
    };
    const statements: Statement[] = [
      {
        query: this.q.decrypted,
        params: [
          next.subject,
          next.snippet,
          next.threadKey,
          piToUdt(next.pi),
          JSON.stringify(next.facts),
          accountId,
          id,
        ],
      },
    ];
    if (!isPendingDecryption(next.facts))
      statements.push({ query: this.q.deletePending, params: [accountId, m.receivedAt, id] });
    await this.ctx.loggedBatch(statements);
    return next;
  }

  async countByAccount(accountId: string): Promise<number> {
    const row = await this.ctx.one(this.q.count, [accountId]);
    return Math.max(0, toNumber(row?.get('messages')));
  }

  private async monthsOf(accountId: string, conversationId: string): Promise<number[]> {
    return (await this.ctx.rows(this.q.months, [accountId, conversationId])).map((r) => r.get('month') as number);
  }

  /** The message that owns a dedupe claim, if it exists and still has that key. */
  private async holding(
    accountId: string,
    owner: string,
    externalId: string | null,
    contentHash: string,
  ): Promise<Message | null> {
    const m = await this.get(accountId, owner);
    return m !== null && sameDedupeKey(m, externalId, contentHash) ? m : null;
  }

  /**
   * The message of a listing key if it is still placed there (that conversation, that time); otherwise null, and a
   * stale key of an existing message is deleted with the write time of its current placement.
   */
  private async placed(accountId: string, conversationId: string, k: TimeKey): Promise<Message | null> {
    const row = await this.ctx.one(this.q.one, [accountId, k.id]);
    const m = toMessage(row);
    if (m !== null && m.conversationId === conversationId && m.receivedAt.getTime() === k.at.getTime()) return m;
    if (m !== null && row !== null) {
      await this.ctx.write(this.q.repairIndex, [
        row.get('placed_written'),
        accountId,
        conversationId,
        monthBucket(k.at),
        k.at,
        k.id,
      ]);
    }
    return null;
  }

  private row(m: Message): unknown[] {
    return [
      m.accountId,
      m.id,
      m.conversationId,
      m.protocol,
      m.direction,
      m.externalId,
      m.contentHash,
      participantToUdt(m.from),
      m.to.map(participantToUdt),
      m.cc.map(participantToUdt),
      m.subject,
      m.snippet,
      m.sentAt,
      m.receivedAt,
      m.sizeBytes,
      m.rawRef,
      m.threadKey,
      m.tags,
      m.read,
      m.archived,
      m.deletedAt,
      piToUdt(m.pi),
      m.importance,
      JSON.stringify(m.facts),
    ];
  }
}

const toKey = (r: Row): TimeKey => ({ at: r.get('received_at') as Date, id: r.get('message_id') as string });
