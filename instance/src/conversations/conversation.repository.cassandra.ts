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
import type { Conversation } from './conversation.entity.ts';
import { IMPORTANCE_LEVELS, IMPORTANCE_VALUES, importanceLevelOf } from '../mail/importance.model.ts';
import type { ConversationRepository, ImportancePage } from './conversation.repository.ts';

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
    participants: listOf<{ contact_id: string | null; address: string; name: string | null }>(
      r.get('participants'),
    ).map((p) => ({ contactId: textOrNull(p.contact_id), address: p.address, name: textOrNull(p.name) })),
    lastMessageAt: dateOrNull(r.get('last_message_at')) ?? createdAt,
    messageCount: toNumber(r.get('message_count')),
    unreadCount: toNumber(r.get('unread_count')),
    pi: piFromUdt(r.get('pi')),
    importance: toNumber(r.get('importance')),
    createdAt,
  };
}

/** The listing level of a stored importance (-2..2; anything else is clamped). */
const levelOf = (importance: number): number => IMPORTANCE_VALUES[importanceLevelOf(importance)];
/** The levels, most important first: the order of the importance walk. */
const LEVELS = IMPORTANCE_LEVELS.map((l) => IMPORTANCE_VALUES[l]);

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
 *
 * Listing by importance walks the levels from important to junk. A conversation whose importance is not normal
 * also has a key in conversations_by_importance (account, level, month of last activity), moved with it when its
 * level or its last activity changes; the normal level is read from conversations_by_activity, keeping the
 * conversations whose importance is 0 (the great majority, and every conversation written before that table
 * existed: no backfill). Keys are checked against the conversation's current level and last_message_at, as above.
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
    const byImportance = ctx.table(TABLES.conversationsByImportance);
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
      insertImportance: `INSERT INTO ${byImportance} (account_id, importance, month, last_message_at, conversation_id) VALUES (?, ?, ?, ?, ?)`,
      deleteImportance: `DELETE FROM ${byImportance}
        WHERE account_id = ? AND importance = ? AND month = ? AND last_message_at = ? AND conversation_id = ?`,
      repairImportance: `DELETE FROM ${byImportance} USING TIMESTAMP ?
        WHERE account_id = ? AND importance = ? AND month = ? AND last_message_at = ? AND conversation_id = ?`,
      firstInLevel: `SELECT last_message_at, conversation_id FROM ${byImportance}
        WHERE account_id = ? AND importance = ? AND month = ? LIMIT ?`,
      nextInLevel: `SELECT last_message_at, conversation_id FROM ${byImportance}
        WHERE account_id = ? AND importance = ? AND month = ? AND (last_message_at, conversation_id) < (?, ?) LIMIT ?`,
    };
  }

  async getOrCreate(conversation: Conversation): Promise<Conversation> {
    // Nearly every call finds an existing conversation: a plain read, no LWT.
    const existing = await this.getByKey(conversation.accountId, conversation.key);
    if (existing !== null) return existing;
    const { accountId } = conversation;
    const outcome = await this.keys.acquire(
      [accountId, conversation.key],
      conversation.id,
      this.holder(accountId, conversation.key),
      {
        waitForOwner: true,
      },
    );
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

  async listByImportance(accountId: string, page: ImportancePage): Promise<Conversation[]> {
    const months = (await this.ctx.rows(this.q.months, [accountId])).map((r) => r.get('month') as number);
    const b = page.before;
    const out: Conversation[] = [];
    const seen = new Set<string>();
    for (const level of LEVELS) {
      const need = page.limit - out.length;
      if (need <= 0) break;
      if (b !== undefined && level > levelOf(b.importance)) continue;
      const before = b !== undefined && level === levelOf(b.importance) ? { at: b.at, id: b.id } : undefined;
      const toKeys = (rows: Row[]) =>
        rows.map((r) => ({ at: r.get('last_message_at') as Date, id: r.get('conversation_id') as string }));
      const items =
        level === 0
          ? await collectNewestFirst<Conversation>({
              months,
              before,
              limit: need,
              fetch: async (month, from, limit) =>
                toKeys(
                  from
                    ? await this.ctx.rows(this.q.nextInMonth, [accountId, month, from.at, from.id, limit])
                    : await this.ctx.rows(this.q.firstInMonth, [accountId, month, limit]),
                ),
              hydrate: async (keys) =>
                (await this.hydrate(accountId, keys)).map((c) =>
                  c !== null && levelOf(c.importance) === 0 ? c : null,
                ),
            })
          : await collectNewestFirst<Conversation>({
              months,
              before,
              limit: need,
              fetch: async (month, from, limit) =>
                toKeys(
                  from
                    ? await this.ctx.rows(this.q.nextInLevel, [accountId, level, month, from.at, from.id, limit])
                    : await this.ctx.rows(this.q.firstInLevel, [accountId, level, month, limit]),
                ),
              hydrate: (keys) => this.hydrateLevel(accountId, level, keys),
            });
      for (const c of items) {
        // A conversation whose level changed during the walk could be met twice: shown once.
        if (!seen.has(c.id)) out.push(c);
        seen.add(c.id);
      }
    }
    return out;
  }

  async update(conversation: Conversation): Promise<void> {
    const { accountId, id } = conversation;
    const current = await this.get(accountId, id);
    if (current === null) return;
    const keyChanged = current.key !== conversation.key;
    if (keyChanged) {
      const outcome = await this.keys.acquire(
        [accountId, conversation.key],
        id,
        this.holder(accountId, conversation.key),
        {
          waitForOwner: true,
        },
      );
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
    const oldLevel = levelOf(current.importance);
    if (
      oldLevel !== 0 &&
      (oldLevel !== levelOf(conversation.importance) ||
        current.lastMessageAt.getTime() !== conversation.lastMessageAt.getTime())
    ) {
      batch.push({
        query: this.q.deleteImportance,
        params: [accountId, oldLevel, monthBucket(current.lastMessageAt), current.lastMessageAt, id],
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
      {
        query: this.q.deleteActivity,
        params: [accountId, monthBucket(current.lastMessageAt), current.lastMessageAt, id],
      },
      ...(levelOf(current.importance) === 0
        ? []
        : [
            {
              query: this.q.deleteImportance,
              params: [
                accountId,
                levelOf(current.importance),
                monthBucket(current.lastMessageAt),
                current.lastMessageAt,
                id,
              ],
            },
          ]),
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

  /** The activity key of a conversation, its importance key when it is not normal, and the month that lists them. */
  private activityRows(c: Conversation): Statement[] {
    const month = monthBucket(c.lastMessageAt);
    const level = levelOf(c.importance);
    return [
      { query: this.q.insertActivity, params: [c.accountId, month, c.lastMessageAt, c.id] },
      { query: this.q.insertMonth, params: [c.accountId, month] },
      ...(level === 0
        ? []
        : [{ query: this.q.insertImportance, params: [c.accountId, level, month, c.lastMessageAt, c.id] }]),
    ];
  }

  /**
   * The conversations of these importance keys of one level, in key order; null for a stale key (the conversation
   * is gone, or at another level or time now), deleted with the write time of the conversation's last update (the
   * update statement writes last_message_at and importance together), as in hydrate.
   */
  private async hydrateLevel(accountId: string, level: number, keys: TimeKey[]): Promise<(Conversation | null)[]> {
    const ids = [...new Set(keys.map((k) => k.id))];
    const rows = await this.ctx.rows(this.q.some, [accountId, ids]);
    const byId = new Map(rows.map((r) => [r.get('conversation_id') as string, r]));
    const out: (Conversation | null)[] = [];
    for (const k of keys) {
      const row = byId.get(k.id) ?? null;
      const conversation = toConversation(row);
      if (
        conversation !== null &&
        levelOf(conversation.importance) === level &&
        conversation.lastMessageAt.getTime() === k.at.getTime()
      ) {
        out.push(conversation);
        continue;
      }
      if (conversation !== null && row !== null) {
        await this.ctx.write(this.q.repairImportance, [
          row.get('activity_written'),
          accountId,
          level,
          monthBucket(k.at),
          k.at,
          k.id,
        ]);
      }
      out.push(null);
    }
    return out;
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
        await this.ctx.write(this.q.repairActivity, [
          row.get('activity_written'),
          accountId,
          monthBucket(k.at),
          k.at,
          k.id,
        ]);
      }
      out.push(null);
    }
    return out;
  }
}
