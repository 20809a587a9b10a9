import { useEffect, useState } from 'react';
import type { ApiClient } from '../api/client.ts';
import { type Trust, trustOf } from './trust-level.ts';

/**
 * A contact's trust level is the one of their discussion with you (from the newest message they sent): the same word
 * in the discussion list, the contact list and the card (WEB.md). The first page of discussions, which carries each
 * discussion's sender facts, is asked for once per page life (one request for the whole contact list); a contact
 * with no discussion, or only messages you sent them, has no level (null).
 */
let byContact: Promise<Map<string, Trust | null>> | null = null;

function trustByContact(api: ApiClient) {
  if (!byContact) {
    byContact = api.discussions('date').then(
      (page) => {
        const m = new Map<string, Trust | null>();
        for (const d of page.items) {
          if (d.kind !== 'people') continue;
          const trust = d.senderFacts ? trustOf(d.senderFacts) : null;
          for (const p of d.participants) if (p.contactId && !m.has(p.contactId)) m.set(p.contactId, trust);
        }
        return m;
      },
      (e) => {
        byContact = null;
        throw e;
      },
    );
  }
  return byContact;
}

/** Forgets the levels (on sign-out: another account may sign in; after a contact edit or merge). */
export function clearContactTrustCache(): void {
  byContact = null;
}

export function useContactTrust(api: ApiClient, contactId: string): Trust | null {
  const [trust, setTrust] = useState<Trust | null>(null);
  useEffect(() => {
    let cancelled = false;
    trustByContact(api).then(
      (m) => !cancelled && setTrust(m.get(contactId) ?? null),
      () => {},
    );
    return () => {
      cancelled = true;
    };
  }, [api, contactId]);
  return trust;
}
