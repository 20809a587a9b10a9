/**
 * Every error code this library reports, in one place, with what it means.
 *
 * Codes are part of the wire contract: peers log them, the registry and instances put them in
 * `application/problem+json` responses, and the R4 reliability target ("forged, expired, revoked labels, forked
 * registry log: 100 % rejected with a stable error code") is measured against them. Add codes; never rename or
 * reuse one.
 */
export const ERROR_CODES = {
  json_unsupported_value:
    'The value is outside the JSON data model of RFC 8785 (undefined, a function, a symbol, a BigInt, NaN, ' +
    'an infinity, a lone surrogate, a cycle or a non-plain object).',

  pi_malformed: 'The Privacy Index does not follow the wire format (score, level, factors, suggestions, modelVersion).',

  key_set_malformed:
    'The registry key set document is malformed (bad JWK, kid that is not its thumbprint, bad window).',
  key_set_statement_malformed:
    'A registry key rotation statement is not a well-formed compact JWS with the expected header and claims.',
  key_set_statement_unknown_key:
    'A registry key rotation statement is signed by a key that is not in the set it chains from.',
  key_set_statement_key_outside_validity:
    'A registry key rotation statement is signed by a key outside its validity window when it was issued.',
  key_set_statement_bad_signature: 'A registry key rotation statement signature does not verify.',
  key_set_chain_broken:
    'The registry key rotation statements do not chain (a gap in the sequence, another registry, a statement from ' +
    'the future, or too many).',

  label_malformed: 'The label is not a well-formed compact JWS with the expected header and claims.',
  label_unknown_key: 'The label is signed by a key that is not in the pinned registry key set.',
  label_key_outside_validity: 'The label is signed by a registry key outside its validity window.',
  label_bad_signature: 'The label signature does not verify.',
  label_wrong_issuer: 'The label was issued by another registry than the expected one.',
  label_wrong_domain: 'The label was issued for another domain than the one presenting it.',
  label_revoked: 'The label has been revoked by the registry.',
  label_not_yet_valid: 'The label is not valid yet (issued in the future).',
  label_expired: 'The label has expired.',

  checkpoint_malformed: 'The checkpoint is not a well-formed compact JWS with the expected header and claims.',
  checkpoint_unknown_key: 'The checkpoint is signed by a key that is not in the pinned registry key set.',
  checkpoint_key_outside_validity: 'The checkpoint is signed by a registry key outside its validity window.',
  checkpoint_bad_signature: 'The checkpoint signature does not verify.',
  checkpoint_wrong_origin: 'The checkpoint belongs to another log than the expected one.',
  checkpoint_inconsistent:
    'The two checkpoints cannot both be views of one append-only log (a fork, a rollback or a bad proof).',

  feed_malformed: 'The feed is not a well-formed signed feed envelope (signature line, newline, canonical JSON body).',
  feed_unknown_key: 'The feed is signed by a key that is not in the pinned registry key set.',
  feed_key_outside_validity: 'The feed is signed by a registry key outside its validity window.',
  feed_bad_signature: 'The feed signature does not verify, or the body is not the one the signature covers.',
  feed_stale_serial: 'The feed is older than one already accepted (its serial is lower).',
  feed_inconsistent_log: 'The feed checkpoint is inconsistent with the last checkpoint seen: the registry log forked.',
  feed_consistency_proof_required:
    'The feed checkpoint is ahead of the last checkpoint seen, and no consistency proof was given to link them.',
  feed_invalid_label: 'An instance entry carries a label that does not verify or does not match the entry.',
  feed_delta_base_mismatch: 'The delta does not apply to this feed (another registry, serial or instance set).',
  feed_delta_result_mismatch: 'Applying the delta did not produce the feed the registry signed.',
  feed_entry_not_in_log:
    'An instance entry is not bound to the transparency log: no leaf at its logIndex carries its keys, certificate ' +
    'and label (the inclusion proof does not verify against the feed checkpoint).',
  feed_inclusion_proof_unavailable: 'The registry gave no usable inclusion proof for an instance entry.',

  // caliopen-federation/1 (SPEC.md): what instances say to each other.
  prekey_malformed:
    'The prekey is not a well-formed compact JWS with the expected header and claims (or its window is too long).',
  prekey_bad_signature: 'The prekey is not signed by a signing key of its instance, or the signature does not verify.',
  prekey_wrong_domain: 'The prekey belongs to another instance than the one it was fetched from.',
  prekey_not_yet_valid: 'The prekey window has not started yet.',
  prekey_expired: 'The prekey window is over.',

  envelope_malformed: 'The envelope does not follow the wire format (outer layer, JWE, padding, inner JWS or payload).',
  envelope_oversize: 'The envelope is larger than the largest size bucket allows.',
  envelope_wrong_destination: 'The envelope is addressed to another instance.',
  envelope_unknown_prekey:
    'The envelope is encrypted to a prekey this instance does not hold (unknown, past its window, or deleted).',
  envelope_expired: 'The envelope is outside its validity window (expired, or created in the future).',
  envelope_bad_signature: 'The inner payload is not signed by a key the feed lists for the sending instance.',
  envelope_decrypt_failed:
    'The envelope does not decrypt with the prekey it names (tampered, or encrypted to another key).',
  envelope_replayed: 'An envelope with this id from this instance was already accepted within its validity window.',
  replay_store_full: 'The replay store is full: the envelope cannot be checked now; retry later.',

  request_signature_missing: 'The request carries no Caliopen-Signature header.',
  request_signature_malformed:
    'The request signature is not a well-formed compact JWS with the expected header and claims.',
  request_signature_expired:
    'The request signature is outside its validity window (expired, or created in the future).',
  request_signature_bad:
    'The request signature does not verify with a key the feed lists for the signing instance, or covers another ' +
    'method or path.',
  request_signature_wrong_destination: 'The request signature is for another instance than the one receiving it.',
  request_signature_digest_mismatch: 'The request body is not the one the signature covers (content digest mismatch).',

  receipt_malformed: 'The receipt is not a well-formed compact JWS with the expected header and claims.',
  receipt_bad_signature: 'The receipt is not signed by a signing key of the recipient instance, or does not verify.',
  receipt_mismatch: 'The receipt is for another envelope or another recipient than the one expected.',

  key_directory_malformed:
    'The key directory answer is not a well-formed compact JWS with the expected header and claims.',
  key_directory_bad_signature:
    'The key directory answer is not signed by a signing key of the instance, or does not verify.',
  key_directory_mismatch: 'The key directory answer is for another user or instance than the one asked for.',
  key_directory_expired: 'The key directory answer is outside its validity window.',

  trust_malformed: 'The trust answer is not a well-formed compact JWS with the expected header and claims.',
  trust_bad_signature: 'The trust answer is not signed by a signing key of the instance, or does not verify.',
  trust_mismatch: 'The trust answer is for another user or instance than the one asked for.',
  trust_expired: 'The trust answer is outside its validity window.',

  peer_unknown: 'The requesting instance is not in the registry feed this instance holds.',
  peer_not_labelled: 'The requesting instance has no valid label (expired, suspended or revoked).',
  peer_certificate_mismatch: 'The TLS client certificate is not the one the feed pins for the requesting instance.',
  peer_rate_limited: 'The requesting instance sends too much; retry later.',
  recipient_unknown: 'No such recipient on this instance.',
  recipient_not_labelled:
    'This instance holds no valid label now (its own entry in the registry feed): it accepts no federation delivery.',
  key_not_found: 'This instance publishes no key for this user (or there is no such user).',
  trust_not_shared: 'This user does not share their Privacy Index (or there is no such user).',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** What a sending instance does with an error answer of a federation endpoint. */
export type SenderAction =
  /** Permanent: retrying cannot help (a delivery bounces to its sender; a lookup has no answer). */
  | 'fail'
  /** Fetch the recipient's prekeys again, seal a new envelope (same id) and retry now. */
  | 'reseal'
  /** Retry later with backoff (transient, or a clock to fix). */
  | 'retry'
  /** Nothing left to do: the recipient already accepted this envelope (use the receipt in the answer, if any). */
  | 'done';

/**
 * The codes a federation endpoint answers with (RFC 9457 problem+json, member `code`), their HTTP status, and what
 * the sender does about each (SPEC.md, "Error codes"). Codes not listed here are reported by verifiers to their own
 * caller (a sender checking a prekey, a receipt, a key directory or trust answer) and never sent on the wire.
 */
export const FEDERATION_HTTP_ERRORS = {
  request_signature_missing: { status: 401, senderAction: 'fail' },
  request_signature_malformed: { status: 401, senderAction: 'fail' },
  request_signature_expired: { status: 401, senderAction: 'retry' },
  request_signature_bad: { status: 401, senderAction: 'retry' },
  request_signature_wrong_destination: { status: 401, senderAction: 'fail' },
  request_signature_digest_mismatch: { status: 401, senderAction: 'retry' },
  peer_unknown: { status: 403, senderAction: 'retry' },
  peer_not_labelled: { status: 403, senderAction: 'retry' },
  recipient_not_labelled: { status: 403, senderAction: 'retry' },
  peer_certificate_mismatch: { status: 403, senderAction: 'retry' },
  peer_rate_limited: { status: 429, senderAction: 'retry' },
  envelope_malformed: { status: 400, senderAction: 'fail' },
  envelope_oversize: { status: 413, senderAction: 'fail' },
  envelope_wrong_destination: { status: 421, senderAction: 'fail' },
  envelope_unknown_prekey: { status: 422, senderAction: 'reseal' },
  envelope_expired: { status: 400, senderAction: 'reseal' },
  envelope_bad_signature: { status: 403, senderAction: 'retry' },
  envelope_decrypt_failed: { status: 400, senderAction: 'reseal' },
  envelope_replayed: { status: 409, senderAction: 'done' },
  replay_store_full: { status: 503, senderAction: 'retry' },
  recipient_unknown: { status: 404, senderAction: 'fail' },
  key_not_found: { status: 404, senderAction: 'fail' },
  trust_not_shared: { status: 404, senderAction: 'fail' },
} as const satisfies Partial<Record<ErrorCode, { readonly status: number; readonly senderAction: SenderAction }>>;

export type FederationHttpErrorCode = keyof typeof FEDERATION_HTTP_ERRORS;

/** The one error class of the protocol: a stable `code` for machines, a message for people. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string = ERROR_CODES[code], options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * What a verification returns. Verifiers never throw on hostile input: a peer must be able to reject anything
 * with a code, and a caller cannot forget to catch a result it has to unpack.
 */
export type Result<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: ProtocolError };

export type Failure = Extract<Result<never>, { ok: false }>;

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function fail(code: ErrorCode, message?: string, cause?: unknown): Failure {
  const options = cause === undefined ? undefined : { cause };
  return { ok: false, error: new ProtocolError(code, message ?? ERROR_CODES[code], options) };
}

/** The value of a successful result, or its error thrown: for callers whose own input is trusted. */
export function unwrap<T>(result: Result<T>): T {
  if (!result.ok) throw result.error;
  return result.value;
}

export function isProtocolError(error: unknown): error is ProtocolError {
  return error instanceof ProtocolError;
}
