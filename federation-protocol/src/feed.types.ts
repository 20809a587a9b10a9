import type { Checkpoint, VerifiedCheckpoint } from './checkpoint.ts';
import type { Ed25519PublicJwk, KeySet, X25519PublicJwk } from './keys.ts';
import type { Proof } from './merkle.ts';
import type { PrivacyIndex } from './pi.types.ts';

/**
 * The registry's signed feed: every instance it vouches for, in one document peers verify offline and then use
 * without ever asking the registry about a peer (a per-peer query would tell it who talks to whom).
 *
 * Wire form, a "signed envelope" (media type `application/vnd.caliopen.feed`):
 *
 *     <compact JWS> LF <canonical JSON body>
 *
 * The body is the RFC 8785 canonical JSON of the document; the JWS payload is its *head*: the document without
 * its lists, plus `bodySha256`, the SHA-256 of the body bytes. Verifying therefore costs one SHA-256 over the bytes
 * as they arrived and two small Ed25519 verifications (the head and its checkpoint): no canonicalisation, no
 * parsing of 10,000 entries, no label verification unless asked. Deltas use the same envelope with their own `typ`.
 */

export const FEED_VERSION = 1;
export const FEED_JWS_TYPE = 'caliopen-feed+jws';
export const FEED_DELTA_JWS_TYPE = 'caliopen-feed-delta+jws';

/**
 * Freshness (SPEC.md, "Freshness"; docs/adr/0017). The registry publishes a new serial at least every
 * FEED_HEARTBEAT_SECONDS, even with nothing changed, so its signed `issuedAt` is a timestamp peers can rely on.
 * A peer whose newest verified feed is older than MAX_FEED_AGE_SECONDS trusts no peer from it any more: a withheld
 * feed (a registry or a man in the middle answering 304 or replaying an old feed) stops working after that long,
 * and a registry outage is survived for that long minus one heartbeat.
 */
export const FEED_HEARTBEAT_SECONDS = 3600;
export const MAX_FEED_AGE_SECONDS = 72 * 3600;

/** How long an instance's previous signing key stays accepted after the registry lists a new one. */
export const INSTANCE_KEY_OVERLAP_SECONDS = 72 * 3600;
export const MAX_PREVIOUS_SIGNING_KEYS = 4;

/** An instance signing key being retired: accepted until `notAfter` (NumericDate, exclusive). */
export interface RetiringKey {
  readonly jwk: Ed25519PublicJwk;
  readonly notAfter: number;
}

export const INSTANCE_STATUSES = ['labelled', 'suspended', 'revoked'] as const;
export type InstanceStatus = (typeof INSTANCE_STATUSES)[number];

/** Named endpoints, https URLs (http only on loopback, for local federations); `federation` is required. */
export interface FeedEndpoints {
  readonly federation: string;
  readonly [name: string]: string;
}

export interface FeedInstance {
  readonly domain: string;
  readonly endpoints: FeedEndpoints;
  readonly keys: {
    readonly signing: Ed25519PublicJwk;
    readonly encryption: X25519PublicJwk;
    /**
     * Signing keys the instance used before `signing`, each still accepted until its `notAfter` (a rotation's
     * overlap, SPEC.md §3 "Instance key rotation"); absent when none. At most MAX_PREVIOUS_SIGNING_KEYS.
     */
    readonly previousSigning?: readonly RetiringKey[];
  };
  /** SHA-256 of the instance TLS certificate (DER), lowercase hex. */
  readonly certFingerprint: string;
  readonly labelId: string;
  readonly labelExpiresAt: number;
  /** The label JWS itself, so a peer can check it, or show it to a third party, without asking the registry. */
  readonly label: string;
  readonly pi: PrivacyIndex;
  readonly status: InstanceStatus;
  /** Shown in the public directory; false for members that must not be listed publicly (gated listing). */
  readonly listed: boolean;
  /**
   * Index, in the registry's transparency log, of the leaf that binds this entry (`entryLogLeaf`: domain, status,
   * label id, key thumbprints, certificate and the digest of the whole entry). A peer checks the leaf is included in
   * the tree of the feed's checkpoint before it relies on the entry (SPEC.md, "Entries bound to the log").
   */
  readonly logIndex: number;
}

export interface Feed {
  readonly version: typeof FEED_VERSION;
  /** Increases with every published feed; a peer refuses one lower than the last it accepted. */
  readonly serial: number;
  readonly issuedAt: number;
  /** The registry's name, the `iss` of its labels. */
  readonly registry: string;
  /** The signed checkpoint of the registry's transparency log at publication. */
  readonly checkpoint: string;
  /** Sorted by domain, one entry per domain. */
  readonly instances: readonly FeedInstance[];
}

/** What changed between the feed at `fromSerial` and the feed at `serial`. */
export interface FeedDelta {
  readonly version: typeof FEED_VERSION;
  readonly registry: string;
  readonly fromSerial: number;
  readonly serial: number;
  readonly issuedAt: number;
  readonly checkpoint: string;
  /** New or changed entries, sorted by domain. */
  readonly changed: readonly FeedInstance[];
  /** Domains no longer in the feed, sorted. */
  readonly removed: readonly string[];
  /** Base64 SHA-256 of the canonical full feed at `serial`: what a peer holds once the delta is applied. */
  readonly resultSha256: string;
}

/** The signed head of a feed envelope. */
export type FeedHead = Omit<Feed, 'instances'> & { readonly bodySha256: string };
/** The signed head of a delta envelope. */
export type FeedDeltaHead = Omit<FeedDelta, 'changed' | 'removed'> & { readonly bodySha256: string };

export interface FeedVerifyOptions {
  readonly keySet: KeySet;
  /** NumericDate (seconds) of the verification. */
  readonly now: number;
  /** The serial of the last feed accepted: an older one is refused (`feed_stale_serial`). */
  readonly lastSerial?: number;
  /** The last checkpoint accepted: the feed's checkpoint must extend it (`feed_inconsistent_log`). */
  readonly lastCheckpoint?: Checkpoint;
  /** RFC 9162 consistency proof from `lastCheckpoint` to the feed's checkpoint, from the registry's log API. */
  readonly consistencyProof?: Proof;
}

export interface VerifiedFeedEnvelope {
  readonly head: FeedHead;
  /** The canonical JSON body, as received, not parsed. */
  readonly body: Uint8Array;
  readonly checkpoint: VerifiedCheckpoint;
  readonly kid: string;
}

export interface VerifiedFeed {
  readonly feed: Feed;
  readonly checkpoint: VerifiedCheckpoint;
  readonly kid: string;
}

export interface VerifiedFeedDelta {
  readonly delta: FeedDelta;
  readonly checkpoint: VerifiedCheckpoint;
  readonly kid: string;
}
