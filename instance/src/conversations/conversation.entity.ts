import type { StoredPi } from '../mail/message.entity.ts';

/**
 * A conversation is defined by *who* you talk with, not by protocol or subject: its key is derived from the set of
 * contacts (or, for an address that matches no contact, the address) on the other side. Mailing-list mail forms
 * its own conversation keyed by the List-Id.
 */
export interface Conversation {
  id: string;
  accountId: string;
  kind: 'people' | 'list';
  /** Deterministic key of the participant set (or list id); unique per account. */
  key: string;
  title: string;
  participants: { contactId: string | null; address: string; name: string | null }[];
  lastMessageAt: Date;
  messageCount: number;
  unreadCount: number;
  pi: StoredPi | null;
  importance: number;
  createdAt: Date;
}
