import { canonicalJsonBytes, sha256 } from './canonical-json.ts';
import type { Checkpoint } from './checkpoint.ts';
import { decodeBase64, encodeBase64 } from './encoding.ts';
import { fail, ok } from './errors.ts';
import type { Result } from './errors.ts';
import type { FeedInstance, InstanceStatus } from './feed.types.ts';
import { jwkThumbprint } from './keys.ts';
import type { Ed25519PublicJwk } from './keys.ts';
import { HASH_SIZE, leafHash, verifyInclusion } from './merkle.ts';
import type { Proof } from './merkle.ts';

/**
 * Feed entries bound to the transparency log (SPEC.md, "Entries bound to the log"). Every entry the registry
 * publishes has a leaf in its log, at the entry's `logIndex`, whose bytes are the canonical JSON of its
 * `EntryBinding`: what the entry vouches for (keys, certificate, label, status) in readable form, and the digest of
 * the whole entry. A peer recomputes the leaf from the entry and checks its inclusion in the tree of the feed's
 * signed checkpoint before it relies on the entry: a holder of the registry key can no longer add or change a member
 * without a trace in the log that every monitor sees.
 */

export const ENTRY_BINDING_TYPE = 'feed.entry';

export interface EntryBinding {
  readonly type: typeof ENTRY_BINDING_TYPE;
  readonly domain: string;
  readonly status: InstanceStatus;
  readonly labelId: string;
  /** RFC 7638 thumbprints of the instance keys the entry lists. */
  readonly keys: { readonly signing: string; readonly encryption: string };
  readonly certFingerprint: string;
  /** Base64 SHA-256 of the canonical JSON of the entry without its `logIndex`. */
  readonly entrySha256: string;
}

export function entryBinding(entry: FeedInstance): EntryBinding {
  const { logIndex: _index, ...rest } = entry;
  return {
    type: ENTRY_BINDING_TYPE,
    domain: entry.domain,
    status: entry.status,
    labelId: entry.labelId,
    keys: { signing: jwkThumbprint(entry.keys.signing), encryption: jwkThumbprint(entry.keys.encryption) },
    certFingerprint: entry.certFingerprint,
    entrySha256: encodeBase64(sha256(canonicalJsonBytes(rest))),
  };
}

/** The bytes of the entry's log leaf: the canonical JSON of its binding. */
export function entryLogLeaf(entry: FeedInstance): Uint8Array {
  return canonicalJsonBytes(entryBinding(entry));
}

/** RFC 9162 leaf hash of the entry's log leaf. */
export function entryLeafHash(entry: FeedInstance): Uint8Array {
  return leafHash(entryLogLeaf(entry));
}

/**
 * The entry is bound to the log of `checkpoint` (verified beforehand): the leaf at `entry.logIndex` of the tree of
 * `checkpoint.treeSize` entries is the entry's binding, as `proof` (RFC 9162 inclusion proof) shows. Otherwise
 * `feed_entry_not_in_log`.
 */
export function verifyEntryInLog(entry: FeedInstance, checkpoint: Checkpoint, proof: Proof): Result<FeedInstance> {
  const root = decodeBase64(checkpoint.rootHash);
  if (root?.byteLength !== HASH_SIZE) return fail('checkpoint_malformed', 'The checkpoint root is not a hash.');
  if (entry.logIndex >= checkpoint.treeSize) {
    return fail(
      'feed_entry_not_in_log',
      `The entry of ${entry.domain} names log leaf ${entry.logIndex}; the log has ${checkpoint.treeSize} entries.`,
    );
  }
  if (!verifyInclusion(entryLeafHash(entry), entry.logIndex, checkpoint.treeSize, proof, root)) {
    return fail(
      'feed_entry_not_in_log',
      `The entry of ${entry.domain} is not the log leaf ${entry.logIndex} of the checkpoint (${checkpoint.treeSize} entries): its keys, certificate or label have no trace in the log.`,
    );
  }
  return ok(entry);
}

/**
 * The signing keys of an entry accepted at `now`: its current key, then every previous key whose overlap is not over
 * (SPEC.md §3, "Instance key rotation").
 */
export function signingKeysAt(entry: FeedInstance, now: number): Ed25519PublicJwk[] {
  const previous = entry.keys.previousSigning ?? [];
  return [entry.keys.signing, ...previous.filter((k) => now < k.notAfter).map((k) => k.jwk)];
}

/** Whether the newest verified feed, issued at `issuedAt`, is still fresh at `now` (all in seconds). */
export function isFeedFresh(issuedAt: number, now: number, maxAgeSeconds: number): boolean {
  return now - issuedAt <= maxAgeSeconds;
}
