import type { DeliveryFact } from './delivery.types.ts';

/** What delivery tells the others (published on the instance's event bus, shared/event-bus.ts). */
export type DeliveryEvents = {
  /** Recipients of a Sent copy were accepted (by SMTP, the federation, or locally): what that delivery established. */
  'delivery.recorded': { accountId: string; messageId: string; fact: DeliveryFact };
  /**
   * Recipients of a Sent copy were refused for good (or still refused at the last attempt): the sender was bounced.
   * `messageId` is the Sent copy's; each recipient with its RFC 3463 status and a one-line ASCII diagnostic.
   */
  'delivery.failed': {
    accountId: string;
    messageId: string;
    at: Date;
    recipients: { address: string; status: string; diagnostic: string; remoteMta: string | null }[];
  };
};
