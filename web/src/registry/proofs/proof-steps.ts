import {
  bytesEqual,
  decodeBase64,
  decodeProof,
  encodeBase64,
  nodeHash,
  verifyConsistency,
  verifyInclusion,
  type Hash,
} from '@caliopen/federation-protocol';

/**
 * The RFC 9162 proof verifications of federation-protocol, replayed step by step for display. The verdict always
 * comes from the protocol's own `verifyInclusion` / `verifyConsistency` (the code every instance runs); the steps
 * show the hashes combined on the way, so a reader can follow, and re-do, each one.
 */
export interface ProofStep {
  /** 1-based, in the order they are computed. */
  n: number;
  /** Which side the proof hash goes: `left` = H(0x01 || proof || running), `right` = H(0x01 || running || proof). */
  side: 'left' | 'right';
  /** The proof hash consumed at this step (base64). */
  sibling: string;
  /** The running hash before and after the step (base64). For consistency, `before`/`after` track the new tree. */
  before: string;
  after: string;
  /** Consistency only: the old tree's running hash after this step, when the step contributes to it. */
  oldAfter?: string;
}

export interface ProofReplay {
  ok: boolean;
  steps: ProofStep[];
  /** What the steps computed, to compare with the checkpoint's root (base64). */
  computedRoot: string | null;
  expectedRoot: string;
  /** Consistency only: the old root recomputed, and the one expected. */
  computedOldRoot?: string | null;
  expectedOldRoot?: string;
  /** Why it failed before any hashing (malformed input), or null. */
  problem: string | null;
}

const half = (n: number) => Math.floor(n / 2);
const isOdd = (n: number) => n % 2 === 1;
const b64 = (h: Hash) => encodeBase64(h);

function decodeHash(text: string): Hash | null {
  const h = decodeBase64(text);
  return h !== undefined && h.byteLength === 32 ? h : null;
}

/** Inclusion of `leafHash` at `index` in the tree of `size` whose root is `rootHash` (all hashes base64). */
export function replayInclusion(input: {
  leafHash: string;
  index: number;
  size: number;
  proof: unknown;
  rootHash: string;
}): ProofReplay {
  const { index, size, rootHash } = input;
  const base: ProofReplay = { ok: false, steps: [], computedRoot: null, expectedRoot: rootHash, problem: null };
  const leaf = decodeHash(input.leafHash);
  const root = decodeHash(rootHash);
  const proof = decodeProof(input.proof);
  if (leaf === null || root === null || proof === undefined) return { ...base, problem: 'malformed' };
  if (!(index >= 0 && index < size)) return { ...base, problem: 'out_of_range' };
  const steps: ProofStep[] = [];
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) break;
    const before = r;
    let side: 'left' | 'right';
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r);
      side = 'left';
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = nodeHash(r, p);
      side = 'right';
    }
    fn = half(fn);
    sn = half(sn);
    steps.push({ n: steps.length + 1, side, sibling: b64(p), before: b64(before), after: b64(r) });
  }
  const ok = verifyInclusion(leaf, index, size, proof, root);
  return { ...base, ok, steps, computedRoot: b64(r) };
}

/** Consistency of the tree (`from`, `oldRoot`) with the tree (`to`, `newRoot`) (all hashes base64). */
export function replayConsistency(input: {
  from: number;
  to: number;
  oldRoot: string;
  newRoot: string;
  proof: unknown;
}): ProofReplay {
  const { from, to } = input;
  const base: ProofReplay = {
    ok: false,
    steps: [],
    computedRoot: null,
    expectedRoot: input.newRoot,
    computedOldRoot: null,
    expectedOldRoot: input.oldRoot,
    problem: null,
  };
  const oldRoot = decodeHash(input.oldRoot);
  const newRoot = decodeHash(input.newRoot);
  const proof = decodeProof(input.proof);
  if (oldRoot === null || newRoot === null || proof === undefined) return { ...base, problem: 'malformed' };
  const ok = verifyConsistency(from, to, oldRoot, newRoot, proof);
  if (from === 0 || from === to || proof.length === 0 || from > to) {
    const same = from === to && bytesEqual(oldRoot, newRoot);
    return {
      ...base,
      ok,
      computedRoot: same ? input.newRoot : null,
      computedOldRoot: same ? input.oldRoot : null,
    };
  }
  const isPowerOfTwo = 2 ** Math.round(Math.log2(from)) === from;
  const path = isPowerOfTwo ? [oldRoot, ...proof] : proof;
  let fn = from - 1;
  let sn = to - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0] as Hash;
  let sr = fr;
  const steps: ProofStep[] = [];
  for (const c of path.slice(1)) {
    if (sn === 0) break;
    const before = sr;
    let side: 'left' | 'right';
    let oldAfter: string | undefined;
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      side = 'left';
      oldAfter = b64(fr);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = nodeHash(sr, c);
      side = 'right';
    }
    fn = half(fn);
    sn = half(sn);
    steps.push({
      n: steps.length + 1,
      side,
      sibling: b64(c),
      before: b64(before),
      after: b64(sr),
      ...(oldAfter ? { oldAfter } : {}),
    });
  }
  return { ...base, ok, steps, computedRoot: b64(sr), computedOldRoot: b64(fr) };
}

/** A hash shortened for display (first and last characters); the full value goes in a title/copy field. */
export function shortHash(h: string): string {
  return h.length <= 16 ? h : `${h.slice(0, 8)}…${h.slice(-6)}`;
}
