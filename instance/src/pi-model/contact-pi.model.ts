import type { PrivacyIndex } from '@caliopen/federation-protocol';
import { measureSuggestions, PiTally, type WhatIf } from './pi.tally.ts';
import { clampInt, KEY_TRUST_RANK, keyTrustWords, type KeyTrust } from './pi.shared.ts';

/**
 * The contact Privacy Index: how privately you can reach this person, and how sure you are it is them.
 * "What you can reach them by (best available route), keys known and how they were verified, their instance's label
 * and PI, their account PI as shared by a labelled instance" (PRIVACY-INDEX.md). Pure.
 */
export interface ContactPiFacts {
  /** The contact's main email address, for the evidence and suggestions. */
  address: string | null;
  /** What we have seen of mail from them (verified on arrival, newest matters most). */
  email: {
    /** At least one address to write to. */
    reachable: boolean;
    /** Mail from them reached us over TLS we negotiated. */
    tlsSeen: boolean;
    /** Mail from them carried a verified, aligned DKIM signature or passed DMARC. */
    authenticatedSeen: boolean;
  };
  /** The best usable key (active, not expired, not revoked) for any of their addresses, and how it is known. */
  key: { trust: KeyTrust; fingerprint: string } | null;
  /** A different key appeared after one was pinned and the user has not decided yet (TOFU alert). */
  keyConflict: boolean;
  /** A data-exploiting provider serves their address (charter data). */
  provider: { id: string; name: string } | null;
  /** Filled by the federation protocol: they are on a member instance. */
  federation: {
    peerDomain: string;
    labelValid: boolean;
    peerInstancePi: number | null;
    sharedAccountPi: number | null;
  } | null;
}

export const CONTACT_POINTS = {
  reachable: 5,
  tlsSeen: 10,
  authenticatedSeen: 5,
  keyKnown: 25,
  /** Per step of KEY_TRUST_RANK (1..7). */
  keyTrustStep: 2,
  federationRoute: 20,
  /** Times the peer's instance PI / 100. */
  federationInstancePi: 15,
  /** Times their shared account PI / 100. */
  federationAccountPi: 10,
} as const;

export const CONTACT_CAPS = { keyConflict: 10, provider: 10, providerWithKey: 30 } as const;

export function computeContactPi(facts: ContactPiFacts): PrivacyIndex {
  const pi = tallyContact(facts).finish();
  return { ...pi, suggestions: measureSuggestions(facts, pi.score, scoreOf, CONTACT_WHAT_IFS) };
}

function scoreOf(facts: ContactPiFacts): number {
  return tallyContact(facts).finish().score;
}

function tallyContact(f: ContactPiFacts): PiTally {
  const t = new PiTally();
  const who = f.address ?? 'this contact';
  if (f.email.reachable) t.add('route.email', CONTACT_POINTS.reachable, `Reachable by email at ${who}.`);
  else t.add('route.none', 0, 'No address to reach this contact yet.');
  if (f.email.tlsSeen) t.add('route.tls', CONTACT_POINTS.tlsSeen, 'Their mail reaches us over TLS.');
  if (f.email.authenticatedSeen)
    t.add(
      'origin.authenticated',
      CONTACT_POINTS.authenticatedSeen,
      'Their mail carries verified DKIM/DMARC authentication.',
    );

  if (f.key !== null && !f.keyConflict) {
    t.add(
      'e2e.key_known',
      CONTACT_POINTS.keyKnown,
      `You hold their OpenPGP key ${f.key.fingerprint.slice(-16).toUpperCase()}: mail to them can be encrypted end to end.`,
    );
    t.add(
      'e2e.key_trust',
      KEY_TRUST_RANK[f.key.trust] * CONTACT_POINTS.keyTrustStep,
      `The key is ${keyTrustWords(f.key.trust)}.`,
    );
  } else if (f.key === null) {
    t.add('e2e.no_key', 0, 'No OpenPGP key known: mail to them cannot be encrypted end to end.');
  }

  const fed = f.federation;
  if (fed !== null) {
    if (fed.labelValid) {
      t.add(
        'route.federation',
        CONTACT_POINTS.federationRoute,
        `On ${fed.peerDomain}, a labelled member instance: reachable over the federation.`,
      );
      const ipi = fed.peerInstancePi === null ? 0 : clampInt(fed.peerInstancePi, 0, 100);
      t.add(
        'federation.instance_pi',
        (CONTACT_POINTS.federationInstancePi * ipi) / 100,
        `${fed.peerDomain}'s instance PI is ${ipi}.`,
      );
      if (fed.sharedAccountPi !== null) {
        const api = clampInt(fed.sharedAccountPi, 0, 100);
        t.add(
          'federation.account_pi',
          (CONTACT_POINTS.federationAccountPi * api) / 100,
          `Their account PI, shared by ${fed.peerDomain}, is ${api}.`,
        );
      }
    } else {
      t.add('route.federation', 0, `${fed.peerDomain} has no valid label: the federation route is closed.`);
    }
  }

  if (f.keyConflict)
    t.cap(
      'cap.key_conflict',
      CONTACT_CAPS.keyConflict,
      'A different key appeared for this contact: check it with them before trusting either.',
      { always: true },
    );
  if (f.provider !== null && !(fed?.labelValid ?? false)) {
    t.cap(
      'cap.data_exploiting_provider',
      f.key !== null && !f.keyConflict ? CONTACT_CAPS.providerWithKey : CONTACT_CAPS.provider,
      `Their address is served by ${f.provider.name}, which finances its mail with its users' data.`,
      { always: true },
    );
  }
  return t;
}

const element = (f: ContactPiFacts) => `contact:${f.address ?? 'unknown'}`;

const CONTACT_WHAT_IFS: readonly WhatIf<ContactPiFacts>[] = [
  {
    action: 'contact.add_public_key',
    element,
    applies: (f) => f.key === null,
    apply: (f) => ({ ...f, key: { trust: 'attached', fingerprint: '0'.repeat(40) } }),
  },
  {
    action: 'contact.resolve_key_conflict',
    element,
    applies: (f) => f.keyConflict,
    apply: (f) => ({ ...f, keyConflict: false, key: f.key ?? { trust: 'verified', fingerprint: '0'.repeat(40) } }),
  },
  {
    action: 'contact.verify_key',
    element,
    applies: (f) => f.key !== null && f.key.trust !== 'verified',
    apply: (f) => ({ ...f, keyConflict: false, key: { ...f.key!, trust: 'verified' } }),
  },
];
