import type { MessageFacts } from '../api/types.ts';

/**
 * The correspondent's trust level, one name everywhere (WEB.md, "Trust of a correspondent"), derived only from the
 * verified facts the instance recorded when the message came in (GET /api/v1/messages/:id, `facts`):
 * - verified_member: came over the federation from a labelled member instance that authenticated the sender, and is
 *   signed with a key you verified yourself (fingerprint compared);
 * - member: came over the federation from a labelled member instance that authenticated the sender;
 * - authenticated: email whose origin was checked — DMARC passed, or a DKIM signature aligned with the From domain
 *   verified; or an authenticated instance whose label was not valid (member standing not proven);
 * - unauthenticated: nothing verified ties the message to its sender.
 * A fact that is absent counts as not verified: the level can only rise with verified facts, never with claims.
 */
export type TrustLevel = 'verified_member' | 'member' | 'authenticated' | 'unauthenticated';

export const TRUST_LEVELS: readonly TrustLevel[] = ['unauthenticated', 'authenticated', 'member', 'verified_member'];

/** Why the level was given, as translation keys with their values: shown beside the level. */
export interface TrustReason {
  key: string;
  values?: Record<string, string | number>;
}

export interface Trust {
  level: TrustLevel;
  reasons: TrustReason[];
}

export function trustOf(facts: MessageFacts | null | undefined): Trust {
  const reasons: TrustReason[] = [];
  const fed = facts?.federation ?? null;
  const via = facts?.transport?.via ?? null;
  const pgp = facts?.openpgp ?? null;
  const keyVerified = pgp !== null && pgp.signature === 'valid' && pgp.signerKeyTrust === 'verified';

  if (fed !== null && (via === null || via === 'federation') && fed.senderAuthenticated) {
    if (fed.labelValid) {
      reasons.push({ key: 'trust.reason.label_valid', values: { instance: fed.peerDomain } });
      if (fed.peerInstancePi !== null)
        reasons.push({ key: 'trust.reason.instance_pi', values: { instance: fed.peerDomain, pi: fed.peerInstancePi } });
      if (keyVerified) {
        reasons.push({ key: 'trust.reason.key_verified' });
        return { level: 'verified_member', reasons };
      }
      return { level: 'member', reasons };
    }
    reasons.push({ key: 'trust.reason.label_not_valid', values: { instance: fed.peerDomain } });
    return { level: 'authenticated', reasons };
  }

  if (via === 'local') {
    reasons.push({ key: 'trust.reason.local' });
    return { level: 'authenticated', reasons };
  }

  const auth = facts?.authentication ?? null;
  if (auth !== null) {
    const dmarcPass = auth.dmarc.result === 'pass';
    const alignedDkim = auth.dkim.find((d) => d.result === 'pass' && d.aligned);
    if (dmarcPass) reasons.push({ key: 'trust.reason.dmarc_pass', values: { domain: auth.dmarc.domain ?? '' } });
    if (alignedDkim) reasons.push({ key: 'trust.reason.dkim_aligned', values: { domain: alignedDkim.domain ?? '' } });
    if (dmarcPass || alignedDkim) return { level: 'authenticated', reasons };
  }
  reasons.push({ key: 'trust.reason.nothing_verified' });
  return { level: 'unauthenticated', reasons };
}
