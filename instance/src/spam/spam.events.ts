/** What the spam domain tells the others (published on the instance's event bus, shared/event-bus.ts). */
export type SpamEvents = {
  /** The filter's verdict on a message that was filed unchecked came in and was applied (its importance moved). */
  'spam.rechecked': { accountId: string; messageId: string; verdict: 'spam' | 'ham' };
};
