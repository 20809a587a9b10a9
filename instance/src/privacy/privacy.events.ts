/** What the privacy domain tells the others (published on the instance's event bus, shared/event-bus.ts). */
export type PrivacyEvents = {
  /** A discussion's Privacy Index was stored with another score (a message scored, rescored, or deleted). */
  'conversation.pi-changed': { accountId: string; conversationId: string; score: number };
};
