import { describe, expect, it } from 'vitest';
import {
  acceptsCurrent,
  compareCheckpoint,
  loadSeen,
  readCheckpointJws,
  rememberSeen,
  type SeenCheckpoint,
} from './checkpoint-memory.ts';

const cp = (treeSize: number, rootHash: string, origin = 'registry.test/log'): SeenCheckpoint => ({
  origin,
  treeSize,
  rootHash,
  timestamp: 1_800_000_000 + treeSize,
});

function memoryStorage() {
  const m = new Map<string, string>();
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), m };
}

describe('checkpoint memory', () => {
  it('trusts the first checkpoint, then accepts the same tree', () => {
    expect(compareCheckpoint(null, cp(3, 'r3'))).toEqual({ kind: 'first' });
    expect(compareCheckpoint(cp(3, 'r3'), cp(3, 'r3'))).toEqual({ kind: 'same' });
  });

  it('a bigger tree needs a consistency proof, and is accepted only when it verifies', () => {
    expect(compareCheckpoint(cp(3, 'r3'), cp(5, 'r5'))).toEqual({ kind: 'needs-proof', from: 3 });
    expect(compareCheckpoint(cp(3, 'r3'), cp(5, 'r5'), true)).toEqual({ kind: 'extends', from: 3 });
    const failed = compareCheckpoint(cp(3, 'r3'), cp(5, 'r5'), false);
    expect(failed).toMatchObject({ kind: 'inconsistent', reason: 'proof-failed' });
    expect(acceptsCurrent(failed)).toBe(false);
  });

  it('a split view is caught: same size with another root, a smaller tree, another log', () => {
    expect(compareCheckpoint(cp(3, 'r3'), cp(3, 'evil'))).toMatchObject({
      kind: 'inconsistent',
      reason: 'same-size-other-root',
    });
    expect(compareCheckpoint(cp(5, 'r5'), cp(3, 'r3'))).toMatchObject({ kind: 'inconsistent', reason: 'smaller' });
    expect(compareCheckpoint(cp(3, 'r3'), cp(3, 'r3', 'other/log'))).toMatchObject({
      kind: 'inconsistent',
      reason: 'other-origin',
    });
    expect(acceptsCurrent({ kind: 'inconsistent', reason: 'smaller', seen: cp(5, 'r5') })).toBe(false);
  });

  it('remembers per log origin in storage, and ignores garbage', () => {
    const s = memoryStorage();
    expect(loadSeen(s, 'registry.test/log')).toBeNull();
    rememberSeen(s, cp(4, 'r4'));
    expect(loadSeen(s, 'registry.test/log')).toEqual(cp(4, 'r4'));
    expect(loadSeen(s, 'other/log')).toBeNull();
    s.setItem('caliopen.registry.checkpoint:bad/log', '{"origin":1}');
    expect(loadSeen(s, 'bad/log')).toBeNull();
    s.setItem('caliopen.registry.checkpoint:bad/log', 'not json');
    expect(loadSeen(s, 'bad/log')).toBeNull();
    expect(loadSeen(null, 'registry.test/log')).toBeNull();
  });

  it('reads a compact JWS checkpoint’s payload', () => {
    const payload = btoa(JSON.stringify(cp(2, 'abc=')))
      .replaceAll('+', '-')
      .replaceAll('/', '_')
      .replace(/=+$/, '');
    expect(readCheckpointJws(`h.${payload}.s`)).toEqual(cp(2, 'abc='));
    expect(readCheckpointJws('not-a-jws')).toBeNull();
    expect(readCheckpointJws('a.!!!.c')).toBeNull();
  });
});
