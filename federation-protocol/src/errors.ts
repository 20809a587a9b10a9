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

  key_set_malformed: 'The registry key set document is malformed (bad JWK, kid that is not its thumbprint, bad window).',

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
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

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
export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ProtocolError };

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
