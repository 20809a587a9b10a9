import { AppError } from '../shared/errors.ts';
import type { TimePage } from '../shared/paging.ts';
import {
  collectNewestFirst,
  dateOrNull,
  listOf,
  monthBucket,
  piFromUdt,
  piToUdt,
  TABLES,
  type TimeKey,
  textOrNull,
  toNumber,
} from '../storage/cassandra.schema.ts';
import type { CassandraContext, Row, Statement, UniqueClaims } from '../storage/storage.cassandra.ts';
import type { Conversation } from './conversation.entity.ts';
import type { ConversationRepository } from './conversation.repository.ts';

const COLUMNS = `account_id, conversation_id, kind, conversation_key, title, participants, last_message_at, message_count,
  unread_count, pi, importance, created_at`;

/** null for a missing row, and for the ghost an update leaves when it races a delete (no created_at). */
function toConversation(r: Row | null): Conversation | null {
  const createdAt = r ? dateOrNull(r.get('created_at')) : null;
  if (r === null || createdAt === null) return null;
  return {
    id: r.get('conversation_id') as string,
    accountId: r.get('account_id') as string,
    kind: r.get('kind') as Conversation['kind'],
    key: r.get('conversation_key') as string,
    title: r.get('title') as string,
    participants: listOf<{ contact_id: string | null; address: string; name: string | null }>(r.get('participants')).map(
      (p) => ({ contactId: textOrNull(p.contact_id), address: p.address, name: textOrNull(p.name) }),
    ),
    lastMessageAt: dateOrNull(r.get('last_message_at')) ?? createdAt,
    messageCount: toNumber(r.get('message_count')),
    unreadCount: toNumber(r.get('unread_count')),
    pi: piFromUdt(r.get('pi')),
    importance: toNumber(r.get('importance')),
    createdAt,
  };
}

const participantsUdt = (c: Conversation) =>
  c.participants.map((p) => ({ contact_id: p.contactId, address: p.address, name: p.name }));

/**
 * Conversations on Cassandra: conversations_by_account holds them, conversation_by_key makes the participant-set
 * key unique (LWT, taken only when a conversation is actually created), conversations_by_activity lists keys by
 * month of last activity, conversation_activity_months lists those months.
 *
 * Listing reads keys, then the conversations in one IN query on the account's partition, and keeps a key only if
 * it matches the conversation's current last_message_at: two updates racing from the same old state cannot show a
 * conversation twice, and the loser's key is deleted on the way.
 */
export class CassandraConversationRepository implements ConversationRepository {
  private readonly ctx: CassandraContext;
  private readonly keys: UniqueClaims;
  private readonly q;

  constructor(ctx: CassandraContext) {
    this.ctx = ctx;
    this.keys = ctx.claims(TABLES.conversationByKey, ['account_id', 'conversation_key'], 'conversation_id');
    const t = ctx.table(TABLES.conversationsByAccount);
    const activity = ctx.table(TABLES.conversationsByActivity);
    const months = ctx.table(TABLES.conversationActivityMonths);
    this.q = {
      insert: `INSERT INTO ${t} (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      update: `UPDATE ${t} SET kind = ?, conversation_key = ?, title = ?, participants = ?, last_message_at = ?,
        message_count = ?, unread_count = ?, pi = ?, importance = ? WHERE account_id = ? AND conversation_id = ?`,
      delete: `DELETE FROM ${t} WHERE account_id = ? AND conversation_id = ?`,
      one: `SELECT ${COLUMNS} FROM ${t} WHERE account_id = ? AND conversation_id = ?`,
      some: `SELECT ${COLUMNS}, WRITETIME(last_message_at) AS activity_written FROM ${t}
        WHERE account_id = ? AND conversation_id IN ?`,
      insertActivity: `INSERT INTO ${activity} (account_id, month, last_message_at, conversation_id) VALUES (?, ?, ?, ?)`,
      deleteActivity: `DELETE FROM ${activity} WHERE account_id = ? AND month = ? AND last_message_at = ? AND conversation_id = ?`,
      repairActivity: `DELETE FROM ${activity} USING TIMESTAMP ?
        WHERE account_id = ? AND month = ? AND last_message_at = ? AND conversation_id = ?`,
      firstInMonth: `SELECT last_message_at, conversation_id FROM ${activity} WHERE account_id = ? AND month = ? LIMIT ?`,
      nextInMonth: `SELECT last_message_at, conversation_id FROM ${activity}
        WHERE account_id = ? AND month = ? AND (last_message_at, conversation_id) < (?, ?) LIMIT ?`,
      insertMonth: `INSERT INTO ${months} (account_id, month) VALUES (?, ?)`,
      months: `SELECT month FROM ${months} WHERE account_id = ?`,
    };
  }

  async getOrCreate(conversation: Conversation): Promise<Conversation> {
    // Nearly every call finds an existing conversation: a plain read, no LWT.
    const existing = await this.getByKey(conversation.accountId, conversation.key);
    if (existing !== null) return existing;
    const { accountId } = conversation;
    const outcome = await this.keys.acquire([accountId, conversation.key], conversation.id, this.holder(accountId, conversation.key), {
      waitForOwner: true,
    });
    if (!outcome.won) {
      if (outcome.current !== null) return outcome.current;
      throw new AppError('conflict', 'This conversation is being created by another request; retry shortly.');
    }
    await this.ctx.loggedBatch([
      {
        query: this.q.insert,
        params: [
          accountId,
          conversation.id,
          conversation.kind,
          conversation.key,
          conversation.title,
          participantsUdt(conversation),
          conversation.lastMessageAt,
          conversation.messageCount,
          conversation.unreadCount,
          piToUdt(conversation.pi),
          conversation.importance,
          conversation.createdAt,
        ],
      },
      ...this.activityRows(conversation),
    ]);
    return conversation;
  }

  async get(accountId: string, id: string): Promise<Conversation | null> {
    return toConversation(await this.ctx.one(this.q.one, [accountId, id]));
  }

  async getByKey(accountId: string, key: string): Promise<Conversation | null> {
    const owner = await this.keys.owner([accountId, key]);
    return owner === null ? null : this.holder(accountId, key)(owner);
  }

  async list(accountId: string, page: TimePage): Promise<Conversation[]> {
    const months = (await this.ctx.rows(this.q.months, [accountId])).map((r) => r.get('month') as number);
    return collectNewestFirst<Conversation>({
      months,
      before: page.before,
      limit: page.limit,
      fetch: async (month, before, limit) => {
        const rows = before
          ? await this.ctx.rows(this.q.nextInMonth, [accountId, month, before.at, before.id, limit])
          : await this.ctx.rows(this.q.firstInMonth, [accountId, month, limit]);
        return rows.map((r) => ({ at: r.get('last_message_at') as Date, id: r.get('conversation_id') as string }));
      },
      hydrate: (keys) => this.hydrate(accountId, keys),
    });
  }

  async update(conversation: Conversation): Promise<void> {
    const { accountId, id } = conversation;
    const current = await this.get(accountId, id);
    if (current === null) return;
    const keyChanged = current.key !== conversation.key;
    if (keyChanged) {
      const outcome = await this.keys.acquire([accountId, conversation.key], id, this.holder(accountId, conversation.key), {
        waitForOwner: true,
      });
      if (!outcome.won) throw new AppError('conflict', 'Another conversation of this account already has this key.');
    }
    const batch: Statement[] = [
      {
        query: this.q.update,
        params: [
          conversation.kind,
          conversation.key,
          conversation.title,
          participantsUdt(conversation),
          conversation.lastMessageAt,
          conversation.messageCount,
          conversation.unreadCount,
          piToUdt(conversation.pi),
          conversation.importance,
          accountId,
          id,
        ],
      },
      ...this.activityRows(conversation),
    ];
    if (current.lastMessageAt.getTime() !== conversation.lastMessageAt.getTime()) {
      batch.push({
        query: this.q.deleteActivity,
        params: [accountId, monthBucket(current.lastMessageAt), current.lastMessageAt, id],
      });
    }
    await this.ctx.loggedBatch(batch);
    if (keyChanged) await this.keys.release([accountId, current.key], id);
  }

  async delete(accountId: string, id: string): Promise<boolean> {
    const current = await this.get(accountId, id);
    if (current === null) return false;
    await this.ctx.loggedBatch([
      { query: this.q.delete, params: [accountId, id] },
      { query: this.q.deleteActivity, params: [accountId, monthBucket(current.lastMessageAt), current.lastMessageAt, id] },
    ]);
    await this.keys.release([accountId, current.key], id);
    return true;
  }

  /** Reads a key claim's owner: it counts only while that conversation exists and still has the key. */
  private holder(accountId: string, key: string): (owner: string) => Promise<Conversation | null> {
    return async (owner) => {
      const c = await this.get(accountId, owner);
      return c?.key === key ? c : null;
    };
  }

  /** The activity key of a conversation and the month that lists it. */
  private activityRows(c: Conversation): Statement[] {
    const month = monthBucket(c.lastMessageAt);
    return [
      { query: this.q.insertActivity, params: [c.accountId, month, c.lastMessageAt, c.id] },
      { query: this.q.insertMonth, params: [c.accountId, month] },
    ];
  }

  /**
   * The conversations of these activity keys, in key order; null for a stale key (its conversation is gone or
   * active at another time). A stale key of a live conversation is deleted with the write time of the
   * conversation's last_message_at: older keys go, a key written by a newer update in flight stays.
   */
  private async hydrate(accountId: string, keys: TimeKey[]): Promise<(Conversation | null)[]> {
    const ids = [...new Set(keys.map((k) => k.id))];
    const rows = await this.ctx.rows(this.q.some, [accountId, ids]);
    const byId = new Map(rows.map((r) => [r.get('conversation_id') as string, r]));
    const out: (Conversation | null)[] = [];
    for (const k of keys) {
      const row = byId.get(k.id) ?? null;
      const conversation = toConversation(row);
      if (conversation !== null && conversation.lastMessageAt.getTime() === k.at.getTime()) {
        out.push(conversation);
        continue;
      }
      if (conversation !== null && row !== null) {
        await this.ctx.write(this.q.repairActivity, [row.get('activity_written'), accountId, monthBucket(k.at), k.at, k.id]);
      }
      out.push(null);
    }
    return out;
  }
}
