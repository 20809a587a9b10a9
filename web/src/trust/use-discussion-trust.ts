import { useEffect, useState } from 'react';
import type { ApiClient } from '../api/client.ts';
import { type Trust, trustOf } from './trust-level.ts';

/**
 * The trust level of a discussion's correspondent, for the list: that of its newest received message (the API lists
 * discussions without facts, so the row asks for them once it is rendered; the list is virtualised, so only visible
 * rows ask). Cached per discussion for the page's life; null while unknown or when the discussion has no received
 * message (only messages you sent).
 */
const cache = new Map<string, Promise<Trust | null>>();

async function load(api: ApiClient, discussionId: string): Promise<Trust | null> {
  const page = await api.discussionMessages(discussionId, 10);
  const inbound = page.items.find((m) => m.direction === 'inbound');
  if (!inbound) return null;
  const detail = await api.message(inbound.id);
  return trustOf(detail.facts);
}

export function useDiscussionTrust(api: ApiClient, discussionId: string, lastMessageAt: string): Trust | null {
  const [trust, setTrust] = useState<Trust | null>(null);
  useEffect(() => {
    if (discussionId === '') return;
    let cancelled = false;
    // Keyed by the last activity too: a new message may come from another route.
    const key = `${discussionId}@${lastMessageAt}`;
    let p = cache.get(key);
    if (!p) {
      p = load(api, discussionId).catch(() => null);
      cache.set(key, p);
    }
    p.then((t) => !cancelled && setTrust(t));
    return () => {
      cancelled = true;
    };
  }, [api, discussionId, lastMessageAt]);
  return trust;
}

/** Forgets every cached level (on sign-out: another account may sign in). */
export function clearDiscussionTrustCache(): void {
  cache.clear();
}
