import { canonicalJson, canonicalJsonBytes, sha256 } from './canonical-json.ts';
import { verifyCheckpoint, verifyConsistentWith } from './checkpoint.ts';
import type { VerifiedCheckpoint } from './checkpoint.ts';
import { encodeBase64, utf8Decode, utf8Encode } from './encoding.ts';
import { fail, ok } from './errors.ts';
import type { Result } from './errors.ts';
import {
  byDomain,
  headMismatch,
  parseFeed,
  parseFeedDelta,
  parseFeedDeltaHead,
  parseFeedHead,
  parseJsonBody,
} from './feed.parse.ts';
import { FEED_DELTA_JWS_TYPE, FEED_JWS_TYPE, FEED_VERSION } from './feed.types.ts';
import type {
  Feed,
  FeedDelta,
  FeedInstance,
  FeedVerifyOptions,
  VerifiedFeed,
  VerifiedFeedDelta,
  VerifiedFeedEnvelope,
} from './feed.types.ts';
import { MAX_JWS_LENGTH, signJws, verifyJws } from './jws.ts';
import type { JwsErrorCodes } from './jws.ts';
import { jwkThumbprint } from './keys.ts';
import type { Ed25519KeyPair, KeySet } from './keys.ts';
import { verifyLabel } from './label.ts';
import type { LabelClaims } from './label.ts';
import { isRecord } from './validate.ts';

/**
 * The registry's signed feed and its deltas: building and signing them (registry side), verifying and applying
 * them (peer side). The formats are in feed.types.ts, their validation in feed.parse.ts.
 */

const FEED_CODES: JwsErrorCodes = {
  malformed: 'feed_malformed',
  unknownKey: 'feed_unknown_key',
  keyOutsideValidity: 'feed_key_outside_validity',
  badSignature: 'feed_bad_signature',
};

// ---------------------------------------------------------------------------------------------------------------
// Building and signing (registry side)

/** A feed from its parts: instances sorted by domain and validated, so that what is signed is what peers accept. */
export function buildFeed(
  input: Omit<Feed, 'version' | 'instances'> & { readonly instances: Iterable<FeedInstance> },
): Feed {
  const feed: Feed = { ...input, version: FEED_VERSION, instances: [...input.instances].sort(byDomain) };
  const checked = parseFeed(feed);
  if (!checked.ok) throw checked.error;
  return checked.value;
}

export async function signFeed(feed: Feed, keyPair: Ed25519KeyPair): Promise<Uint8Array> {
  const checked = parseFeed(feed);
  if (!checked.ok) throw checked.error;
  const { instances, ...head } = checked.value;
  return sealEnvelope(head, canonicalJsonBytes(checked.value), keyPair, FEED_JWS_TYPE);
}

/**
 * The delta that turns `previous` into `next`: entries whose canonical form changed, and domains that left.
 * Its size follows the changes, not the number of members.
 */
export function diffFeeds(previous: Feed, next: Feed): FeedDelta {
  if (previous.registry !== next.registry) throw new RangeError('A delta links two feeds of the same registry.');
  if (next.serial <= previous.serial) throw new RangeError('A delta goes from a lower serial to a higher one.');
  const before = new Map(previous.instances.map((entry) => [entry.domain, canonicalJson(entry)]));
  const changed = next.instances.filter((entry) => before.get(entry.domain) !== canonicalJson(entry));
  const remaining = new Set(next.instances.map((entry) => entry.domain));
  const removed = previous.instances.map((entry) => entry.domain).filter((domain) => !remaining.has(domain));
  return {
    version: FEED_VERSION,
    registry: next.registry,
    fromSerial: previous.serial,
    serial: next.serial,
    issuedAt: next.issuedAt,
    checkpoint: next.checkpoint,
    changed,
    removed,
    resultSha256: feedDigest(next),
  };
}

export async function signFeedDelta(delta: FeedDelta, keyPair: Ed25519KeyPair): Promise<Uint8Array> {
  const checked = parseFeedDelta(delta);
  if (!checked.ok) throw checked.error;
  const { changed, removed, ...head } = checked.value;
  return sealEnvelope(head, canonicalJsonBytes(checked.value), keyPair, FEED_DELTA_JWS_TYPE);
}

/** Base64 SHA-256 of a feed's canonical JSON: its `bodySha256` once signed, a delta's `resultSha256`. */
export function feedDigest(feed: Feed): string {
  return encodeBase64(sha256(canonicalJsonBytes(feed)));
}

async function sealEnvelope(head: object, body: Uint8Array, keyPair: Ed25519KeyPair, typ: string): Promise<Uint8Array> {
  const jws = utf8Encode(await signJws({ ...head, bodySha256: encodeBase64(sha256(body)) }, keyPair, typ));
  const envelope = new Uint8Array(jws.byteLength + 1 + body.byteLength);
  envelope.set(jws, 0);
  envelope[jws.byteLength] = LF;
  envelope.set(body, jws.byteLength + 1);
  return envelope;
}

// ---------------------------------------------------------------------------------------------------------------
// Verifying (peer side)

/**
 * Everything the signature, the serial and the log prove, without parsing the instance list: the envelope is
 * signed by a valid registry key, the body is the one signed, the serial is not stale, the checkpoint is signed
 * and extends the last one seen. This is the P4 hot path.
 */
export async function verifyFeedEnvelope(
  bytes: Uint8Array | string,
  options: FeedVerifyOptions,
): Promise<Result<VerifiedFeedEnvelope>> {
  const opened = await openEnvelope(bytes, FEED_JWS_TYPE, options);
  if (!opened.ok) return opened;
  const head = parseFeedHead(opened.value.payload);
  if (!head.ok) return head;
  const accepted = await acceptSerialAndLog(head.value, options);
  if (!accepted.ok) return accepted;
  return ok({ head: head.value, body: opened.value.body, checkpoint: accepted.value, kid: opened.value.kid });
}

/**
 * `verifyFeedEnvelope`, then the body parsed and validated against the signed head. With `verifyLabels`, also the
 * label of every `labelled` entry: valid when the feed was issued, for that domain, by this registry, and matching
 * the entry (id, expiry, keys, certificate, PI); otherwise `feed_invalid_label`.
 */
export async function verifyFeed(
  bytes: Uint8Array | string,
  options: FeedVerifyOptions & { readonly verifyLabels?: boolean },
): Promise<Result<VerifiedFeed>> {
  const envelope = await verifyFeedEnvelope(bytes, options);
  if (!envelope.ok) return envelope;
  const { head, body, checkpoint, kid } = envelope.value;
  const feed = parseJsonBody(body, parseFeed);
  if (!feed.ok) return feed;
  const mismatch = headMismatch(head, feed.value);
  if (mismatch !== undefined) return fail('feed_malformed', `The body's ${mismatch} differs from the signed head.`);
  if (options.verifyLabels) {
    const labels = await verifyFeedLabels(feed.value, options.keySet);
    if (!labels.ok) return labels;
  }
  return ok({ feed: feed.value, checkpoint, kid });
}

export async function verifyFeedDelta(
  bytes: Uint8Array | string,
  options: FeedVerifyOptions,
): Promise<Result<VerifiedFeedDelta>> {
  const opened = await openEnvelope(bytes, FEED_DELTA_JWS_TYPE, options);
  if (!opened.ok) return opened;
  const head = parseFeedDeltaHead(opened.value.payload);
  if (!head.ok) return head;
  const accepted = await acceptSerialAndLog(head.value, options);
  if (!accepted.ok) return accepted;
  const delta = parseJsonBody(opened.value.body, parseFeedDelta);
  if (!delta.ok) return delta;
  const mismatch = headMismatch(head.value, delta.value);
  if (mismatch !== undefined) return fail('feed_malformed', `The body's ${mismatch} differs from the signed head.`);
  return ok({ delta: delta.value, checkpoint: accepted.value, kid: opened.value.kid });
}

/**
 * The feed at `delta.serial`, from the feed at `delta.fromSerial`. With `checkResultDigest`, the result is also
 * compared with the digest the registry signed (`feed_delta_result_mismatch`); that costs a canonicalisation of
 * the whole feed, so a peer may do it now and then rather than on every delta.
 */
export function applyDelta(
  previous: Feed,
  delta: FeedDelta,
  options: { checkResultDigest?: boolean } = {},
): Result<Feed> {
  if (delta.registry !== previous.registry) {
    return fail(
      'feed_delta_base_mismatch',
      `The delta is from "${delta.registry}", the feed from "${previous.registry}".`,
    );
  }
  if (delta.fromSerial !== previous.serial) {
    return fail(
      'feed_delta_base_mismatch',
      `The delta starts at serial ${delta.fromSerial}, the feed is at ${previous.serial}.`,
    );
  }
  const entries = new Map(previous.instances.map((entry) => [entry.domain, entry]));
  for (const domain of delta.removed) {
    if (!entries.delete(domain)) {
      return fail('feed_delta_base_mismatch', `The delta removes "${domain}", which the feed does not hold.`);
    }
  }
  for (const entry of delta.changed) entries.set(entry.domain, entry);
  const next: Feed = {
    version: FEED_VERSION,
    serial: delta.serial,
    issuedAt: delta.issuedAt,
    registry: delta.registry,
    checkpoint: delta.checkpoint,
    instances: [...entries.values()].sort(byDomain),
  };
  if (options.checkResultDigest && feedDigest(next) !== delta.resultSha256) {
    return fail('feed_delta_result_mismatch');
  }
  return ok(next);
}

const LF = 0x0a;

interface OpenedEnvelope {
  readonly payload: unknown;
  readonly body: Uint8Array;
  readonly kid: string;
}

/** Splits the envelope, verifies the JWS and checks that the body is the one whose digest it signs. */
async function openEnvelope(
  bytes: Uint8Array | string,
  typ: string,
  options: FeedVerifyOptions,
): Promise<Result<OpenedEnvelope>> {
  const data = typeof bytes === 'string' ? utf8Encode(bytes) : bytes;
  const newline = data.subarray(0, MAX_JWS_LENGTH + 1).indexOf(LF);
  if (newline < 0) return fail('feed_malformed', 'No signature line: a signed feed is "<JWS>\\n<body>".');
  const jws = utf8Decode(data.subarray(0, newline));
  const verified = await verifyJws(jws, { keySet: options.keySet, now: options.now, typ, codes: FEED_CODES });
  if (!verified.ok) return verified;
  const body = data.subarray(newline + 1);
  const payload = verified.value.payload;
  const signedDigest =
    isRecord(payload) && typeof payload['bodySha256'] === 'string' ? payload['bodySha256'] : undefined;
  if (signedDigest === undefined) return fail('feed_malformed', 'The signed head has no bodySha256.');
  if (encodeBase64(sha256(body)) !== signedDigest) {
    return fail('feed_bad_signature', 'The body is not the one the signature covers (its SHA-256 differs).');
  }
  return ok({ payload, body, kid: verified.value.kid });
}

/** Refuses a stale serial, then verifies the head's checkpoint and links it to the last checkpoint seen. */
async function acceptSerialAndLog(
  head: { readonly serial: number; readonly checkpoint: string },
  options: FeedVerifyOptions,
): Promise<Result<VerifiedCheckpoint>> {
  if (options.lastSerial !== undefined && head.serial < options.lastSerial) {
    return fail('feed_stale_serial', `Serial ${head.serial} is older than ${options.lastSerial}, already accepted.`);
  }
  const checkpoint = await verifyCheckpoint(head.checkpoint, { keySet: options.keySet, now: options.now });
  if (!checkpoint.ok || options.lastCheckpoint === undefined) return checkpoint;

  const last = options.lastCheckpoint;
  const next = checkpoint.value.checkpoint;
  if (next.treeSize > last.treeSize && options.consistencyProof === undefined) {
    return fail(
      'feed_consistency_proof_required',
      `The log grew from ${last.treeSize} to ${next.treeSize} entries; a consistency proof must link them.`,
    );
  }
  const linked = verifyConsistentWith(last, next, options.consistencyProof ?? []);
  if (!linked.ok) {
    const forked = linked.error.code === 'checkpoint_inconsistent' || linked.error.code === 'checkpoint_wrong_origin';
    return forked ? fail('feed_inconsistent_log', linked.error.message, linked.error) : linked;
  }
  return checkpoint;
}

async function verifyFeedLabels(feed: Feed, keySet: KeySet): Promise<Result<Feed>> {
  for (const entry of feed.instances) {
    const checked = await verifyEntryLabel(entry, { keySet, registry: feed.registry, issuedAt: feed.issuedAt });
    if (!checked.ok) return checked;
  }
  return ok(feed);
}

/**
 * A `labelled` entry's label verifies against the pinned keys (issued by `registry` for the entry's domain, valid at
 * `issuedAt`) and says what the entry says: label id and expiry, certificate, both instance keys, instance PI. The one
 * check for an entry, whether it comes in a full feed or a delta (a key swapped in a delta is caught as in a feed).
 * Other statuses carry no label: accepted as they are.
 */
export async function verifyEntryLabel(
  entry: FeedInstance,
  options: { readonly keySet: KeySet; readonly registry: string; readonly issuedAt: number },
): Promise<Result<FeedInstance>> {
  if (entry.status !== 'labelled') return ok(entry);
  const label = await verifyLabel(entry.label, {
    keySet: options.keySet,
    expectedDomain: entry.domain,
    expectedIssuer: options.registry,
    now: options.issuedAt,
  });
  if (!label.ok) {
    return fail(
      'feed_invalid_label',
      `The label of ${entry.domain} does not verify: ${label.error.message}`,
      label.error,
    );
  }
  const mismatch = labelMismatch(entry, label.value);
  if (mismatch !== undefined) {
    return fail('feed_invalid_label', `The label of ${entry.domain} does not match its entry: ${mismatch}.`);
  }
  return ok(entry);
}

function labelMismatch(entry: FeedInstance, label: LabelClaims): string | undefined {
  if (label.id !== entry.labelId) return 'labelId';
  if (label.expiresAt !== entry.labelExpiresAt) return 'labelExpiresAt';
  if (label.certFingerprint !== entry.certFingerprint) return 'certFingerprint';
  if (label.instanceKeys.signing !== jwkThumbprint(entry.keys.signing)) return 'signing key';
  if (label.instanceKeys.encryption !== jwkThumbprint(entry.keys.encryption)) return 'encryption key';
  const { score, level, modelVersion } = entry.pi;
  if (label.pi.score !== score || label.pi.level !== level || label.pi.modelVersion !== modelVersion) return 'pi';
  return undefined;
}
