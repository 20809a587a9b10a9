import type { TimePage } from '../shared/paging.ts';
import type { SqliteDb } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import {
  fromMs,
  fromMsOrNull,
  jsonOrNull,
  parseOrNull,
  toMs,
  toMsOrNull,
} from '@caliopen/platform/sqlite/sqlite.mapping.ts';
import type { Message, MessageFlags, Participant, StoredPi } from '../mail/message.entity.ts';
import type { DecryptionUpdate, MessageRepository, RecentPi } from './message.repository.ts';

interface MessageRow {
  id: string;
  account_id: string;
  conversation_id: string;
  protocol: string;
  direction: 'inbound' | 'outbound';
  external_id: string | null;
  content_hash: string;
  from_json: string;
  to_json: string;
  cc_json: string;
  subject: string;
  snippet: string;
  sent_at: number | null;
  received_at: number;
  size_bytes: number;
  raw_ref: string | null;
  thread_key: string | null;
  tags_json: string;
  read: number;
  archived: number;
  deleted_at: number | null;
  pi_json: string | null;
  importance: number;
  facts_json: string;
}

const toMessage = (r: MessageRow): Message => ({
  id: r.id,
  accountId: r.account_id,
  conversationId: r.conversation_id,
  protocol: r.protocol,
  direction: r.direction,
  externalId: r.external_id,
  contentHash: r.content_hash,
  from: JSON.parse(r.from_json) as Participant,
  to: JSON.parse(r.to_json) as Participant[],
  cc: JSON.parse(r.cc_json) as Participant[],
  subject: r.subject,
  snippet: r.snippet,
  sentAt: fromMsOrNull(r.sent_at),
  receivedAt: fromMs(r.received_at),
  sizeBytes: r.size_bytes,
  rawRef: r.raw_ref,
  threadKey: r.thread_key,
  tags: JSON.parse(r.tags_json) as string[],
  read: r.read === 1,
  archived: r.archived === 1,
  deletedAt: fromMsOrNull(r.deleted_at),
  pi: parseOrNull<StoredPi>(r.pi_json),
  importance: r.importance,
  facts: JSON.parse(r.facts_json) as Record<string, unknown>,
});

const toRow = (m: Message) => ({
  id: m.id,
  accountId: m.accountId,
  conversationId: m.conversationId,
  protocol: m.protocol,
  direction: m.direction,
  externalId: m.externalId,
  contentHash: m.contentHash,
  fromJson: JSON.stringify(m.from),
  toJson: JSON.stringify(m.to),
  ccJson: JSON.stringify(m.cc),
  subject: m.subject,
  snippet: m.snippet,
  sentAt: toMsOrNull(m.sentAt),
  receivedAt: toMs(m.receivedAt),
  sizeBytes: m.sizeBytes,
  rawRef: m.rawRef,
  threadKey: m.threadKey,
  tagsJson: JSON.stringify(m.tags),
  read: m.read ? 1 : 0,
  archived: m.archived ? 1 : 0,
  deletedAt: toMsOrNull(m.deletedAt),
  piJson: jsonOrNull(m.pi),
  importance: m.importance,
  factsJson: JSON.stringify(m.facts),
});

export class SqliteMessageRepository implements MessageRepository {
  private readonly db: SqliteDb;
  private readonly insert;
  private readonly one;
  private readonly byDedupe;
  private readonly firstPage;
  private readonly nextPage;
  private readonly recent;
  private readonly updateStmt;
  private readonly move;
  private readonly deleteStmt;
  private readonly countStmt;
  private readonly piStmt;
  private readonly piFactsStmt;
  private readonly pendingStmt;
  private readonly decryptedStmt;

  constructor(db: SqliteDb) {
    this.db = db;
    // Both the primary key and the (account, external id, content hash) index make duplicates a no-op.
    this.insert = db.prepare(
      `INSERT INTO messages (id, account_id, conversation_id, protocol, direction, external_id, content_hash,
         from_json, to_json, cc_json, subject, snippet, sent_at, received_at, size_bytes, raw_ref, thread_key,
         tags_json, read, archived, deleted_at, pi_json, importance, facts_json)
       VALUES (@id, @accountId, @conversationId, @protocol, @direction, @externalId, @contentHash,
         @fromJson, @toJson, @ccJson, @subject, @snippet, @sentAt, @receivedAt, @sizeBytes, @rawRef, @threadKey,
         @tagsJson, @read, @archived, @deletedAt, @piJson, @importance, @factsJson)
       ON CONFLICT DO NOTHING`,
    );
    this.one = db.prepare<[string, string], MessageRow>('SELECT * FROM messages WHERE account_id = ? AND id = ?');
    this.byDedupe = db.prepare<[string, string, string], MessageRow>(
      `SELECT * FROM messages WHERE account_id = ? AND coalesce(external_id, '') = ? AND content_hash = ?`,
    );
    this.firstPage = db.prepare<[string, string, number], MessageRow>(
      `SELECT * FROM messages WHERE account_id = ? AND conversation_id = ?
       ORDER BY received_at DESC, id DESC LIMIT ?`,
    );
    this.recent = db.prepare<
      [string, string, number],
      { id: string; received_at: number; deleted_at: number | null; pi_json: string | null }
    >(
      `SELECT id, received_at, deleted_at, pi_json FROM messages WHERE account_id = ? AND conversation_id = ?
       ORDER BY received_at DESC, id DESC LIMIT ?`,
    );
    this.nextPage = db.prepare<[string, string, number, string, number], MessageRow>(
      `SELECT * FROM messages WHERE account_id = ? AND conversation_id = ? AND (received_at, id) < (?, ?)
       ORDER BY received_at DESC, id DESC LIMIT ?`,
    );
    this.updateStmt = db.prepare(
      `UPDATE messages SET read = @read, archived = @archived, tags_json = @tagsJson, deleted_at = @deletedAt,
         importance = @importance, pi_json = @piJson, facts_json = @factsJson
       WHERE account_id = @accountId AND id = @id`,
    );
    this.move = db.prepare<[string, string, string]>(
      'UPDATE messages SET conversation_id = ? WHERE account_id = ? AND conversation_id = ?',
    );
    this.deleteStmt = db.prepare<[string, string]>('DELETE FROM messages WHERE account_id = ? AND id = ?');
    this.countStmt = db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM messages WHERE account_id = ?');
    this.piStmt = db.prepare<[string, string, string]>(
      'UPDATE messages SET pi_json = ? WHERE account_id = ? AND id = ?',
    );
    this.piFactsStmt = db.prepare<[string, string, string, string]>(
      'UPDATE messages SET pi_json = ?, facts_json = ? WHERE account_id = ? AND id = ?',
    );
    // The partial index messages_pending_decryption (migration 8) answers this: its WHERE is the index's own.
    this.pendingStmt = db.prepare<[string, number], MessageRow>(
      `SELECT * FROM messages WHERE account_id = ? AND json_extract(facts_json, '$.openpgp.pendingDecryption') = 1
       ORDER BY received_at, id LIMIT ?`,
    );
    this.decryptedStmt = db.prepare(
      `UPDATE messages SET subject = @subject, snippet = @snippet, thread_key = @threadKey, pi_json = @piJson,
         facts_json = @factsJson WHERE account_id = @accountId AND id = @id`,
    );
  }

  async put(message: Message): Promise<{ message: Message; inserted: boolean }> {
    const inserted = this.insert.run(toRow(message)).changes === 1;
    if (inserted) return { message, inserted };
    const existing =
      this.one.get(message.accountId, message.id) ??
      this.byDedupe.get(message.accountId, message.externalId ?? '', message.contentHash);
    if (!existing) throw new Error('message insert ignored but no conflicting row found');
    return { message: toMessage(existing), inserted: false };
  }

  async get(accountId: string, id: string): Promise<Message | null> {
    const r = this.one.get(accountId, id);
    return r ? toMessage(r) : null;
  }

  async findByDedupeKey(accountId: string, externalId: string | null, contentHash: string): Promise<Message | null> {
    const r = this.byDedupe.get(accountId, externalId ?? '', contentHash);
    return r ? toMessage(r) : null;
  }

  async listByConversation(accountId: string, conversationId: string, page: TimePage): Promise<Message[]> {
    const rows = page.before
      ? this.nextPage.all(accountId, conversationId, toMs(page.before.at), page.before.id, page.limit)
      : this.firstPage.all(accountId, conversationId, page.limit);
    return rows.map(toMessage);
  }

  /** Four columns, no JSON but the PI's: the facts of each message are not read. */
  async recentPis(accountId: string, conversationId: string, limit: number): Promise<RecentPi[]> {
    return this.recent.all(accountId, conversationId, limit).map((r) => ({
      id: r.id,
      receivedAt: fromMs(r.received_at),
      deletedAt: fromMsOrNull(r.deleted_at),
      pi: parseOrNull<StoredPi>(r.pi_json),
    }));
  }

  async updateFlags(accountId: string, id: string, flags: MessageFlags): Promise<Message | null> {
    return this.db
      .transaction(() => {
        const r = this.one.get(accountId, id);
        if (!r) return null;
        const m = toMessage(r);
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
        this.updateStmt.run(toRow(next));
        return next;
      })
      .immediate();
  }

  async moveConversation(accountId: string, fromConversationId: string, toConversationId: string): Promise<number> {
    return this.move.run(toConversationId, accountId, fromConversationId).changes;
  }

  async purge(accountId: string, id: string): Promise<Message | null> {
    return this.db
      .transaction(() => {
        const r = this.one.get(accountId, id);
        if (!r) return null;
        this.deleteStmt.run(accountId, id);
        return toMessage(r);
      })
      .immediate();
  }

  async countByAccount(accountId: string): Promise<number> {
    return this.countStmt.get(accountId)!.n;
  }

  async setPis(
    accountId: string,
    updates: readonly { id: string; pi: StoredPi; facts?: Record<string, unknown> }[],
  ): Promise<void> {
    if (updates.length === 0) return;
    this.db
      .transaction(() => {
        for (const u of updates) {
          if (u.facts === undefined) this.piStmt.run(JSON.stringify(u.pi), accountId, u.id);
          else this.piFactsStmt.run(JSON.stringify(u.pi), JSON.stringify(u.facts), accountId, u.id);
        }
      })
      .immediate();
  }

  async listPendingDecryption(accountId: string, limit: number): Promise<Message[]> {
    if (limit <= 0) return [];
    return this.pendingStmt.all(accountId, limit).map(toMessage);
  }

  async setDecryption(accountId: string, id: string, update: DecryptionUpdate): Promise<Message | null> {
    return this.db
      .transaction(() => {
        const r = this.one.get(accountId, id);
        if (!r) return null;
        const m = toMessage(r);
        // Only the openpgp section is replaced: a concurrent importance feedback in the other sections is kept.
        const next: Message = {
          ...m,
          ...(update.content ?? {}),
          pi: update.pi,
          facts: { ...m.facts, openpgp: update.openpgp },
        };
        this.decryptedStmt.run({
          accountId,
          id,
          subject: next.subject,
          snippet: next.snippet,
          threadKey: next.threadKey,
          piJson: jsonOrNull(next.pi),
          factsJson: JSON.stringify(next.facts),
        });
        return next;
      })
      .immediate();
  }
}
