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

/** Port: where notices and their dismissals are kept (notice.store.sqlite.ts). */
export interface NoticeStore {
  addDeliveryFailure(r: Omit<DeliveryFailureRecord, 'id'>): DeliveryFailureRecord;
  deliveryFailures(accountId: string): DeliveryFailureRecord[];
  addStandingChange(r: Omit<StandingChangeRecord, 'id'>): StandingChangeRecord;
  lastStandingChange(): StandingChangeRecord | null;
  dismiss(accountId: string, noticeId: string, at: Date): void;
  dismissed(accountId: string): Set<string>;
  close(): void;
}
