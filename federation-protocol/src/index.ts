/**
 * @caliopen/federation-protocol — the wire contract shared by the registry and the instances.
 * Pure: no I/O and no clock; time comes in as `now` (NumericDate seconds). The one hidden input is randomness, for
 * a label id the caller does not give, and for prekeys and envelopes (injectable there, for test vectors).
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

export {
  FEED_DELTA_JWS_TYPE,
  FEED_HEARTBEAT_SECONDS,
  FEED_JWS_TYPE,
  FEED_VERSION,
  INSTANCE_KEY_OVERLAP_SECONDS,
  INSTANCE_STATUSES,
  MAX_FEED_AGE_SECONDS,
  MAX_PREVIOUS_SIGNING_KEYS,
} from './feed.types.ts';
export {
  KEY_SET_STATEMENT_JWS_TYPE,
  MAX_KEY_SET_CHAIN,
  followKeySetChain,
  signKeySetStatement,
} from './key-set-statement.ts';
export type { FollowedKeySet, KeySetStatement } from './key-set-statement.ts';
export {
  ENTRY_BINDING_TYPE,
  entryBinding,
  entryLeafHash,
  entryLogLeaf,
  isFeedFresh,
  signingKeysAt,
  verifyEntryInLog,
} from './entry-binding.ts';
export type { EntryBinding } from './entry-binding.ts';
export type {
  Feed,
  FeedDelta,
  FeedDeltaHead,
  FeedEndpoints,
  FeedHead,
  FeedInstance,
  FeedVerifyOptions,
  InstanceStatus,
  RetiringKey,
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
  verifyEntryLabel,
  verifyFeed,
  verifyFeedDelta,
  verifyFeedEnvelope,
} from './feed.ts';
export * from './descriptor.ts';

// caliopen-federation/1: what instances say to each other (SPEC.md).
export { FEDERATION_HTTP_ERRORS } from './errors.ts';
export type { FederationHttpErrorCode, SenderAction } from './errors.ts';
export { FEDERATION_PATHS, FEDERATION_PROTOCOL_VERSION } from './protocol.ts';
export { MAX_LOCAL_PART_LENGTH, isLocalPart } from './address.ts';

export {
  DEFAULT_PREKEY_GRACE_SECONDS,
  DEFAULT_PREKEY_MIN_REMAINING_SECONDS,
  DEFAULT_PREKEY_OVERLAP_SECONDS,
  DEFAULT_PREKEY_WINDOW_SECONDS,
  MAX_PREKEY_WINDOW_SECONDS,
  MAX_PUBLISHED_PREKEYS,
  PREKEYS_PATH,
  PREKEY_JWS_TYPE,
  choosePrekey,
  defaultRandomBytes,
  generatePrekey,
  isExpired,
  parsePrekeyClaims,
  planPrekeyRotation,
  signPrekey,
  verifyPrekey,
  verifyPrekeyList,
} from './prekeys.ts';
export type {
  Prekey,
  PrekeyPrivate,
  PrekeyRotationPlan,
  PrekeyRotationPolicy,
  RandomBytes,
  VerifyPrekeyOptions,
  X25519PrivateJwk,
} from './prekeys.ts';

export {
  DEFAULT_ENVELOPE_LIFETIME_SECONDS,
  ENVELOPE_JWE_TYPE,
  ENVELOPE_JWS_TYPE,
  ENVELOPE_MEDIA_TYPE,
  ENVELOPE_VERSION,
  INBOX_PATH,
  MAX_BUCKET_BYTES,
  MAX_ENVELOPE_BYTES,
  MAX_ENVELOPE_LIFETIME_SECONDS,
  MIN_BUCKET_BYTES,
  bucketFor,
  newEnvelopeId,
  openEnvelope,
  sealEnvelope,
} from './envelope.ts';
export type {
  EnvelopeContent,
  EnvelopeFrom,
  EnvelopeTo,
  OpenEnvelopeOptions,
  OpenedEnvelope,
  SealEnvelopeInput,
  SealEnvelopeOptions,
  SealedEnvelope,
  SealedEnvelopeResult,
} from './envelope.ts';

export {
  DEFAULT_REQUEST_SIGNATURE_LIFETIME_SECONDS,
  MAX_REQUEST_SIGNATURE_LIFETIME_SECONDS,
  REQUEST_JWS_TYPE,
  REQUEST_SIGNATURE_HEADER,
  checkRequestDigest,
  contentSha256,
  signRequest,
  verifyRequest,
  verifyRequestHeader,
} from './request-signature.ts';
export type {
  ReceivedRequest,
  RequestSignatureClaims,
  SignRequestInput,
  VerifiedRequest,
  VerifyRequestOptions,
} from './request-signature.ts';

export { MemoryReplayStore, checkReplay, replayKey } from './replay.ts';
export type { ReplayCheckInput, ReplayStore, ReplayVerdict } from './replay.ts';

export { RECEIPT_JWS_TYPE, RECEIPT_STATUSES, signReceipt, verifyReceipt } from './receipt.ts';
export type { Receipt, ReceiptStatus, VerifyReceiptOptions } from './receipt.ts';

export {
  DEFAULT_KEY_DIRECTORY_LIFETIME_SECONDS,
  KEY_DIRECTORY_JWS_TYPE,
  KEY_DIRECTORY_PATH_PREFIX,
  MAX_KEY_DIRECTORY_LIFETIME_SECONDS,
  MAX_OPENPGP_KEY_BYTES,
  keyDirectoryPath,
  signKeyDirectoryEntry,
  verifyKeyDirectoryEntry,
} from './key-directory.ts';
export type { KeyDirectoryEntry, SignKeyDirectoryInput, VerifyKeyDirectoryOptions } from './key-directory.ts';

export { RECIPIENT_CHECK_PATH_PREFIX, recipientCheckPath, recipientCheckVerdict } from './recipient-check.ts';
export type { RecipientCheckVerdict } from './recipient-check.ts';

export {
  DEFAULT_TRUST_LIFETIME_SECONDS,
  MAX_TRUST_LIFETIME_SECONDS,
  TRUST_JWS_TYPE,
  TRUST_PATH_PREFIX,
  signTrustStatement,
  trustPath,
  verifyTrustStatement,
} from './trust.ts';
export type { SignTrustInput, TrustStatement, VerifyTrustOptions } from './trust.ts';
