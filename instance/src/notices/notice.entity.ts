/** A sent message some recipients of which were refused for good (the sender was bounced). */
export interface DeliveryFailureRecord {
  id: string;
  accountId: string;
  /** The Sent copy. */
  messageId: string;
  at: Date;
  recipients: { address: string; status: string; diagnostic: string; remoteMta: string | null }[];
}

/** A change of this instance's standing at the registry that stopped or resumed federation (instance-wide). */
export interface StandingChangeRecord {
  id: string;
  at: Date;
  change: 'stopped' | 'resumed';
  /** The standing after the change: revoked, suspended, expired, absent, labelled. */
  status: string;
  /** The registry's published reason (revocations), in its words. */
  reason: string | null;
}
