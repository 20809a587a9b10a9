/**
 * Port: whether a user lets labelled peers read their account PI (trust sharing, SPEC.md §13), shared by every
 * process of the instance: one entry per account that made a choice; no entry means the default, not shared.
 * Adapters: trust-sharing.repository.sqlite.ts, trust-sharing.repository.cassandra.ts.
 */
export interface TrustSharingRepository {
  sharesTrust(accountId: string): Promise<boolean>;
  setSharesTrust(accountId: string, share: boolean, at: Date): Promise<void>;
}

/** This domain's repository on the instance's storage (database/storage.port.ts). */
declare module '../database/storage.port.ts' {
  interface Storage {
    readonly trustSharing: TrustSharingRepository;
  }
}
