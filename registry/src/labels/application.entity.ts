import type { Declaration } from '@caliopen/charter';
import type { Ed25519PublicJwk, X25519PublicJwk } from '@caliopen/federation-protocol';
import type { CheckResult } from '../verification/check.types.ts';

/**
 * An application to the registry: what an instance submitted (domain, endpoints, public keys, certificate, the
 * signed charter declaration) and where it stands. One application per attempt; at most one `pending` per domain.
 * - pending: waiting for checks and the auditors' consensus;
 * - approved: consensus reached, a label was issued from it (its keys, certificate and endpoints are the member's);
 * - closed: replaced by a later approved application of the same domain, or its instance was revoked.
 */
export type ApplicationStatus = 'pending' | 'approved' | 'closed';

export interface ApplicationEndpoints {
  /** HTTPS base URL of the instance (descriptor, well-known challenge). */
  https: string;
  /** Federation endpoint published in the feed (defaults to the HTTPS base URL). */
  federation: string;
  /** Mail exchanger host[:port], when the instance does email. */
  smtp: string | null;
}

export interface Application {
  id: string;
  domain: string;
  status: ApplicationStatus;
  endpoints: ApplicationEndpoints;
  keys: { signing: Ed25519PublicJwk; encryption: X25519PublicJwk };
  /** RFC 7638 thumbprints of `keys`. */
  keyThumbprints: { signing: string; encryption: string };
  certificatePem: string;
  /** SHA-256 of the certificate DER, lowercase hex. */
  certFingerprint: string;
  /** The compact JWS as submitted, kept as the applicant's signed statement. */
  declarationJws: string;
  declaration: Declaration;
  charterVersion: string;
  /** The declaration's nonce: a second submission of it is a replay. */
  nonce: string;
  /** false: present in the signed feed for peers, hidden from the public directory (gated listing). */
  listed: boolean;
  /** Domain-control challenge: publish `value` at DNS TXT `_caliopen-challenge.<domain>` or HTTPS well-known `token`. */
  challenge: { token: string; value: string };
  /** SHA-256 (hex) of the applicant's bearer token; the token itself is never stored. */
  applicantTokenHash: string;
  createdAt: Date;
  updatedAt: Date;
  closedReason: string | null;
}

export type CheckTrigger = 'applicant' | 'schedule' | 'renewal' | 'auditor';

/** One run of the automated checks against an application's instance. */
export interface CheckRun {
  id: string;
  applicationId: string;
  domain: string;
  trigger: CheckTrigger;
  startedAt: Date;
  finishedAt: Date;
  results: CheckResult[];
  /** Every mandatory check passed. */
  mandatoryPassed: boolean;
}
