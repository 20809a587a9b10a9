import type { PrivateKey } from 'openpgp';
import { useCallback, useEffect, useState, useSyncExternalStore } from 'react';
import { ClientKeyError } from './client-key.errors.ts';
import { clientKeyStore, type StoredClientKeys } from './key-store.ts';

/** openpgp.js and the MIME parser, in a chunk of their own: loaded only when a key is made, unlocked or used. */
export const loadPgp = () => import('./pgp.ts');

/**
 * The keys unlocked in this tab, per account: opened with the passphrase once, kept in memory only (never stored
 * opened, never sent), forgotten on sign-out or reload. The passphrase itself is not kept.
 */
const unlocked = new Map<string, PrivateKey[]>();
const listeners = new Set<() => void>();
let version = 0;
const changed = () => {
  version++;
  for (const l of listeners) l();
};
const subscribe = (l: () => void) => {
  listeners.add(l);
  return () => listeners.delete(l);
};

export function unlockedKeys(account: string): PrivateKey[] | null {
  return unlocked.get(account) ?? null;
}

/** Opens the kept keys of `account` with `passphrase`; a wrong one throws ClientKeyError('wrong_passphrase'). */
export async function unlock(account: string, passphrase: string): Promise<void> {
  const stored = await clientKeyStore.get(account);
  if (stored === null) throw new ClientKeyError('not_a_private_key');
  const { unlockKeys } = await loadPgp();
  unlocked.set(account, await unlockKeys(stored.keys, passphrase));
  changed();
}

/** Keys opened elsewhere (just made, imported): held for the session without asking the passphrase again. */
export function holdUnlocked(account: string, keys: PrivateKey[]): void {
  unlocked.set(account, keys);
  changed();
}

export function lock(account?: string): void {
  if (account === undefined) unlocked.clear();
  else unlocked.delete(account);
  changed();
}

/** Whether this tab has the account's keys open; re-renders when that changes. */
export function useUnlocked(account: string): PrivateKey[] | null {
  useSyncExternalStore(subscribe, () => version);
  return unlockedKeys(account);
}

/**
 * What this browser keeps for the account: undefined while reading, null when nothing (another device, or no key
 * made here yet), with `reload` after a change.
 */
export function useStoredKeys(account: string): {
  stored: StoredClientKeys | null | undefined;
  error: unknown;
  reload: () => void;
} {
  const [stored, setStored] = useState<StoredClientKeys | null | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: tick is a reload trigger.
  useEffect(() => {
    let cancelled = false;
    clientKeyStore.get(account).then(
      (s) => !cancelled && setStored(s),
      (e) => {
        if (cancelled) return;
        setStored(null);
        setError(e);
      },
    );
    return () => {
      cancelled = true;
    };
  }, [account, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { stored, error, reload };
}
