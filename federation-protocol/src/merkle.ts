import { createHash } from 'node:crypto';
import { bytesEqual, decodeBase64, encodeBase64 } from './encoding.ts';

/**
 * The transparency log's Merkle tree, hashed as RFC 9162 (Certificate Transparency 2.0) §2.1 prescribes:
 * a leaf hash is SHA-256(0x00 || entry) and an interior node SHA-256(0x01 || left || right), the 0x00/0x01 prefixes
 * keeping a leaf from ever being passed off as a node. The tree of n leaves splits at k, the largest power of two
 * below n: its left part is always a complete subtree, its right part holds the rest.
 *
 * Proofs are arrays of 32-byte hashes, in the order of RFC 9162 (the sibling nearest the leaf first).
 */

export const HASH_SIZE = 32;

export type Hash = Uint8Array;
export type Proof = readonly Hash[];

export function leafHash(entry: Uint8Array): Hash {
  return new Uint8Array(createHash('sha256').update(LEAF_PREFIX).update(entry).digest());
}

export function nodeHash(left: Hash, right: Hash): Hash {
  return new Uint8Array(createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest());
}

/** The root of the empty tree: SHA-256 of nothing. */
export function emptyRootHash(): Hash {
  return new Uint8Array(createHash('sha256').digest());
}

const LEAF_PREFIX = new Uint8Array([0x00]);
const NODE_PREFIX = new Uint8Array([0x01]);

/**
 * Verifies that `leaf` is entry `leafIndex` of the tree of `treeSize` leaves whose root is `rootHash`
 * (RFC 9162 §2.1.3.2).
 *
 * The path alone does not authenticate the tree size: a proof for leaf 0 of a 7-leaf tree has the same shape as
 * one for leaf 0 of 8 leaves. Take the size and the root from the same signed checkpoint.
 */
export function verifyInclusion(
  leaf: Hash,
  leafIndex: number,
  treeSize: number,
  proof: Proof,
  rootHash: Hash,
): boolean {
  if (!isTreeSize(treeSize) || !isTreeSize(leafIndex) || leafIndex >= treeSize) return false;
  if (!isHash(leaf) || !isHash(rootHash) || !proof.every(isHash)) return false;
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && bytesEqual(r, rootHash);
}

/**
 * Verifies that the tree of `newSize` leaves with root `newRoot` extends, append-only, the tree of `oldSize`
 * leaves with root `oldRoot` (RFC 9162 §2.1.4.2). Between equal sizes the proof is empty and the roots equal; every
 * tree extends the empty one. Extra proof hashes are refused, not ignored: a proof has one valid form.
 */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  oldRoot: Hash,
  newRoot: Hash,
  proof: Proof,
): boolean {
  if (!isTreeSize(oldSize) || !isTreeSize(newSize) || oldSize > newSize) return false;
  if (!isHash(oldRoot) || !isHash(newRoot) || !proof.every(isHash)) return false;
  if (oldSize === 0) return proof.length === 0 && bytesEqual(oldRoot, emptyRootHash());
  if (oldSize === newSize) return proof.length === 0 && bytesEqual(oldRoot, newRoot);
  if (proof.length === 0) return false;

  // When the old tree is a complete subtree of the new one, its root is the first node of the path.
  const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : proof;
  let fn = oldSize - 1;
  let sn = newSize - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0] as Hash;
  let sr = fr;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && bytesEqual(fr, oldRoot) && bytesEqual(sr, newRoot);
}

/** Proof hashes as standard base64 strings, the form they take in JSON. */
export function encodeProof(proof: Proof): string[] {
  return proof.map(encodeBase64);
}

/** Decodes base64 proof hashes from untrusted JSON; undefined if any is not a 32-byte hash. */
export function decodeProof(input: unknown): Hash[] | undefined {
  if (!Array.isArray(input) || input.length > 128) return undefined;
  const proof: Hash[] = [];
  for (const item of input) {
    const hash = typeof item === 'string' ? decodeBase64(item) : undefined;
    if (hash === undefined || hash.byteLength !== HASH_SIZE) return undefined;
    proof.push(hash);
  }
  return proof;
}

/**
 * An append-only Merkle tree that answers roots and proofs for its current size and every earlier one.
 *
 * It keeps the hash of every complete, aligned subtree (2^k leaves starting at a multiple of 2^k): about two
 * hashes per leaf, 64 bytes, so 100k leaves take 6.4 MB in a few contiguous buffers. Every left part of the
 * RFC 9162 recursion is such a subtree, so a root costs O(log n) hashes and a proof O(log² n) at worst, whatever
 * the size. A registry rebuilds it from its stored leaf hashes at start (`MerkleTree.fromLeafHashes`).
 */
export class MerkleTree {
  /** levels[k] holds the complete subtrees of 2^k leaves; levels[0] the leaf hashes. */
  private readonly levels: HashLevel[] = [new HashLevel()];

  static fromLeafHashes(leafHashes: Iterable<Hash>): MerkleTree {
    const tree = new MerkleTree();
    for (const hash of leafHashes) tree.appendLeafHash(hash);
    return tree;
  }

  get size(): number {
    return (this.levels[0] as HashLevel).length;
  }

  /** Hashes `entry` as a leaf, appends it and returns its index. */
  appendEntry(entry: Uint8Array): number {
    return this.appendLeafHash(leafHash(entry));
  }

  /** Appends an already computed leaf hash and returns its index. */
  appendLeafHash(hash: Hash): number {
    if (!isHash(hash)) throw new TypeError('A leaf hash is 32 bytes.');
    const index = this.size;
    (this.levels[0] as HashLevel).push(hash);
    // Each time the appended leaf completes a subtree (index ends in binary 1s), store that subtree's hash.
    let position = index;
    for (let level = 0; isOdd(position); level++) {
      const below = this.levels[level] as HashLevel;
      const combined = nodeHash(below.at(position - 1), below.at(position));
      if (this.levels.length === level + 1) this.levels.push(new HashLevel());
      (this.levels[level + 1] as HashLevel).push(combined);
      position = half(position);
    }
    return index;
  }

  leafHash(index: number): Hash {
    this.checkIndex(index, this.size, 'leaf index');
    return (this.levels[0] as HashLevel).at(index).slice();
  }

  /** MTH of the first `size` leaves (RFC 9162 §2.1.1). */
  rootHash(size: number = this.size): Hash {
    this.checkSize(size);
    return size === 0 ? emptyRootHash() : this.subtreeHash(0, size).slice();
  }

  /** PATH(leafIndex, D[0:size]) of RFC 9162 §2.1.3.1. */
  inclusionProof(leafIndex: number, size: number = this.size): Hash[] {
    this.checkSize(size);
    this.checkIndex(leafIndex, size, 'leaf index');
    const proof: Hash[] = [];
    this.collectPath(leafIndex, 0, size, proof);
    return proof.map((hash) => hash.slice());
  }

  /** PROOF(oldSize, D[0:newSize]) of RFC 9162 §2.1.4.1; empty when oldSize is 0 or equals newSize. */
  consistencyProof(oldSize: number, newSize: number = this.size): Hash[] {
    this.checkSize(newSize);
    this.checkIndex(oldSize, newSize + 1, 'old size');
    const proof: Hash[] = [];
    if (oldSize > 0 && oldSize < newSize) this.collectSubproof(oldSize, 0, newSize, true, proof);
    return proof.map((hash) => hash.slice());
  }

  /** MTH(D[start:end]); the returned view belongs to the tree when it comes from the cache. */
  private subtreeHash(start: number, end: number): Hash {
    const width = end - start;
    if (width === 1) return (this.levels[0] as HashLevel).at(start);
    if (isPowerOfTwo(width) && start % width === 0) {
      return (this.levels[Math.log2(width)] as HashLevel).at(start / width);
    }
    const split = largestPowerOfTwoBelow(width);
    return nodeHash(this.subtreeHash(start, start + split), this.subtreeHash(start + split, end));
  }

  private collectPath(index: number, start: number, end: number, proof: Hash[]): void {
    const width = end - start;
    if (width <= 1) return;
    const split = largestPowerOfTwoBelow(width);
    if (index < split) {
      this.collectPath(index, start, start + split, proof);
      proof.push(this.subtreeHash(start + split, end));
    } else {
      this.collectPath(index - split, start + split, end, proof);
      proof.push(this.subtreeHash(start, start + split));
    }
  }

  /** SUBPROOF(m, D[start:end], complete) of RFC 9162 §2.1.4.1, with m counted from `start`. */
  private collectSubproof(m: number, start: number, end: number, complete: boolean, proof: Hash[]): void {
    const width = end - start;
    if (m === width) {
      if (!complete) proof.push(this.subtreeHash(start, end));
      return;
    }
    const split = largestPowerOfTwoBelow(width);
    if (m <= split) {
      this.collectSubproof(m, start, start + split, complete, proof);
      proof.push(this.subtreeHash(start + split, end));
    } else {
      this.collectSubproof(m - split, start + split, end, false, proof);
      proof.push(this.subtreeHash(start, start + split));
    }
  }

  private checkSize(size: number): void {
    this.checkIndex(size, this.size + 1, 'tree size');
  }

  private checkIndex(value: number, bound: number, what: string): void {
    if (!Number.isSafeInteger(value) || value < 0 || value >= bound) {
      throw new RangeError(`The ${what} must be an integer from 0 to ${bound - 1}, not ${value}.`);
    }
  }
}

/** A growable array of 32-byte hashes in one buffer: no per-hash object, so 100k leaves stay cheap. */
class HashLevel {
  private buffer = new Uint8Array(HASH_SIZE * 64);
  length = 0;

  push(hash: Hash): void {
    if ((this.length + 1) * HASH_SIZE > this.buffer.byteLength) {
      const grown = new Uint8Array(this.buffer.byteLength * 2);
      grown.set(this.buffer);
      this.buffer = grown;
    }
    this.buffer.set(hash, this.length * HASH_SIZE);
    this.length++;
  }

  at(index: number): Hash {
    return this.buffer.subarray(index * HASH_SIZE, (index + 1) * HASH_SIZE);
  }
}

// Tree sizes go up to 2^53, beyond 32-bit shifts, so halving and parity use arithmetic.
function half(n: number): number {
  return Math.floor(n / 2);
}

function isOdd(n: number): boolean {
  return n % 2 === 1;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isTreeSize(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

function isHash(value: unknown): value is Hash {
  return value instanceof Uint8Array && value.byteLength === HASH_SIZE;
}
