import type { TimePage } from '../shared/paging.ts';
import type { Conversation } from './conversation.entity.ts';

/** Keyset position in the importance order: (importance desc, lastMessageAt desc, id desc). */
export interface ImportanceCursor {
  importance: number;
  at: Date;
  id: string;
}

export interface ImportancePage {
  limit: number;
  /** Return conversations strictly after this one in (importance desc, lastMessageAt desc, id desc) order. */
  before?: ImportanceCursor;
}

/** Port: conversations of an account. */
export interface ConversationRepository {
  /** Creates the conversation unless one with the same key exists; resolves the one that is stored. */
  getOrCreate(conversation: Conversation): Promise<Conversation>;
  get(accountId: string, id: string): Promise<Conversation | null>;
  getByKey(accountId: string, key: string): Promise<Conversation | null>;
  /** Most recently active first. */
  list(accountId: string, page: TimePage): Promise<Conversation[]>;
  /** Most important first (importance -2..2), then most recently active, then id (all descending). */
  listByImportance(accountId: string, page: ImportancePage): Promise<Conversation[]>;
  update(conversation: Conversation): Promise<void>;
  delete(accountId: string, id: string): Promise<boolean>;
}

/** This domain's repository on the instance's storage (database/storage.port.ts). */
declare module '../database/storage.port.ts' {
  interface Storage {
    readonly conversations: ConversationRepository;
  }
}
