/** Auditors: association members who review applications and decide by consensus. */
export interface Auditor {
  id: string;
  /** Login name, unique: lowercase letters, digits, dot, dash, underscore. */
  name: string;
  passwordHash: string;
  disabled: boolean;
  createdAt: Date;
}

export interface AuditorSession {
  id: string;
  auditorId: string;
  /** SHA-256 (hex) of the bearer token. */
  tokenHash: string;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
}

export type VoteValue = 'approve' | 'object' | 'abstain';
export const VOTE_VALUES: readonly VoteValue[] = ['approve', 'object', 'abstain'];

/** An auditor's standing vote on an application; changing it replaces it, withdrawing deletes it. */
export interface Vote {
  applicationId: string;
  auditorId: string;
  auditorName: string;
  vote: VoteValue;
  reason: string | null;
  castAt: Date;
}

/**
 * What was done, by whom. Revocation proposals live here (event-sourced: `revocation.proposed` opens one, whose id is
 * the event id; `revocation.voted` sets an auditor's vote on it; `instance.revoked` closes
 * it when consensus is reached; see revocation.service.ts). Auditor actions carry the auditor; the registry's own decisions (`decision.reached`,
 * `label.*`) carry none. Members (auditors) read them all; the public sees counts per action on the instance record.
 */
export type AuditAction =
  | 'vote.cast'
  | 'vote.changed'
  | 'vote.withdrawn'
  | 'revocation.proposed'
  | 'revocation.voted'
  | 'instance.suspended'
  | 'suspension.lifted'
  | 'instance.revoked'
  | 'decision.reached'
  | 'label.issued'
  | 'label.renewed'
  | 'label.lapsed';

export interface AuditEvent {
  id: string;
  at: Date;
  auditorId: string | null;
  auditorName: string | null;
  action: AuditAction;
  domain: string;
  applicationId: string | null;
  /** Small, action-specific facts: the vote and its reason, a label id, a revocation reason. */
  detail: Record<string, string | number | boolean | null>;
}
