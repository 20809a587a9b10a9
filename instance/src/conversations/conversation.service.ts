import type { Contact } from '../contacts/contact.entity.ts';
import type { Message } from '../mail/message.entity.ts';
import { AppError } from '../shared/errors.ts';
import { decodeCursor, encodeCursor, type TimeCursor } from '../shared/paging.ts';
import type { Storage } from '../database/storage.port.ts';
import type { Conversation } from './conversation.entity.ts';
import type { ImportanceCursor } from './conversation.repository.ts';
import { peopleKey, titleOf, type Resolution } from './conversation.resolver.ts';

import type { Page } from '../shared/paging.ts';

export type { Page };

export interface ThreadSummary {
  threadKey: string;
  /** Subject of the newest message of the thread. */
  subject: string;
  messageCount: number;
  unreadCount: number;
  lastMessageAt: Date;
  /** Newest first, at most THREAD_MESSAGE_IDS. */
  messageIds: string[];
}

/**
 * A conversation's importance is the highest importance among its IMPORTANCE_WINDOW newest visible (not deleted)
 * messages: one important message makes the discussion important while it is recent, and a discussion of junk
 * becomes normal again when a normal message arrives. Recomputed on ingest, on feedback, on delete, restore and purge.
 */
export const IMPORTANCE_WINDOW = 20;
/** Rows read at most to find the IMPORTANCE_WINDOW newest visible messages (deleted ones are skipped). */
const IMPORTANCE_SCAN = 200;

export type DiscussionSort = 'date' | 'importance';

/** Rows read per conversation to find its newest received message for the list's trust level. */
const SENDER_SCAN = 10;

function encodeImportanceCursor(c: ImportanceCursor): string {
  return Buffer.from(`i:${c.importance}:${c.at.getTime()}:${c.id}`, 'utf8').toString('base64url');
}

function parseImportanceCursor(cursor: string | undefined): ImportanceCursor | undefined {
  if (cursor === undefined) return undefined;
  const m = /^i:(-?\d{1,2}):(\d{1,15}):([A-Za-z0-9-]{1,64})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m)
    throw new AppError(
      'validation_failed',
      'The cursor is not one this API gave for this sort; start again without it.',
    );
  return { importance: Number(m[1]), at: new Date(Number(m[2])), id: m[3]! };
}

/** Messages a thread view looks at (the newest ones of the conversation). */
export const THREAD_SCAN_LIMIT = 2000;
const THREAD_MESSAGE_IDS = 50;
const BATCH = 100;

export function parseCursor(cursor: string | undefined): TimeCursor | undefined {
  if (cursor === undefined) return undefined;
  const c = decodeCursor(cursor);
  if (c === null)
    throw new AppError('validation_failed', 'The cursor is not one this API gave; start again without it.');
  return c;
}

/**
 * Fills a keyset page from a newest-first source while skipping items the caller must not see (soft-deleted
 * messages, emptied conversations). Reads one visible item past the page to know whether there is a next one.
 */
async function collectPage<T, C = TimeCursor>(
  fetch: (before: C | undefined, limit: number) => Promise<T[]>,
  keep: (item: T) => boolean,
  keyOf: (item: T) => C,
  limit: number,
  before: C | undefined,
  encode: (c: C) => string = encodeCursor as (c: C) => string,
): Promise<Page<T>> {
  const out: T[] = [];
  let cursor = before;
  const batch = Math.max(limit + 1, BATCH);
  for (;;) {
    const rows = await fetch(cursor, batch);
    for (const row of rows) {
      if (keep(row)) out.push(row);
      if (out.length > limit) break;
    }
    if (out.length > limit || rows.length < batch) break;
    cursor = keyOf(rows[rows.length - 1]!);
  }
  const items = out.slice(0, limit);
  const more = out.length > limit;
  return { items, next: more && items.length > 0 ? encode(keyOf(items[items.length - 1]!)) : null };
}

const visible = (m: Message) => m.deletedAt === null;
const unread = (m: Message) => visible(m) && !m.read;
const messageKey = (m: Message): TimeCursor => ({ at: m.receivedAt, id: m.id });

/**
 * The user's conversations: listing, and the counters (messages, unread, last activity, title) kept in step with
 * every change to their messages. The `record*` and `mergeContacts` methods change counters and must run inside the
 * account's MailboxLocks section (their callers hold it).
 */
export class ConversationService {
  constructor(private readonly storage: Storage) {}

  /**
   * Conversations with at least one visible message, most recently active first; with `sort: 'importance'`, most
   * important first, then most recently active. A cursor is valid only for the sort that gave it.
   */
  list(
    accountId: string,
    page: { limit: number; cursor?: string; sort?: DiscussionSort },
  ): Promise<Page<Conversation>> {
    if (page.sort === 'importance') {
      return collectPage<Conversation, ImportanceCursor>(
        (before, limit) =>
          this.storage.conversations.listByImportance(accountId, { limit, ...(before ? { before } : {}) }),
        (c) => c.messageCount > 0,
        (c) => ({ importance: c.importance, at: c.lastMessageAt, id: c.id }),
        page.limit,
        parseImportanceCursor(page.cursor),
        encodeImportanceCursor,
      );
    }
    return collectPage(
      (before, limit) => this.storage.conversations.list(accountId, { limit, ...(before ? { before } : {}) }),
      (c) => c.messageCount > 0,
      (c) => ({ at: c.lastMessageAt, id: c.id }),
      page.limit,
      parseCursor(page.cursor),
    );
  }

  async get(accountId: string, id: string): Promise<Conversation> {
    const c = await this.storage.conversations.get(accountId, id);
    if (c === null) throw new AppError('not_found', 'No such discussion.');
    return c;
  }

  /**
   * For each conversation, its newest visible received message among its SENDER_SCAN newest rows, or null: what the
   * list shows the correspondent's trust level from (the facts recorded on the way in). One indexed read per
   * conversation, all on this side of the API, instead of two requests per row from the browser.
   */
  async latestReceived(accountId: string, conversations: Conversation[]): Promise<Map<string, Message | null>> {
    const out = new Map<string, Message | null>();
    for (const c of conversations) {
      const rows = await this.storage.messages.listByConversation(accountId, c.id, { limit: SENDER_SCAN });
      out.set(c.id, rows.find((m) => m.direction === 'inbound' && visible(m)) ?? null);
    }
    return out;
  }

  /** Messages of a conversation, newest first; soft-deleted ones only when asked; optionally one thread only. */
  async listMessages(
    accountId: string,
    conversationId: string,
    page: { limit: number; cursor?: string; includeDeleted?: boolean; thread?: string },
  ): Promise<Page<Message>> {
    await this.get(accountId, conversationId);
    return collectPage(
      (before, limit) =>
        this.storage.messages.listByConversation(accountId, conversationId, { limit, ...(before ? { before } : {}) }),
      (m) => (page.includeDeleted || visible(m)) && (page.thread === undefined || (m.threadKey ?? '') === page.thread),
      messageKey,
      page.limit,
      parseCursor(page.cursor),
    );
  }

  /**
   * The secondary per-subject view: the conversation's visible messages grouped by thread key (subject without
   * Re:/Fwd: prefixes), most recently active thread first. Looks at the newest THREAD_SCAN_LIMIT messages;
   * `truncated` says when there were more.
   */
  async threads(accountId: string, conversationId: string): Promise<{ items: ThreadSummary[]; truncated: boolean }> {
    await this.get(accountId, conversationId);
    const threads = new Map<string, ThreadSummary>();
    let scanned = 0;
    let before: TimeCursor | undefined;
    let truncated = false;
    for (;;) {
      const rows = await this.storage.messages.listByConversation(accountId, conversationId, {
        limit: BATCH,
        ...(before ? { before } : {}),
      });
      for (const m of rows) {
        if (scanned >= THREAD_SCAN_LIMIT) {
          truncated = true;
          break;
        }
        scanned++;
        if (!visible(m)) continue;
        const key = m.threadKey ?? '';
        let t = threads.get(key);
        if (t === undefined) {
          t = {
            threadKey: key,
            subject: m.subject,
            messageCount: 0,
            unreadCount: 0,
            lastMessageAt: m.receivedAt,
            messageIds: [],
          };
          threads.set(key, t);
        }
        t.messageCount++;
        if (!m.read) t.unreadCount++;
        if (t.messageIds.length < THREAD_MESSAGE_IDS) t.messageIds.push(m.id);
      }
      if (truncated || rows.length < BATCH) break;
      before = messageKey(rows[rows.length - 1]!);
    }
    return {
      items: [...threads.values()].sort((a, b) => b.lastMessageAt.getTime() - a.lastMessageAt.getTime()),
      truncated,
    };
  }

  /** A new message joined the conversation (caller holds the account lock). */
  async recordIngested(resolution: Resolution, m: Message): Promise<Conversation> {
    const current =
      (await this.storage.conversations.get(m.accountId, resolution.conversation.id)) ?? resolution.conversation;
    const next: Conversation = {
      ...current,
      participants: resolution.participants,
      title: resolution.title,
      messageCount: current.messageCount + (visible(m) ? 1 : 0),
      unreadCount: current.unreadCount + (unread(m) ? 1 : 0),
      lastMessageAt: visible(m) && m.receivedAt > current.lastMessageAt ? m.receivedAt : current.lastMessageAt,
      importance: await this.importanceWith(current, m),
    };
    await this.storage.conversations.update(next);
    return next;
  }

  /**
   * A message's importance or visibility changed (user feedback, delete, restore; caller holds the account lock):
   * the conversation's importance is computed again over its recent messages.
   */
  async recordImportance(before: Message, after: Message): Promise<void> {
    if (before.importance === after.importance && visible(before) === visible(after)) return;
    const c = await this.storage.conversations.get(after.accountId, after.conversationId);
    if (c === null) return;
    const importance = await this.recentImportance(after.accountId, after.conversationId);
    if (importance !== c.importance) await this.storage.conversations.update({ ...c, importance });
  }

  /** A message's read or deleted state changed (caller holds the account lock). */
  async recordFlags(before: Message, after: Message): Promise<void> {
    const dCount = Number(visible(after)) - Number(visible(before));
    const dUnread = Number(unread(after)) - Number(unread(before));
    if (dCount === 0 && dUnread === 0) return;
    const c = await this.storage.conversations.get(after.accountId, after.conversationId);
    if (c === null) return;
    let lastMessageAt = c.lastMessageAt;
    if (dCount > 0 && after.receivedAt > lastMessageAt) lastMessageAt = after.receivedAt;
    if (dCount < 0) lastMessageAt = (await this.newestVisible(after.accountId, after.conversationId)) ?? lastMessageAt;
    await this.storage.conversations.update({
      ...c,
      messageCount: Math.max(0, c.messageCount + dCount),
      unreadCount: Math.max(0, c.unreadCount + dUnread),
      lastMessageAt,
    });
  }

  /** A message was purged (caller holds the account lock). A conversation left without any message goes too. */
  async recordPurged(m: Message): Promise<void> {
    const c = await this.storage.conversations.get(m.accountId, m.conversationId);
    if (c === null) return;
    const remaining = await this.storage.messages.listByConversation(m.accountId, m.conversationId, { limit: 1 });
    if (remaining.length === 0) {
      await this.storage.conversations.delete(m.accountId, c.id);
      return;
    }
    if (!visible(m)) return;
    await this.storage.conversations.update({
      ...c,
      messageCount: Math.max(0, c.messageCount - 1),
      unreadCount: Math.max(0, c.unreadCount - (unread(m) ? 1 : 0)),
      lastMessageAt: (await this.newestVisible(m.accountId, m.conversationId)) ?? c.lastMessageAt,
      importance: await this.recentImportance(m.accountId, m.conversationId),
    });
  }

  /**
   * Contacts `sourceIds` were merged into `target`: every conversation with people that involved a source is
   * re-keyed on the merged participant set. When a conversation with that set already exists (typically the
   * target's own), the messages move into it and the counters add up; otherwise the conversation just takes the
   * new key. Scans the account's conversations (a merge is a rare, user-initiated action). Caller holds the lock.
   */
  async mergeContacts(
    accountId: string,
    target: Contact,
    sourceIds: ReadonlySet<string>,
  ): Promise<{ conversations: number; messagesMoved: number }> {
    const affected: Conversation[] = [];
    let before: TimeCursor | undefined;
    for (;;) {
      const rows = await this.storage.conversations.list(accountId, { limit: BATCH, ...(before ? { before } : {}) });
      for (const c of rows) {
        if (c.kind === 'people' && c.participants.some((p) => p.contactId !== null && sourceIds.has(p.contactId)))
          affected.push(c);
      }
      if (rows.length < BATCH) break;
      const last = rows[rows.length - 1]!;
      before = { at: last.lastMessageAt, id: last.id };
    }
    let messagesMoved = 0;
    for (const old of affected) {
      const participants = new Map<string, Conversation['participants'][number]>();
      for (const p of old.participants) {
        const merged =
          p.contactId !== null && sourceIds.has(p.contactId)
            ? { ...p, contactId: target.id, name: target.displayName }
            : p;
        const id = merged.contactId ?? `address:${merged.address}`;
        if (!participants.has(id)) participants.set(id, merged);
      }
      const list = [...participants.values()];
      const key = peopleKey(list.flatMap((p) => (p.contactId === null ? [] : [p.contactId])));
      const title = titleOf(list, old.title);
      const into = await this.storage.conversations.getByKey(accountId, key);
      if (into !== null && into.id !== old.id) {
        messagesMoved += await this.storage.messages.moveConversation(accountId, old.id, into.id);
        await this.storage.conversations.update({
          ...into,
          participants: list,
          title,
          messageCount: into.messageCount + old.messageCount,
          unreadCount: into.unreadCount + old.unreadCount,
          lastMessageAt: old.lastMessageAt > into.lastMessageAt ? old.lastMessageAt : into.lastMessageAt,
          importance: Math.max(into.importance, old.importance),
        });
        await this.storage.conversations.delete(accountId, old.id);
      } else {
        await this.storage.conversations.update({ ...old, key, participants: list, title });
      }
    }
    return { conversations: affected.length, messagesMoved };
  }

  /**
   * The conversation's importance once `m` (just stored) joined it. When `m` is its newest message and matters at
   * least as much as the conversation already does, `m` sets it (nothing else in the window can exceed it);
   * otherwise the recent messages are read again (the message that made the conversation important may just have
   * left the window; an old message imported late may not be in the window at all).
   */
  private async importanceWith(current: Conversation, m: Message): Promise<number> {
    if (!visible(m)) return current.importance;
    if (current.messageCount === 0) return m.importance;
    if (m.importance >= current.importance && m.receivedAt >= current.lastMessageAt) return m.importance;
    return this.recentImportance(m.accountId, m.conversationId);
  }

  /** The highest importance among the IMPORTANCE_WINDOW newest visible messages (0 when there are none). */
  private async recentImportance(accountId: string, conversationId: string): Promise<number> {
    let best: number | null = null;
    let seen = 0;
    let before: TimeCursor | undefined;
    for (let scanned = 0; scanned < IMPORTANCE_SCAN && seen < IMPORTANCE_WINDOW; ) {
      const rows = await this.storage.messages.listByConversation(accountId, conversationId, {
        limit: IMPORTANCE_WINDOW,
        ...(before ? { before } : {}),
      });
      for (const m of rows) {
        scanned++;
        if (!visible(m)) continue;
        best = best === null ? m.importance : Math.max(best, m.importance);
        if (++seen >= IMPORTANCE_WINDOW) break;
      }
      if (rows.length < IMPORTANCE_WINDOW) break;
      before = messageKey(rows[rows.length - 1]!);
    }
    return best ?? 0;
  }

  private async newestVisible(accountId: string, conversationId: string): Promise<Date | null> {
    let before: TimeCursor | undefined;
    for (let scanned = 0; scanned < 10 * BATCH; scanned += BATCH) {
      const rows = await this.storage.messages.listByConversation(accountId, conversationId, {
        limit: BATCH,
        ...(before ? { before } : {}),
      });
      const m = rows.find(visible);
      if (m) return m.receivedAt;
      if (rows.length < BATCH) return null;
      before = messageKey(rows[rows.length - 1]!);
    }
    return null;
  }
}
