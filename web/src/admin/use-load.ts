import { useCallback, useEffect, useState } from 'react';

/** Loads once on mount and on `reload()`: the value, the error, and whether a load is under way. */
export function useLoad<T>(load: () => Promise<T>): { value: T | null; error: unknown; reload: () => void } {
  const [value, setValue] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `tick` asks for a reload on purpose
  useEffect(() => {
    let cancelled = false;
    setError(null);
    load().then(
      (v) => !cancelled && setValue(v),
      (e) => !cancelled && setError(e),
    );
    return () => {
      cancelled = true;
    };
  }, [load, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { value, error, reload };
}
