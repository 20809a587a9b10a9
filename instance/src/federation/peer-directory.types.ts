import type {
  Checkpoint,
  Ed25519PublicJwk,
  Feed,
  FeedEndpoints,
  FeedInstance,
  KeySet,
  PrivacyIndex,
  X25519PublicJwk,
} from '@caliopen/federation-protocol';
import type { Logger } from 'pino';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import type { EventPublisher } from '../shared/event-bus.ts';
import type { FederationEvents } from './federation.events.ts';

/** The shapes of the peer directory (peer-directory.ts), shared by its parts. */

export const FEED_FORK_DETECTED = 'feed_fork_detected';
/** The newest verified feed is older than MAX_FEED_AGE_SECONDS: no peer is trusted from it (docs/adr/0017). */
export const FEED_STALE = 'feed_stale';
/** The feed's entry for this instance lists keys or a certificate that are not its own (SPEC.md §3). */
export const FEED_OWN_ENTRY_MISMATCH = 'feed_own_entry_mismatch';

/** What this instance holds, which the feed's entry for it must list (SPEC.md §3). */
export interface OwnKeys {
  /** `x` of the Ed25519 signing public JWK. */
  readonly signingX: string;
  /** `x` of the X25519 encryption public JWK. */
  readonly encryptionX: string;
  /** SHA-256 of the instance TLS certificate (DER), hex. */
  readonly certFingerprint: string;
}

export interface PeerInfo {
  readonly domain: string;
  readonly status: FeedInstance['status'];
  /** Status `labelled` and the label unexpired now. */
  readonly labelValid: boolean;
  readonly labelId: string;
  /** NumericDate (seconds). */
  readonly labelExpiresAt: number;
  /** The instance PI score the registry published. */
  readonly instancePi: number;
  readonly pi: PrivacyIndex;
  /** SHA-256 of the peer's TLS certificate (DER), lowercase hex. */
  readonly certificateSha256: string;
  readonly keys: { readonly signing: Ed25519PublicJwk; readonly encryption: X25519PublicJwk };
  /**
   * The signing keys accepted from this peer now: `keys.signing`, then previous keys still in their rotation overlap
   * (SPEC.md §3, "Instance key rotation"). Verify what the peer signs against these, never against a key alone.
   */
  readonly signingKeys: readonly Ed25519PublicJwk[];
  readonly endpoints: FeedEndpoints;
}

export interface ForkIncident {
  readonly code: typeof FEED_FORK_DETECTED;
  /** ISO time of detection. */
  readonly at: string;
  readonly message: string;
  readonly accepted: Checkpoint;
  readonly offered: Checkpoint;
}

export interface PeerDirectoryStatus {
  readonly enabled: true;
  readonly registryUrl: string;
  /** ISO time of the last sync that reached the registry and ended well (a feed accepted or nothing new). */
  readonly lastSyncAt: string | null;
  readonly lastAttemptAt: string | null;
  readonly serial: number | null;
  /** NumericDate (seconds) the newest verified feed was signed: its freshness (SPEC.md, "Freshness"). */
  readonly feedIssuedAt: number | null;
  /** The newest verified feed is older than MAX_FEED_AGE_SECONDS: no peer is trusted from it any more. */
  readonly stale: boolean;
  readonly checkpointSize: number | null;
  /** How many registry key rotations were followed from the pinned set, and the kids trusted now. */
  readonly registryKeys: { readonly sequence: number; readonly kids: readonly string[] };
  readonly instances: number;
  readonly lastError: { readonly code: string; readonly message: string; readonly at: string } | null;
  /** The last forked log detected (kept until the operator looks into it; a restart does not clear it). */
  readonly fork: ForkIncident | null;
  /**
   * Why the registry revoked this instance, as its public record says (`GET /v1/instances/:domain`; words for users,
   * not part of the signed feed, which alone decides the standing). Null unless revoked and the record was read.
   */
  readonly ownRevocation: { readonly reason: string | null; readonly at: string | null } | null;
  /** The feed's entry for this instance lists other keys or another certificate than its own (which fields). */
  readonly ownEntryMismatch: {
    readonly code: typeof FEED_OWN_ENTRY_MISMATCH;
    readonly at: string;
    readonly fields: readonly string[];
  } | null;
}

export type SyncOutcome = 'full' | 'delta' | 'unchanged' | 'refused' | 'failed';

export interface PeerDirectoryOptions {
  /** Base URL of the registry API (its `/v1/index`, `/v1/log/...` routes). */
  registryUrl: string;
  /** The pinned registry key set: everything must be signed by one of its keys. */
  keySet: KeySet;
  dataDir: string;
  /** This instance's domain: `standing()` reads its entry. */
  ownDomain: string;
  clock: Clock;
  syncSeconds: number;
  logger?: Logger;
  /** Per request (default 30 s). */
  timeoutMs?: number;
  /**
   * Told `standing.changed` when this instance's own standing changes: a feed accepted whose entry for `ownDomain`
   * differs, or the label lapsing with time (checked at every sync tick).
   */
  events?: EventPublisher<FederationEvents>;
}

/**
 * This instance's own entry in the feed, in words a user can be told: `not_synced` (no feed yet), `absent` (the feed
 * does not list it), `labelled`, `expired` (listed, label past its expiry), `suspended`, `revoked`.
 */
export interface OwnStanding {
  readonly status: 'not_synced' | 'absent' | FeedInstance['status'] | 'expired';
  readonly labelValid: boolean;
  readonly instancePi: number | null;
  /** NumericDate (seconds), null when not listed. */
  readonly labelExpiresAt: number | null;
  /** The feed serial that says so (null before the first feed). */
  readonly serial: number | null;
}

/** What is kept on disk (peer-directory.store.ts). */
export interface StoredState {
  version: 1;
  registryUrl: string;
  feed: Feed;
  /** The checkpoint JWS of the accepted feed (also `feed.checkpoint`). */
  checkpoint: string;
  etag: string | null;
  lastSyncAt: string | null;
  fork: ForkIncident | null;
  /** Registry key rotation statements followed from the pinned set (verified again at every start). */
  keyStatements?: string[];
}

/** Why a sync failed or was refused (a stable code, and words). */
export class SyncError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Where the directory keeps its state, under the data directory. */
export const STATE_FILE = 'peer-directory.json';
