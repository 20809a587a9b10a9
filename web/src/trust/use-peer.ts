import { useEffect, useState } from 'react';
import type { ApiClient } from '../api/client.ts';
import type { PeerInstance } from '../api/types.ts';

/**
 * What the registry's feed says of the instance of `address` (GET /api/v1/federation/peers/:domain): null while
 * unknown or when the lookup failed; `entry` null when the domain is not a member instance. Kept a short while per
 * domain (a feed sync may change the standing: a revocation shows at the next screen opened).
 */
const TTL_MS = 10_000;
const cache = new Map<string, { at: number; value: Promise<PeerInstance | null> }>();

export function domainOf(address: string): string | null {
  const at = address.lastIndexOf('@');
  return at > 0 && at < address.length - 1 ? address.slice(at + 1).toLowerCase() : null;
}

export function usePeer(api: ApiClient, address: string | null | undefined): PeerInstance | null {
  const domain = address ? domainOf(address) : null;
  const [peer, setPeer] = useState<PeerInstance | null>(null);
  useEffect(() => {
    setPeer(null);
    if (domain === null) return;
    let cancelled = false;
    let hit = cache.get(domain);
    if (!hit || Date.now() - hit.at > TTL_MS) {
      hit = { at: Date.now(), value: api.peer(domain).catch(() => null) };
      cache.set(domain, hit);
    }
    hit.value.then((p) => !cancelled && setPeer(p));
    return () => {
      cancelled = true;
    };
  }, [api, domain]);
  return peer;
}

/** Forgets every cached answer (on sign-out). */
export function clearPeerCache(): void {
  cache.clear();
}
