import { encodeBase64, encodeProof, MerkleTree, utf8Encode } from '@caliopen/federation-protocol';
import { describe, expect, it } from 'vitest';
import { replayConsistency, replayInclusion, shortHash } from './proof-steps.ts';

function tree(n: number): MerkleTree {
  const t = new MerkleTree();
  for (let i = 0; i < n; i++) t.appendEntry(utf8Encode(`{"i":${i}}`));
  return t;
}

function flip(b64: string): string {
  const c = b64[0] === 'A' ? 'B' : 'A';
  return c + b64.slice(1);
}

describe('inclusion proof, step by step', () => {
  it('every leaf of trees of 1 to 13 entries: the steps end at the root, and the verdict is the protocol’s', () => {
    for (let size = 1; size <= 13; size++) {
      const t = tree(size);
      const root = encodeBase64(t.rootHash(size));
      for (let index = 0; index < size; index++) {
        const proof = encodeProof(t.inclusionProof(index, size));
        const r = replayInclusion({ leafHash: encodeBase64(t.leafHash(index)), index, size, proof, rootHash: root });
        expect(r.ok).toBe(true);
        expect(r.steps.length).toBe(proof.length);
        expect(r.computedRoot).toBe(root);
        if (r.steps.length > 0) expect(r.steps.at(-1)?.after).toBe(root);
        // Each step starts from the previous one's result.
        for (let s = 1; s < r.steps.length; s++) expect(r.steps[s]?.before).toBe(r.steps[s - 1]?.after);
      }
    }
  });

  it('sides follow the leaf’s position: leaf 0 of 4 takes both siblings on the right', () => {
    const t = tree(4);
    const r = replayInclusion({
      leafHash: encodeBase64(t.leafHash(0)),
      index: 0,
      size: 4,
      proof: encodeProof(t.inclusionProof(0, 4)),
      rootHash: encodeBase64(t.rootHash(4)),
    });
    expect(r.steps.map((s) => s.side)).toEqual(['right', 'right']);
    const r3 = replayInclusion({
      leafHash: encodeBase64(t.leafHash(3)),
      index: 3,
      size: 4,
      proof: encodeProof(t.inclusionProof(3, 4)),
      rootHash: encodeBase64(t.rootHash(4)),
    });
    expect(r3.steps.map((s) => s.side)).toEqual(['left', 'left']);
  });

  it('a flipped proof hash fails, and the computed root differs from the expected one', () => {
    const t = tree(7);
    const proof = encodeProof(t.inclusionProof(2, 7));
    proof[1] = flip(proof[1] as string);
    const root = encodeBase64(t.rootHash(7));
    const r = replayInclusion({ leafHash: encodeBase64(t.leafHash(2)), index: 2, size: 7, proof, rootHash: root });
    expect(r.ok).toBe(false);
    expect(r.computedRoot).not.toBe(root);
    expect(r.problem).toBeNull();
  });

  it('malformed input is reported as such, without steps', () => {
    const r = replayInclusion({ leafHash: 'nope', index: 0, size: 1, proof: [], rootHash: 'x' });
    expect(r).toMatchObject({ ok: false, problem: 'malformed', steps: [] });
    const t = tree(2);
    const out = replayInclusion({
      leafHash: encodeBase64(t.leafHash(0)),
      index: 5,
      size: 2,
      proof: [],
      rootHash: encodeBase64(t.rootHash()),
    });
    expect(out.problem).toBe('out_of_range');
  });
});

describe('consistency proof, step by step', () => {
  it('all pairs up to 12 entries: both roots recomputed, verdict true', () => {
    const t = tree(12);
    for (let to = 1; to <= 12; to++) {
      for (let from = 1; from <= to; from++) {
        const r = replayConsistency({
          from,
          to,
          oldRoot: encodeBase64(t.rootHash(from)),
          newRoot: encodeBase64(t.rootHash(to)),
          proof: encodeProof(t.consistencyProof(from, to)),
        });
        expect(r.ok, `${from}→${to}`).toBe(true);
        expect(r.computedRoot).toBe(encodeBase64(t.rootHash(to)));
        expect(r.computedOldRoot).toBe(encodeBase64(t.rootHash(from)));
      }
    }
  });

  it('a flipped hash, or roots of another history, fail', () => {
    const t = tree(9);
    const other = tree(9);
    other.appendEntry(utf8Encode('x'));
    const proof = encodeProof(t.consistencyProof(3, 9));
    const good = { from: 3, to: 9, oldRoot: encodeBase64(t.rootHash(3)), newRoot: encodeBase64(t.rootHash(9)) };
    expect(replayConsistency({ ...good, proof }).ok).toBe(true);
    expect(replayConsistency({ ...good, proof: [flip(proof[0] as string), ...proof.slice(1)] }).ok).toBe(false);
    expect(replayConsistency({ ...good, newRoot: encodeBase64(other.rootHash(10)), proof }).ok).toBe(false);
  });
});

it('shortHash keeps both ends', () => {
  expect(shortHash('ABCDEFGHIJKLMNOPQRSTUVWXYZ')).toBe('ABCDEFGH…UVWXYZ');
  expect(shortHash('short')).toBe('short');
});
