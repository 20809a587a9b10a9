import type { TimePage } from '../shared/paging.ts';
import type { Message, MessageFlags, StoredPi } from '../mail/message.entity.ts';

/** A message as the conversation's PI sees it. */
export interface RecentPi {
  id: string;
  receivedAt: Date;
  deletedAt: Date | null;
  pi: StoredPi | null;
}

/** Port: messages of an account. Every read and write is scoped to the owning account. */
export interface MessageRepository {
  /**
   * Stores a message unless one with the same id, or the same (externalId, contentHash) for the account, is already
   * stored. Resolves the stored message (the existing one when it was a duplicate) and whether it was inserted.
   */
  put(message: Message): Promise<{ message: Message; inserted: boolean }>;
  get(accountId: string, id: string): Promise<Message | null>;
  findByDedupeKey(accountId: string, externalId: string | null, contentHash: string): Promise<Message | null>;
  /** Messages of one conversation, newest first (by receivedAt, id). */
  listByConversation(accountId: string, conversationId: string, page: TimePage): Promise<Message[]>;
  /**
   * The PI-relevant fields of a conversation's newest messages, newest first (the order of listByConversation): what
   * its PI is computed from after each arrival, without reading whole messages where the engine can avoid it.
   */
  recentPis(accountId: string, conversationId: string, limit: number): Promise<RecentPi[]>;
  updateFlags(accountId: string, id: string, flags: MessageFlags): Promise<Message | null>;
  /** Re-homes every message of `fromConversationId` into `toConversationId` (contact merge). Resolves how many. */
  moveConversation(accountId: string, fromConversationId: string, toConversationId: string): Promise<number>;
  /** Removes the message for good (after a soft delete). Resolves the removed message, for quota release. */
  purge(accountId: string, id: string): Promise<Message | null>;
  countByAccount(accountId: string): Promise<number>;
  /**
   * Stores recomputed PI summaries (and, when given, refreshed facts) of many messages at once; unknown ids are
   * skipped. Only these columns are written, so a concurrent flag change is never undone.
   */
  setPis(
    accountId: string,
    updates: readonly { id: string; pi: StoredPi; facts?: Record<string, unknown> }[],
  ): Promise<void>;
  /**
   * Messages waiting for a late decryption (`facts.openpgp.pendingDecryption === true`: encrypted to the account
   * while its server-held key was locked), oldest received first, at most `limit`. Reads only those messages (an
   * index of the pending ones), not the whole mailbox.
   */
  listPendingDecryption(accountId: string, limit: number): Promise<Message[]>;
  /**
   * The outcome of a late decryption: replaces the `openpgp` section of the facts (the other sections untouched)
   * and the PI, and, when `content` is given, the subject, snippet and thread key. Flags are never touched. A message
   * whose new `openpgp` has no `pendingDecryption: true` leaves the pending list. Resolves the updated message, or
   * null for an unknown id.
   */
  setDecryption(accountId: string, id: string, update: DecryptionUpdate): Promise<Message | null>;
}

/** What a late decryption writes (MessageRepository.setDecryption). */
export interface DecryptionUpdate {
  content: { subject: string; snippet: string; threadKey: string | null } | null;
  openpgp: Record<string, unknown>;
  pi: StoredPi | null;
}

/** Whether stored facts mark the message as waiting for a late decryption. */
export function isPendingDecryption(facts: Record<string, unknown>): boolean {
  const pgp = facts['openpgp'];
  return typeof pgp === 'object' && pgp !== null && (pgp as Record<string, unknown>)['pendingDecryption'] === true;
}

/** This domain's repository on the instance's storage (database/storage.port.ts). */
declare module '../database/storage.port.ts' {
  interface Storage {
    readonly messages: MessageRepository;
  }
}
