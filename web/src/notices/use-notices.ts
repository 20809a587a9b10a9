import { useCallback, useEffect, useState } from 'react';
import type { ApiClient } from '../api/client.ts';
import type { Notice } from '../api/types.ts';
import { useLiveEvent } from '../live/live-events.tsx';

const listeners = new Set<() => void>();

/** Tells every user of useNotices to load again (after a dismissal). */
export function refreshNotices(): void {
  for (const l of listeners) l();
}

/** The account's notices (GET /api/v1/notices), loaded again when the instance says they changed (live) or on demand. */
export function useNotices(api: ApiClient): { items: Notice[] | null; error: unknown; reload: () => void } {
  const [items, setItems] = useState<Notice[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  useEffect(() => {
    listeners.add(reload);
    return () => {
      listeners.delete(reload);
    };
  }, [reload]);
  useLiveEvent((m) => {
    if (m.event === 'notices.changed' || m.event === 'resync') reload();
  });
  // biome-ignore lint/correctness/useExhaustiveDependencies: tick is the trigger of a reload.
  useEffect(() => {
    let cancelled = false;
    api.notices().then(
      (r) => {
        if (cancelled) return;
        setItems(r.items);
        setError(null);
      },
      (e) => !cancelled && setError(e),
    );
    return () => {
      cancelled = true;
    };
  }, [api, tick]);
  return { items, error, reload };
}
