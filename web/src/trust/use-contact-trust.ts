import { useEffect, useState } from 'react';
import type { ApiClient } from '../api/client.ts';
import type { Trust } from './trust-level.ts';
import { useDiscussionTrust } from './use-discussion-trust.ts';

/**
 * A contact's trust level is the one of their discussion with you (the newest message they sent): the same word in
 * the discussion list, the contact list and the card (WEB.md). The discussions are listed once per page life to find
 * each contact's discussion; a contact with no discussion has no level (null).
 */
let byContact: Promise<Map<string, { id: string; lastMessageAt: string }>> | null = null;

function discussionsByContact(api: ApiClient) {
  if (!byContact) {
    byContact = api.discussions('date').then(
      (page) => {
        const m = new Map<string, { id: string; lastMessageAt: string }>();
        for (const d of page.items) {
          if (d.kind !== 'people') continue;
          for (const p of d.participants)
            if (p.contactId && !m.has(p.contactId)) m.set(p.contactId, { id: d.id, lastMessageAt: d.lastMessageAt });
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

export function clearContactTrustCache(): void {
  byContact = null;
}

export function useContactTrust(api: ApiClient, contactId: string): Trust | null {
  const [discussion, setDiscussion] = useState<{ id: string; lastMessageAt: string } | null>(null);
  useEffect(() => {
    let cancelled = false;
    discussionsByContact(api).then(
      (m) => !cancelled && setDiscussion(m.get(contactId) ?? null),
      () => {},
    );
    return () => {
      cancelled = true;
    };
  }, [api, contactId]);
  const trust = useDiscussionTrust(api, discussion?.id ?? '', discussion?.lastMessageAt ?? '');
  return discussion ? trust : null;
}
