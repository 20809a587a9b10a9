import type { FeedInstance, PrivacyIndex } from '@caliopen/federation-protocol';
import type { Ed25519PrivateJwk } from '@caliopen/federation-protocol';

/** A label the registry signed (every issue and renewal is a new label with a new id). */
export interface LabelRecord {
  id: string;
  domain: string;
  applicationId: string;
  kind: 'issued' | 'renewed';
  jws: string;
  issuedAt: Date;
  expiresAt: Date;
  piScore: number;
  revokedAt: Date | null;
  revocationReason: string | null;
}

/**
 * labelled: holds a valid label; suspended: its label lapsed unrenewed (a mandatory check failed), or an auditor
 * suspended it in an emergency (`suspension`, time-limited); revoked: by the auditors' consensus.
 */
export type MemberStatus = 'labelled' | 'suspended' | 'revoked';

/** A labelled (or formerly labelled) instance: what the feed publishes about it and what renewal needs. */
export interface Member {
  domain: string;
  /** The approved application whose keys, certificate and endpoints the label vouches for. */
  applicationId: string;
  status: MemberStatus;
  listed: boolean;
  currentLabelId: string;
  labelIssuedAt: Date;
  labelExpiresAt: Date;
  /** The feed entry, exactly as published. */
  entry: FeedInstance;
  pi: PrivacyIndex;
  /** Why renewal is held back (a failing mandatory check), or null. */
  renewalBlocked: string | null;
  lastCheckAt: Date | null;
  lastPassingCheckAt: Date | null;
  decidedAt: Date;
  updatedAt: Date;
  revokedAt: Date | null;
  revocationReason: string | null;
  /**
   * An emergency suspension by one auditor: immediate, and lifted at `until` (ms since epoch) unless the auditors
   * revoke the instance by consensus before then. Absent on members stored before suspensions existed.
   */
  suspension?: EmergencySuspension | null;
}

export interface EmergencySuspension {
  reason: string;
  by: string;
  /** Epoch milliseconds. */
  at: number;
  until: number;
  /** The revocation proposal the suspension opened (or joined), which confirms it. */
  proposalId: string;
}

export type { RegistryKeyRecord } from '../keys/registry-key.entity.ts';

export type { Ed25519PrivateJwk };
