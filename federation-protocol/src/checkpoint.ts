import { decodeBase64, encodeBase64 } from './encoding.ts';
import { fail, ok } from './errors.ts';
import type { Result } from './errors.ts';
import { signJws, verifyJws } from './jws.ts';
import type { JwsErrorCodes } from './jws.ts';
import type { Ed25519KeyPair, KeySet } from './keys.ts';
import { HASH_SIZE, verifyConsistency } from './merkle.ts';
import type { MerkleTree, Proof } from './merkle.ts';
import { isCount, isRecord, isTimestamp, isToken } from './validate.ts';

/**
 * Signed checkpoints of the registry's transparency log: "the log named `origin` had `treeSize` entries with root
 * `rootHash` at `timestamp`", signed by a registry key. A peer keeps the last checkpoint it accepted and accepts a
 * newer one only with a consistency proof linking the two (`verifyConsistentWith`): a registry that showed two
 * peers different histories (a split view) is caught as soon as either sees the other's checkpoint.
 */

export interface Checkpoint {
  /** The log's name, e.g. `registry.caliopen.example/log`; a checkpoint of another log never links to this one. */
  readonly origin: string;
  readonly treeSize: number;
  /** RFC 9162 tree head, standard base64. */
  readonly rootHash: string;
  /** NumericDate (seconds). */
  readonly timestamp: number;
}

export interface VerifiedCheckpoint {
  readonly checkpoint: Checkpoint;
  readonly kid: string;
  /** The JWS it was read from, to keep or pass on as is. */
  readonly jws: string;
}

export const CHECKPOINT_JWS_TYPE = 'caliopen-checkpoint+jws';

const CHECKPOINT_CODES: JwsErrorCodes = {
  malformed: 'checkpoint_malformed',
  unknownKey: 'checkpoint_unknown_key',
  keyOutsideValidity: 'checkpoint_key_outside_validity',
  badSignature: 'checkpoint_bad_signature',
};

/** The checkpoint of a tree at `size` (default: its current size). */
export function checkpointOf(
  tree: MerkleTree,
  options: { origin: string; timestamp: number; size?: number },
): Checkpoint {
  const treeSize = options.size ?? tree.size;
  return {
    origin: options.origin,
    treeSize,
    rootHash: encodeBase64(tree.rootHash(treeSize)),
    timestamp: options.timestamp,
  };
}

export async function signCheckpoint(checkpoint: Checkpoint, keyPair: Ed25519KeyPair): Promise<string> {
  const parsed = parseCheckpoint(checkpoint);
  if (!parsed.ok) throw parsed.error;
  return signJws(parsed.value, keyPair, CHECKPOINT_JWS_TYPE);
}

export async function verifyCheckpoint(
  jws: unknown,
  options: { keySet: KeySet; now: number; expectedOrigin?: string },
): Promise<Result<VerifiedCheckpoint>> {
  const verified = await verifyJws(jws, { ...options, typ: CHECKPOINT_JWS_TYPE, codes: CHECKPOINT_CODES });
  if (!verified.ok) return verified;
  const checkpoint = parseCheckpoint(verified.value.payload);
  if (!checkpoint.ok) return checkpoint;
  if (options.expectedOrigin !== undefined && checkpoint.value.origin !== options.expectedOrigin) {
    return fail(
      'checkpoint_wrong_origin',
      `The checkpoint is for log "${checkpoint.value.origin}", not "${options.expectedOrigin}".`,
    );
  }
  return ok({ checkpoint: checkpoint.value, kid: verified.value.kid, jws: jws as string });
}

/**
 * Accepts `next` only if it is an append-only extension of `previous`, the last checkpoint this peer accepted:
 * same log, no smaller, and either the same tree or a valid RFC 9162 consistency proof between them. Returns `next`.
 */
export function verifyConsistentWith(previous: Checkpoint, next: Checkpoint, proof: Proof): Result<Checkpoint> {
  if (previous.origin !== next.origin) {
    return fail(
      'checkpoint_wrong_origin',
      `The checkpoints belong to different logs: "${previous.origin}", "${next.origin}".`,
    );
  }
  if (next.treeSize < previous.treeSize) {
    return fail(
      'checkpoint_inconsistent',
      `The log went back from ${previous.treeSize} to ${next.treeSize} entries; an append-only log only grows.`,
    );
  }
  const oldRoot = decodeRootHash(previous.rootHash);
  const newRoot = decodeRootHash(next.rootHash);
  if (oldRoot === undefined || newRoot === undefined)
    return fail('checkpoint_malformed', 'A root hash is not 32 bytes of base64.');
  if (!verifyConsistency(previous.treeSize, next.treeSize, oldRoot, newRoot, proof)) {
    return fail(
      'checkpoint_inconsistent',
      next.treeSize === previous.treeSize
        ? `Two different roots for the same ${next.treeSize} entries: the log forked.`
        : `No valid consistency proof from ${previous.treeSize} to ${next.treeSize} entries: the log forked or the proof is wrong.`,
    );
  }
  return ok(next);
}

/** Validates untrusted checkpoint claims (a stored last checkpoint, a JWS payload); returns a clean copy. */
export function parseCheckpoint(input: unknown): Result<Checkpoint> {
  if (!isRecord(input)) return checkpointMalformed('it is not an object');
  const { origin, treeSize, rootHash, timestamp } = input;
  if (!isToken(origin, 255)) return checkpointMalformed('origin is not 1 to 255 printable ASCII characters');
  if (!isCount(treeSize)) return checkpointMalformed('treeSize is not a non-negative integer');
  if (typeof rootHash !== 'string' || decodeRootHash(rootHash) === undefined) {
    return checkpointMalformed('rootHash is not a base64 SHA-256 hash');
  }
  if (!isTimestamp(timestamp)) return checkpointMalformed('timestamp is not integer seconds');
  return ok({ origin, treeSize, rootHash, timestamp });
}

function decodeRootHash(rootHash: string): Uint8Array | undefined {
  const bytes = decodeBase64(rootHash);
  return bytes?.byteLength === HASH_SIZE ? bytes : undefined;
}

function checkpointMalformed(reason: string) {
  return fail('checkpoint_malformed', `Malformed checkpoint: ${reason}.`);
}
