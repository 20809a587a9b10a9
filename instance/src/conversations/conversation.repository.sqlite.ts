import type { StoredPi } from '../mail/message.entity.ts';
import type { TimePage } from '../shared/paging.ts';
import type { SqliteDb } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import { fromMs, jsonOrNull, parseOrNull, toMs } from '@caliopen/platform/sqlite/sqlite.mapping.ts';
import type { Conversation } from './conversation.entity.ts';
import type { ConversationRepository, ImportancePage } from './conversation.repository.ts';

interface ConversationRow {
  id: string;
  account_id: string;
  kind: 'people' | 'list';
  key: string;
  title: string;
  participants_json: string;
  last_message_at: number;
  message_count: number;
  unread_count: number;
  pi_json: string | null;
  importance: number;
  created_at: number;
}

const toConversation = (r: ConversationRow): Conversation => ({
  id: r.id,
  accountId: r.account_id,
  kind: r.kind,
  key: r.key,
  title: r.title,
  participants: JSON.parse(r.participants_json) as Conversation['participants'],
  lastMessageAt: fromMs(r.last_message_at),
  messageCount: r.message_count,
  unreadCount: r.unread_count,
  pi: parseOrNull<StoredPi>(r.pi_json),
  importance: r.importance,
  createdAt: fromMs(r.created_at),
});

const toRow = (c: Conversation) => ({
  id: c.id,
  accountId: c.accountId,
  kind: c.kind,
  key: c.key,
  title: c.title,
  participantsJson: JSON.stringify(c.participants),
  lastMessageAt: toMs(c.lastMessageAt),
  messageCount: c.messageCount,
  unreadCount: c.unreadCount,
  piJson: jsonOrNull(c.pi),
  importance: c.importance,
  createdAt: toMs(c.createdAt),
});

export class SqliteConversationRepository implements ConversationRepository {
  private readonly insert;
  private readonly one;
  private readonly byKey;
  private readonly firstPage;
  private readonly nextPage;
  private readonly firstByImportance;
  private readonly nextByImportance;
  private readonly updateStmt;
  private readonly deleteStmt;

  constructor(db: SqliteDb) {
    this.insert = db.prepare(
      `INSERT INTO conversations (id, account_id, kind, key, title, participants_json, last_message_at, message_count,
         unread_count, pi_json, importance, created_at)
       VALUES (@id, @accountId, @kind, @key, @title, @participantsJson, @lastMessageAt, @messageCount,
         @unreadCount, @piJson, @importance, @createdAt)
       ON CONFLICT (account_id, key) DO NOTHING`,
    );
    this.one = db.prepare<[string, string], ConversationRow>(
      'SELECT * FROM conversations WHERE account_id = ? AND id = ?',
    );
    this.byKey = db.prepare<[string, string], ConversationRow>(
      'SELECT * FROM conversations WHERE account_id = ? AND key = ?',
    );
    this.firstPage = db.prepare<[string, number], ConversationRow>(
      'SELECT * FROM conversations WHERE account_id = ? ORDER BY last_message_at DESC, id DESC LIMIT ?',
    );
    this.nextPage = db.prepare<[string, number, string, number], ConversationRow>(
      `SELECT * FROM conversations WHERE account_id = ? AND (last_message_at, id) < (?, ?)
       ORDER BY last_message_at DESC, id DESC LIMIT ?`,
    );
    // Index conversations_by_importance (migration 5) serves both.
    this.firstByImportance = db.prepare<[string, number], ConversationRow>(
      'SELECT * FROM conversations WHERE account_id = ? ORDER BY importance DESC, last_message_at DESC, id DESC LIMIT ?',
    );
    this.nextByImportance = db.prepare<[string, number, number, string, number], ConversationRow>(
      `SELECT * FROM conversations WHERE account_id = ? AND (importance, last_message_at, id) < (?, ?, ?)
       ORDER BY importance DESC, last_message_at DESC, id DESC LIMIT ?`,
    );
    this.updateStmt = db.prepare(
      `UPDATE conversations SET kind = @kind, key = @key, title = @title, participants_json = @participantsJson,
         last_message_at = @lastMessageAt, message_count = @messageCount, unread_count = @unreadCount,
         pi_json = @piJson, importance = @importance
       WHERE account_id = @accountId AND id = @id`,
    );
    this.deleteStmt = db.prepare<[string, string]>('DELETE FROM conversations WHERE account_id = ? AND id = ?');
  }

  async getOrCreate(conversation: Conversation): Promise<Conversation> {
    this.insert.run(toRow(conversation));
    return toConversation(this.byKey.get(conversation.accountId, conversation.key)!);
  }

  async get(accountId: string, id: string): Promise<Conversation | null> {
    const r = this.one.get(accountId, id);
    return r ? toConversation(r) : null;
  }

  async getByKey(accountId: string, key: string): Promise<Conversation | null> {
    const r = this.byKey.get(accountId, key);
    return r ? toConversation(r) : null;
  }

  async list(accountId: string, page: TimePage): Promise<Conversation[]> {
    const rows = page.before
      ? this.nextPage.all(accountId, toMs(page.before.at), page.before.id, page.limit)
      : this.firstPage.all(accountId, page.limit);
    return rows.map(toConversation);
  }

  async listByImportance(accountId: string, page: ImportancePage): Promise<Conversation[]> {
    const b = page.before;
    const rows = b
      ? this.nextByImportance.all(accountId, b.importance, toMs(b.at), b.id, page.limit)
      : this.firstByImportance.all(accountId, page.limit);
    return rows.map(toConversation);
  }

  async update(conversation: Conversation): Promise<void> {
    this.updateStmt.run(toRow(conversation));
  }

  async delete(accountId: string, id: string): Promise<boolean> {
    return this.deleteStmt.run(accountId, id).changes === 1;
  }
}
