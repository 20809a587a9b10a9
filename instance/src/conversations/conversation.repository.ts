import type { TimePage } from '../shared/paging.ts';
import type { Conversation } from './conversation.entity.ts';

/** Port: conversations of an account. */
export interface ConversationRepository {
  /** Creates the conversation unless one with the same key exists; resolves the one that is stored. */
  getOrCreate(conversation: Conversation): Promise<Conversation>;
  get(accountId: string, id: string): Promise<Conversation | null>;
  getByKey(accountId: string, key: string): Promise<Conversation | null>;
  /** Most recently active first. */
  list(accountId: string, page: TimePage): Promise<Conversation[]>;
  update(conversation: Conversation): Promise<void>;
  delete(accountId: string, id: string): Promise<boolean>;
}
