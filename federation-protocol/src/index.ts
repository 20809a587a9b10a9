/**
 * @caliopen/federation-protocol — the wire contract shared by the registry and the instances.
 * Pure: no I/O and no clock; time comes in as `now` (NumericDate seconds). The one hidden input is randomness, for
 * a label id the caller does not give.
 */
export { ERROR_CODES, ProtocolError, fail, isProtocolError, ok, unwrap } from './errors.ts';
export type { ErrorCode, Failure, Result } from './errors.ts';

export {
  bytesEqual,
  decodeBase64,
  decodeBase64Url,
  decodeHex,
  encodeBase64,
  encodeBase64Url,
  encodeHex,
  utf8Decode,
  utf8Encode,
} from './encoding.ts';

export { canonicalJson, canonicalJsonBytes, canonicalSha256, sha256 } from './canonical-json.ts';
export type { JsonValue } from './canonical-json.ts';

export { isDomain, normalizeDomain } from './domain.ts';

export {
  PI_LEVELS,
  PI_MAX_SCORE,
  PI_MIN_SCORE,
  isPiScore,
  levelForScore,
  parsePiSummary,
  parsePrivacyIndex,
  summarizePi,
} from './pi.types.ts';
export type { PiFactor, PiLevel, PiSuggestion, PiSummary, PrivacyIndex } from './pi.types.ts';

export {
  HASH_SIZE,
  MerkleTree,
  decodeProof,
  emptyRootHash,
  encodeProof,
  leafHash,
  nodeHash,
  verifyConsistency,
  verifyInclusion,
} from './merkle.ts';
export type { Hash, Proof } from './merkle.ts';

export {
  KeySet,
  ed25519KeyPairFromSeed,
  generateEd25519KeyPair,
  jwkThumbprint,
  keySetEntry,
  parseKeySet,
  parseOkpPublicJwk,
  privateCryptoKey,
  rotateKeySet,
  signingEntryAt,
  x25519PublicJwkFromPrivate,
} from './keys.ts';
export type {
  Ed25519KeyPair,
  Ed25519PrivateJwk,
  Ed25519PublicJwk,
  KeyLookup,
  KeySetDocument,
  KeySetEntry,
  OkpPublicJwk,
  X25519PublicJwk,
} from './keys.ts';

export { MAX_JWS_LENGTH, signJws, verifyJws } from './jws.ts';
export type { JwsErrorCodes, VerifiedJws } from './jws.ts';

export {
  CHECKPOINT_JWS_TYPE,
  checkpointOf,
  parseCheckpoint,
  signCheckpoint,
  verifyCheckpoint,
  verifyConsistentWith,
} from './checkpoint.ts';
export type { Checkpoint, VerifiedCheckpoint } from './checkpoint.ts';

export {
  DEFAULT_LABEL_LIFETIME_SECONDS,
  LABEL_JWS_TYPE,
  MAX_LABEL_LIFETIME_SECONDS,
  issueLabel,
  verifyLabel,
} from './label.ts';
export type { IssueLabelInput, LabelClaims, VerifyLabelOptions } from './label.ts';

export { FEED_DELTA_JWS_TYPE, FEED_JWS_TYPE, FEED_VERSION, INSTANCE_STATUSES } from './feed.types.ts';
export type {
  Feed,
  FeedDelta,
  FeedDeltaHead,
  FeedEndpoints,
  FeedHead,
  FeedInstance,
  FeedVerifyOptions,
  InstanceStatus,
  VerifiedFeed,
  VerifiedFeedDelta,
  VerifiedFeedEnvelope,
} from './feed.types.ts';
export { parseFeed, parseFeedDelta } from './feed.parse.ts';
export {
  applyDelta,
  buildFeed,
  diffFeeds,
  feedDigest,
  signFeed,
  signFeedDelta,
  verifyFeed,
  verifyFeedDelta,
  verifyFeedEnvelope,
} from './feed.ts';
export * from './descriptor.ts';
