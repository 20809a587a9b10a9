import type { DeliveryFailureRecord, StandingChangeRecord } from './notice.entity.ts';

/** Delivery failures kept per account (the oldest beyond this are forgotten). */
export const MAX_DELIVERY_FAILURES_PER_ACCOUNT = 200;

/**
 * Port: the users' notices and their dismissals, shared by every process of the instance: delivery failures of their
 * sent messages (from the delivery domain's `delivery.failed`), this instance's changes of standing (instance-wide),
 * and which notice each account dismissed. Holds addresses and status lines only, never a message's content.
 * Adapters: notice.repository.sqlite.ts, notice.repository.cassandra.ts; covered by storage.conformance.ts.
 */
export interface NoticeRepository {
  /** Records a failure; beyond MAX_DELIVERY_FAILURES_PER_ACCOUNT for the account, the oldest are forgotten. */
  addDeliveryFailure(r: Omit<DeliveryFailureRecord, 'id'>): Promise<DeliveryFailureRecord>;
  /** The account's failures, newest first. */
  deliveryFailures(accountId: string): Promise<DeliveryFailureRecord[]>;
  addStandingChange(r: Omit<StandingChangeRecord, 'id'>): Promise<StandingChangeRecord>;
  /** The most recent change of standing (older ones are superseded by it). */
  lastStandingChange(): Promise<StandingChangeRecord | null>;
  /** Idempotent. */
  dismiss(accountId: string, noticeId: string, at: Date): Promise<void>;
  dismissed(accountId: string): Promise<Set<string>>;
}

/** This domain's repository on the instance's storage (database/storage.port.ts). */
declare module '../database/storage.port.ts' {
  interface Storage {
    readonly notices: NoticeRepository;
  }
}
