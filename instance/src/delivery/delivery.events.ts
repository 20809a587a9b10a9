import type { DeliveryFact } from './delivery.types.ts';

/** What delivery tells the others (published on the instance's event bus, shared/event-bus.ts). */
export type DeliveryEvents = {
  /** Recipients of a Sent copy were accepted (by SMTP, the federation, or locally): what that delivery established. */
  'delivery.recorded': { accountId: string; messageId: string; fact: DeliveryFact };
};
