import type { ImportanceFeedback } from '../mail/importance.model.ts';

/** What the messages domain tells the others (published on the instance's event bus, shared/event-bus.ts). */
export type MessageEvents = {
  /** A message entered a mailbox (SMTP, federation, IMAP import, a Sent copy, a bounce): newly stored, not a duplicate. */
  'message.stored': { accountId: string; messageId: string; conversationId: string; direction: 'inbound' | 'outbound' };
  /** The user changed a message (read, archived, tags, deleted or restored, importance): its discussion's row moves. */
  'message.updated': { accountId: string; messageId: string; conversationId: string };
  /** The user gave their word on a message's importance (important, junk, not junk; null withdrew it). */
  'message.feedback': { accountId: string; messageId: string; feedback: ImportanceFeedback | null };
};
