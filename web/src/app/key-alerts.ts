import { useEffect, useState } from 'react';
import type { ApiClient } from '../api/client.ts';
import type { KeyAlert } from '../api/types.ts';

/**
 * The account's unresolved key alerts (GET /api/v1/keys/alerts), shared by the header's badge, the contacts list and
 * the contact card: loaded when a screen asks, and again after any decision (refreshKeyAlerts), so that the badge
 * disappears where the user looks as soon as the conflict is resolved.
 */
const listeners = new Set<() => void>();

export function refreshKeyAlerts(): void {
  for (const l of listeners) l();
}

export function useKeyAlerts(api: ApiClient, enabled = true, pathname = ''): KeyAlert[] | null {
  const [alerts, setAlerts] = useState<KeyAlert[] | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const l = () => setTick((n) => n + 1);
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, []);
  // biome-ignore lint/correctness/useExhaustiveDependencies: tick and pathname are triggers (a decision, a navigation), not inputs.
  useEffect(() => {
    if (!enabled) return;
    let cancelled = false;
    api.keyAlerts().then(
      (page) => !cancelled && setAlerts(page.items),
      () => !cancelled && setAlerts(null),
    );
    return () => {
      cancelled = true;
    };
  }, [api, enabled, tick, pathname]);
  return enabled ? alerts : null;
}
