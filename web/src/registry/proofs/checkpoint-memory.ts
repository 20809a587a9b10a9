/**
 * The browser's memory of the registry's checkpoints (split-view detection, as instances do): the last checkpoint
 * this browser accepted is kept in localStorage; a new one is accepted only if it is the same tree, or a bigger
 * tree with a consistency proof that verifies. Anything else is shown as an inconsistency, and the remembered
 * checkpoint is kept (the registry cannot make the browser forget by serving a different history).
 */
export interface SeenCheckpoint {
  origin: string;
  treeSize: number;
  rootHash: string;
  timestamp: number;
}

export type CheckpointVerdict =
  /** Nothing remembered yet: trust on first use. */
  | { kind: 'first' }
  | { kind: 'same' }
  /** A bigger tree, proven to extend the remembered one. */
  | { kind: 'extends'; from: number }
  /** A bigger tree that needs a consistency proof from the remembered size before it can be accepted. */
  | { kind: 'needs-proof'; from: number }
  | {
      kind: 'inconsistent';
      reason: 'other-origin' | 'same-size-other-root' | 'smaller' | 'proof-failed';
      seen: SeenCheckpoint;
    };

/**
 * Compares the served checkpoint with the remembered one. `consistencyOk` is the result of verifying the
 * consistency proof from `seen.treeSize` to `current.treeSize` (undefined: not verified yet).
 */
export function compareCheckpoint(
  seen: SeenCheckpoint | null,
  current: SeenCheckpoint,
  consistencyOk?: boolean,
): CheckpointVerdict {
  if (seen === null) return { kind: 'first' };
  if (seen.origin !== current.origin) return { kind: 'inconsistent', reason: 'other-origin', seen };
  if (current.treeSize < seen.treeSize) return { kind: 'inconsistent', reason: 'smaller', seen };
  if (current.treeSize === seen.treeSize) {
    return current.rootHash === seen.rootHash
      ? { kind: 'same' }
      : { kind: 'inconsistent', reason: 'same-size-other-root', seen };
  }
  if (consistencyOk === undefined) return { kind: 'needs-proof', from: seen.treeSize };
  return consistencyOk
    ? { kind: 'extends', from: seen.treeSize }
    : { kind: 'inconsistent', reason: 'proof-failed', seen };
}

/** Whether the verdict lets the browser remember `current` in place of what it saw. */
export const acceptsCurrent = (v: CheckpointVerdict): boolean =>
  v.kind === 'first' || v.kind === 'same' || v.kind === 'extends';

export const STORAGE_KEY = 'caliopen.registry.checkpoint';

type KeyValue = Pick<Storage, 'getItem' | 'setItem'>;

export function loadSeen(storage: KeyValue | null, origin: string): SeenCheckpoint | null {
  try {
    const raw = storage?.getItem(`${STORAGE_KEY}:${origin}`);
    if (!raw) return null;
    const v = JSON.parse(raw) as Partial<SeenCheckpoint>;
    if (
      typeof v.origin === 'string' &&
      Number.isSafeInteger(v.treeSize) &&
      typeof v.rootHash === 'string' &&
      typeof v.timestamp === 'number'
    )
      return v as SeenCheckpoint;
    return null;
  } catch {
    return null;
  }
}

export function rememberSeen(storage: KeyValue | null, cp: SeenCheckpoint): void {
  try {
    storage?.setItem(`${STORAGE_KEY}:${cp.origin}`, JSON.stringify(cp));
  } catch {
    // private mode or full storage: the memory lasts for this page only
  }
}

/** The payload of a compact JWS checkpoint (its signature is checked by instances; the site reads its fields). */
export function readCheckpointJws(jws: string): SeenCheckpoint | null {
  const parts = jws.split('.');
  if (parts.length !== 3 || !parts[1]) return null;
  try {
    const b64 = parts[1].replaceAll('-', '+').replaceAll('_', '/');
    const json = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))));
    if (
      typeof json.origin === 'string' &&
      Number.isSafeInteger(json.treeSize) &&
      typeof json.rootHash === 'string' &&
      typeof json.timestamp === 'number'
    )
      return { origin: json.origin, treeSize: json.treeSize, rootHash: json.rootHash, timestamp: json.timestamp };
    return null;
  } catch {
    return null;
  }
}
