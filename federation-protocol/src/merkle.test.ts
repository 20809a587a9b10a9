import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { sha256 } from './canonical-json.ts';
import { decodeHex, encodeHex } from './encoding.ts';
import {
  MerkleTree,
  decodeProof,
  emptyRootHash,
  encodeProof,
  leafHash,
  nodeHash,
  verifyConsistency,
  verifyInclusion,
} from './merkle.ts';
import type { Hash } from './merkle.ts';

/** The RFC 6962 reference leaves d0..d7 (Certificate Transparency's own test suites) and their tree heads. */
const REFERENCE_LEAVES = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
];
const REFERENCE_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

function hex(hash: Hash): string {
  return encodeHex(hash);
}

function bytes(text: string): Uint8Array {
  const decoded = decodeHex(text);
  if (decoded === undefined) throw new Error(`bad hex ${text}`);
  return decoded;
}

function referenceTree(size = 8): MerkleTree {
  const tree = new MerkleTree();
  for (const leaf of REFERENCE_LEAVES.slice(0, size)) tree.appendEntry(bytes(leaf));
  return tree;
}

// The RFC 9162 definitions, written as literally as possible, to check the cached tree against.
function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function mth(leaves: readonly Hash[]): Hash {
  if (leaves.length === 0) return sha256(new Uint8Array());
  if (leaves.length === 1) return leaves[0] as Hash;
  const k = largestPowerOfTwoBelow(leaves.length);
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

function path(m: number, leaves: readonly Hash[]): Hash[] {
  if (leaves.length <= 1) return [];
  const k = largestPowerOfTwoBelow(leaves.length);
  if (m < k) return [...path(m, leaves.slice(0, k)), mth(leaves.slice(k))];
  return [...path(m - k, leaves.slice(k)), mth(leaves.slice(0, k))];
}

function subproof(m: number, leaves: readonly Hash[], complete: boolean): Hash[] {
  const n = leaves.length;
  if (m === n) return complete ? [] : [mth(leaves)];
  const k = largestPowerOfTwoBelow(n);
  if (m <= k) return [...subproof(m, leaves.slice(0, k), complete), mth(leaves.slice(k))];
  return [...subproof(m - k, leaves.slice(k), false), mth(leaves.slice(0, k))];
}

function randomLeaves(count: number, salt: number): Hash[] {
  return Array.from({ length: count }, (_, index) =>
    leafHash(new Uint8Array([salt & 0xff, (index >>> 16) & 0xff, (index >>> 8) & 0xff, index & 0xff])),
  );
}

function flipBit(hash: Hash, bit: number): Hash {
  const copy = hash.slice();
  copy[(bit >> 3) % copy.length]! ^= 1 << (bit & 7);
  return copy;
}

/** A tree of 1..300 leaves with a salt, so different runs build different trees. */
const arbitraryTree = fc.record({ size: fc.integer({ min: 1, max: 300 }), salt: fc.integer({ min: 0, max: 255 }) });

describe('Merkle tree (RFC 9162 hashing)', () => {
  it('hashes leaves with 0x00 and nodes with 0x01, and the empty tree as SHA-256 of nothing', () => {
    assert.equal(hex(leafHash(new Uint8Array())), REFERENCE_ROOTS[0]);
    assert.equal(hex(emptyRootHash()), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    // From the certificate-transparency test suite (TreeHasherTest).
    assert.equal(
      hex(
        nodeHash(
          bytes('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'),
          bytes('202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f'),
        ),
      ),
      '1a378704c17da31e2d05b6d121c2bb2c7d76f6ee6fa8f983e596c2d034963c57',
    );
    assert.equal(hex(new MerkleTree().rootHash()), hex(emptyRootHash()));
  });

  it('matches the RFC 6962 reference tree heads for 1 to 8 leaves, at every earlier size too', () => {
    const tree = referenceTree();
    REFERENCE_ROOTS.forEach((root, index) => {
      assert.equal(hex(tree.rootHash(index + 1)), root, `size ${index + 1}`);
      assert.equal(hex(referenceTree(index + 1).rootHash()), root, `built to size ${index + 1}`);
    });
  });

  it('produces the reference inclusion proofs and verifies them', () => {
    const tree = referenceTree();
    const cases: [number, number, string[]][] = [
      [
        0,
        8,
        [
          '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
          '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
          '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
        ],
      ],
      [
        5,
        8,
        [
          'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
          'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
          'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
        ],
      ],
      [2, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
      [
        1,
        5,
        [
          '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
          '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
          'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
        ],
      ],
      [0, 1, []],
    ];
    for (const [index, size, expected] of cases) {
      const proof = tree.inclusionProof(index, size);
      assert.deepEqual(proof.map(hex), expected, `leaf ${index} of ${size}`);
      assert.ok(verifyInclusion(tree.leafHash(index), index, size, proof, tree.rootHash(size)));
    }
  });

  it('produces the reference consistency proofs and verifies them', () => {
    const tree = referenceTree();
    const cases: [number, number, string[]][] = [
      [1, 1, []],
      [
        1,
        8,
        [
          '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
          '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
          '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
        ],
      ],
      [
        6,
        8,
        [
          '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
          'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
          'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
        ],
      ],
      [
        2,
        5,
        [
          '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
          'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
        ],
      ],
    ];
    for (const [oldSize, newSize, expected] of cases) {
      const proof = tree.consistencyProof(oldSize, newSize);
      assert.deepEqual(proof.map(hex), expected, `${oldSize} -> ${newSize}`);
      assert.ok(verifyConsistency(oldSize, newSize, tree.rootHash(oldSize), tree.rootHash(newSize), proof));
    }
  });

  it('verifies a real audit path from a CT log (leaf 848049 of 3630887)', () => {
    const auditPath = [
      '1a208aeebcd1b39fe2de247ee8db9454e1e93a312d206b87f6ca9cc6ec6f1ddd',
      '0a1b78b383f580856f433c01a5741e160d451c185910027f6cc9f828687a40c4',
      '3d1745789bc63f2da15850de1c12a5bf46ed81e1cc90f086148b1662e79aab3d',
      '9095b61e14d8990acf390905621e62b1714fb8e399fbb71de5510e0aef45affe',
      '0a332b91b8fab564e6afd1dd452449e04619b18accc0ff9aa8393cd4928451f2',
      '2336f0181d264aed6d8f3a6507ca14a8d3b3c3a23791ac263e845d208c1ee330',
      'b4ce56e300590500360c146c6452edbede25d4ed83919278749ee5dbe178e048',
      '933f6ddc848ea562e4f9c5cfb5f176941301dad0c6fdb9d1fbbe34fac1be6966',
      'b95a6222958a86f74c030be27c44f57dbe313e5e7c7f4ffb98bcbd3a03bb52f2',
      'daeeb3ce5923defd0faeb8e0c210b753b85b809445d7d3d3cd537a9aabaa9c45',
      '7fadd0a13e9138a2aa6c3fdec4e2275af233b94812784f66bcca9aa8e989f2bc',
      '1864e6ba3e32878610546539734fb5eeae2529991f130c575c73a7e25a2a7c56',
      '12842d1202b1dc6828a17ab253c02e7ce9409b5192430feba44189f39cc02d66',
      '29af64b16fa3053c13d02ac63aa75b23aa468506e44c3a2315edc85d2dc22b11',
      'b527b99934a0bd9edd154e449b0502e2c499bba783f3bc3dfe23364b6b532009',
      '4584db8ae8e351ace08e01f306378a92bfd43611714814f3d834a2842d69faa8',
      '86a9a41573b0d6e4292f01e93243d6cc65b30f06606fc6fa57390e7e90ed580f',
      'a88b98fbe84d4c6aae8db9d1605dfac059d9f03fe0fcb0d5dff1295dacba09e6',
      '06326dc617a6d1f7021dc536026dbfd5fffc6f7c5531d48ef6ccd1ed1569f2a1',
      'f41fe8fdc3a2e4e8345e30216e7ebecffee26ff266eeced208a6c2a3cf08f960',
      '40cf5bde8abb76983f3e98ba97aa36240402975674e120f234b3448911090f8d',
      'b3222dc8658538079883d980d7fdc2bef9285344ea34338968f736b04aeb387a',
    ].map(bytes);
    const leaf = bytes('7a395c866d5ecdb0cccb623e011dbc392cd348d1d1d72776174e127a24b09c78');
    const root = bytes('78316a05c9bcf14a3a4548f5b854a9adfcd46a4c034401b3ce7eb7ac2f1d0ecb');
    assert.ok(verifyInclusion(leaf, 848049, 3630887, auditPath, root));
    assert.ok(!verifyInclusion(leaf, 848050, 3630887, auditPath, root));
    assert.ok(!verifyInclusion(leaf, 848049, 3630887, auditPath.slice(1), root));
  });

  it('handles the right edge of unbalanced trees (CT suite cases)', () => {
    const zeros = new Uint8Array(32);
    const ones = new Uint8Array(32).fill(0x11);
    const leaf = leafHash(ones);
    assert.ok(
      verifyInclusion(leaf, 7, 8, [zeros, zeros, zeros], nodeHash(zeros, nodeHash(zeros, nodeHash(zeros, leaf)))),
    );
    assert.ok(verifyInclusion(leaf, 4, 5, [zeros], nodeHash(zeros, leaf)));
    assert.ok(verifyInclusion(leaf, 5, 6, [zeros, zeros], nodeHash(zeros, nodeHash(zeros, leaf))));
    assert.ok(verifyInclusion(leaf, 4, 6, [zeros, zeros], nodeHash(zeros, nodeHash(leaf, zeros))));
  });

  it('refuses proofs with extra hashes where RFC 9162 wants none, and impossible sizes', () => {
    const tree = referenceTree();
    const root3 = tree.rootHash(3);
    assert.ok(!verifyConsistency(3, 3, root3, root3, [root3]));
    assert.ok(!verifyConsistency(0, 3, emptyRootHash(), root3, [root3]));
    assert.ok(verifyConsistency(0, 3, emptyRootHash(), root3, []));
    assert.ok(!verifyConsistency(5, 2, tree.rootHash(5), tree.rootHash(2), tree.consistencyProof(2, 5)));
    assert.ok(!verifyInclusion(tree.leafHash(0), 0, 0, [], emptyRootHash()));
    assert.ok(!verifyInclusion(tree.leafHash(0), -1, 8, tree.inclusionProof(0), tree.rootHash()));
    assert.throws(() => tree.inclusionProof(8), RangeError);
    assert.throws(() => tree.consistencyProof(9), RangeError);
    assert.throws(() => tree.rootHash(9), RangeError);
  });

  it('shows why the size must come from the signed checkpoint: a path does not bind it', () => {
    const tree = new MerkleTree();
    for (const hash of randomLeaves(8, 1)) tree.appendLeafHash(hash);
    // Leaf 0's path in the 8-leaf tree also "verifies" as a 7-leaf path against the 8-leaf root: same shape.
    assert.ok(verifyInclusion(tree.leafHash(0), 0, 7, tree.inclusionProof(0, 8), tree.rootHash(8)));
    // Against the 7-leaf root, which a checkpoint of size 7 would carry, it fails.
    assert.ok(!verifyInclusion(tree.leafHash(0), 0, 7, tree.inclusionProof(0, 8), tree.rootHash(7)));
  });

  it('encodes proofs as base64 and refuses anything but 32-byte hashes', () => {
    const proof = referenceTree().inclusionProof(5);
    assert.deepEqual(decodeProof(encodeProof(proof))?.map(hex), proof.map(hex));
    assert.equal(decodeProof(['AAAA']), undefined);
    assert.equal(decodeProof('not a list'), undefined);
    assert.equal(decodeProof([encodeProof(proof)[0] + ' ']), undefined);
  });

  it('serves a 100k-leaf log with short proofs', () => {
    const tree = MerkleTree.fromLeafHashes(randomLeaves(100_000, 7));
    const root = tree.rootHash();
    for (const index of [0, 1, 65_535, 65_536, 99_998, 99_999]) {
      const proof = tree.inclusionProof(index);
      assert.ok(proof.length <= 17);
      assert.ok(verifyInclusion(tree.leafHash(index), index, tree.size, proof, root));
    }
    for (const oldSize of [1, 4096, 65_536, 70_001, 99_999]) {
      assert.ok(verifyConsistency(oldSize, tree.size, tree.rootHash(oldSize), root, tree.consistencyProof(oldSize)));
    }
  });

  describe('properties', () => {
    it('agrees with the literal RFC 9162 definitions of MTH, PATH and PROOF', () => {
      fc.assert(
        fc.property(arbitraryTree, fc.nat(), fc.nat(), ({ size, salt }, a, b) => {
          const leaves = randomLeaves(size, salt);
          const tree = MerkleTree.fromLeafHashes(leaves);
          const n = 1 + (a % size);
          const m = 1 + (b % n);
          assert.equal(hex(tree.rootHash(n)), hex(mth(leaves.slice(0, n))));
          assert.deepEqual(tree.inclusionProof(m - 1, n).map(hex), path(m - 1, leaves.slice(0, n)).map(hex));
          const expected = m === n ? [] : subproof(m, leaves.slice(0, n), true);
          assert.deepEqual(tree.consistencyProof(m, n).map(hex), expected.map(hex));
        }),
        { numRuns: 60 },
      );
    });

    it('every inclusion proof verifies', () => {
      fc.assert(
        fc.property(arbitraryTree, fc.nat(), ({ size, salt }, pick) => {
          const tree = MerkleTree.fromLeafHashes(randomLeaves(size, salt));
          const index = pick % size;
          assert.ok(verifyInclusion(tree.leafHash(index), index, size, tree.inclusionProof(index), tree.rootHash()));
        }),
      );
    });

    it('a tampered proof, leaf, index or size never verifies', () => {
      fc.assert(
        fc.property(
          arbitraryTree,
          fc.nat(),
          fc.nat(),
          fc.integer({ min: 1, max: 300 }),
          ({ size, salt }, pick, bit, otherSize) => {
            const tree = MerkleTree.fromLeafHashes(randomLeaves(Math.max(size, otherSize), salt));
            const index = pick % size;
            const leaf = tree.leafHash(index);
            const proof = tree.inclusionProof(index, size);
            const root = tree.rootHash(size);
            assert.ok(!verifyInclusion(flipBit(leaf, bit), index, size, proof, root), 'tampered leaf');
            if (proof.length > 0) {
              const at = bit % proof.length;
              const tampered = proof.map((hash, i) => (i === at ? flipBit(hash, bit) : hash));
              assert.ok(!verifyInclusion(leaf, index, size, tampered, root), 'tampered proof hash');
              assert.ok(!verifyInclusion(leaf, index, size, proof.slice(1), root), 'truncated proof');
            }
            assert.ok(!verifyInclusion(leaf, index, size, [...proof, root], root), 'extended proof');
            const otherIndex = (index + 1 + (bit % size)) % size;
            if (otherIndex !== index) assert.ok(!verifyInclusion(leaf, otherIndex, size, proof, root), 'other index');
            // A different size comes with its own root (both are in the checkpoint).
            if (otherSize !== size && index < otherSize) {
              assert.ok(!verifyInclusion(leaf, index, otherSize, proof, tree.rootHash(otherSize)), 'other size');
            }
          },
        ),
      );
    });

    it('every consistency proof between sizes m <= n verifies', () => {
      fc.assert(
        fc.property(arbitraryTree, fc.nat(), fc.nat(), ({ size, salt }, a, b) => {
          const tree = MerkleTree.fromLeafHashes(randomLeaves(size, salt));
          const n = 1 + (a % size);
          const m = b % (n + 1);
          assert.ok(verifyConsistency(m, n, tree.rootHash(m), tree.rootHash(n), tree.consistencyProof(m, n)));
        }),
      );
    });

    it('a consistency proof fails for a different old root, a forked history or a tampered hash', () => {
      fc.assert(
        fc.property(arbitraryTree, fc.nat(), fc.nat(), fc.nat(), ({ size, salt }, a, b, bit) => {
          fc.pre(size >= 2);
          const leaves = randomLeaves(size, salt);
          const tree = MerkleTree.fromLeafHashes(leaves);
          const n = 2 + (a % (size - 1));
          const m = 1 + (b % (n - 1));
          const proof = tree.consistencyProof(m, n);
          const newRoot = tree.rootHash(n);
          assert.ok(!verifyConsistency(m, n, flipBit(tree.rootHash(m), bit), newRoot, proof), 'other old root');
          // A registry that rewrote one of the first m entries: its old root differs.
          const forked = leaves.slice();
          forked[bit % m] = leafHash(new Uint8Array([0xff, 0xfe, salt & 0xff]));
          const forkedOldRoot = MerkleTree.fromLeafHashes(forked).rootHash(m);
          assert.ok(!verifyConsistency(m, n, forkedOldRoot, newRoot, proof), 'forked history');
          const at = bit % proof.length;
          const tampered = proof.map((hash, i) => (i === at ? flipBit(hash, bit) : hash));
          assert.ok(!verifyConsistency(m, n, tree.rootHash(m), newRoot, tampered), 'tampered proof hash');
          assert.ok(!verifyConsistency(m, n, tree.rootHash(m), newRoot, proof.slice(0, -1)), 'truncated proof');
        }),
      );
    });
  });
});
