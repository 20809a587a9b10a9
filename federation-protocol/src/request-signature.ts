import { sha256 } from './canonical-json.ts';
import { isDomain, normalizeDomain } from './domain.ts';
import { encodeBase64Url } from './encoding.ts';
import { fail, ok } from './errors.ts';
import type { Result } from './errors.ts';
import { checkInstanceJwsShape, hasOnlyMembers, unverifiedJwsPayload, verifyInstanceJws } from './instance-jws.ts';
import { signJws } from './jws.ts';
import type { Ed25519KeyPair, Ed25519PublicJwk } from './keys.ts';
import { isTimestamp, SHA256_BASE64URL } from './validate.ts';

/**
 * Request signatures (SPEC.md, "Request authentication"): every request between instances carries, in the
 * `Caliopen-Signature` header, a compact JWS (EdDSA, typ `caliopen-request+jws`, kid = the thumbprint of the sending
 * instance's signing key) over `{ iss, method, path, destination, contentSha256, created, expires }`:
 * - `iss` the sending instance, whose keys the verifier takes from the feed;
 * - `method` (uppercase) and `path` (the request target as sent: path and query) of this request;
 * - `destination` the receiving instance's domain (a signature for one peer is useless at another);
 * - `contentSha256` the base64url SHA-256 of the body bytes as sent (of nothing, for a GET);
 * - `created`/`expires` a short window (60 s by default, 300 s at most), with clock skew tolerated.
 */

export const REQUEST_SIGNATURE_HEADER = 'caliopen-signature';
export const REQUEST_JWS_TYPE = 'caliopen-request+jws';
export const DEFAULT_REQUEST_SIGNATURE_LIFETIME_SECONDS = 60;
export const MAX_REQUEST_SIGNATURE_LIFETIME_SECONDS = 300;
const DEFAULT_CLOCK_TOLERANCE_SECONDS = 60;
const MAX_REQUEST_JWS_LENGTH = 4096;
const MAX_PATH_LENGTH = 2048;
const METHOD = /^[A-Z]{1,16}$/;
const PATH = /^\/[\x21-\x7e]*$/;

export interface RequestSignatureClaims {
  /** The signing instance, normalised. */
  readonly iss: string;
  readonly method: string;
  readonly path: string;
  /** The instance the request is for, normalised. */
  readonly destination: string;
  /** Base64url SHA-256 of the body bytes. */
  readonly contentSha256: string;
  readonly created: number;
  readonly expires: number;
}

export interface SignRequestInput {
  /** The sending instance's domain. */
  readonly instance: string;
  readonly method: string;
  /** The request target as sent: path and query, e.g. `/federation/v1/inbox`. */
  readonly path: string;
  /** The receiving instance's domain. */
  readonly destination: string;
  /** The body bytes as sent (empty for a GET). */
  readonly body?: Uint8Array;
  /** NumericDate (now). */
  readonly created: number;
  /** Defaults to DEFAULT_REQUEST_SIGNATURE_LIFETIME_SECONDS. */
  readonly lifetimeSeconds?: number;
}

/** The value of the `Caliopen-Signature` header for a request. Throws a `ProtocolError` on bad input. */
export async function signRequest(input: SignRequestInput, signingKey: Ed25519KeyPair): Promise<string> {
  const claims = {
    iss: normalizeDomain(input.instance),
    method: input.method.toUpperCase(),
    path: input.path,
    destination: normalizeDomain(input.destination),
    contentSha256: contentSha256(input.body ?? new Uint8Array()),
    created: input.created,
    expires: input.created + (input.lifetimeSeconds ?? DEFAULT_REQUEST_SIGNATURE_LIFETIME_SECONDS),
  };
  const parsed = parseClaims(claims);
  if (!parsed.ok) throw parsed.error;
  return signJws(parsed.value, signingKey, REQUEST_JWS_TYPE);
}

/** Base64url SHA-256 of a body, as `contentSha256` carries it. */
export function contentSha256(body: Uint8Array): string {
  return encodeBase64Url(sha256(body));
}

export interface ReceivedRequest {
  readonly method: string;
  /** The request target as received: path and query. */
  readonly path: string;
  /** The `Caliopen-Signature` header value(s) as received. */
  readonly signature: string | readonly string[] | undefined;
  /** The raw body bytes (empty for a GET). */
  readonly body: Uint8Array;
}

export interface VerifyRequestOptions {
  /** This instance's domain. */
  readonly expectedDestination: string;
  readonly now: number;
  /**
   * The signing keys the feed lists for an instance, whatever its label status (the caller checks the label once the
   * request is authenticated), or undefined when the feed does not list it (`peer_unknown`).
   */
  readonly keysOf: (
    domain: string,
  ) => readonly Ed25519PublicJwk[] | undefined | Promise<readonly Ed25519PublicJwk[] | undefined>;
  /** Clock skew tolerated on created and expires (default 60 s). */
  readonly clockToleranceSeconds?: number;
}

export interface VerifiedRequest {
  /** The authenticated sending instance. */
  readonly instance: string;
  /** Thumbprint of its key that signed. */
  readonly kid: string;
  readonly claims: RequestSignatureClaims;
}

/**
 * Verifies the signature of a received request. Order: presence (`request_signature_missing`), shape and claims
 * (`request_signature_malformed`), destination (`request_signature_wrong_destination`), time
 * (`request_signature_expired`), method and path (`request_signature_bad`), the instance (`peer_unknown` when the
 * feed does not list it), key and signature (`request_signature_bad`), then the body digest
 * (`request_signature_digest_mismatch`). Never throws on hostile input.
 */
export async function verifyRequest(
  request: ReceivedRequest,
  options: VerifyRequestOptions,
): Promise<Result<VerifiedRequest>> {
  const verified = await verifyRequestHeader(request, options);
  if (!verified.ok) return verified;
  return checkRequestDigest(verified.value, request.body);
}

/**
 * Steps 1 to 7 of verifyRequest, without the body: what a server checks before it reads a body at all, so that an
 * anonymous or unknown client never makes it buffer one. The body is then read (capped for the authenticated signer)
 * and checked with checkRequestDigest. Never throws on hostile input.
 */
export async function verifyRequestHeader(
  request: Omit<ReceivedRequest, 'body'>,
  options: VerifyRequestOptions,
): Promise<Result<VerifiedRequest>> {
  const header = request.signature;
  if (header === undefined || header === '' || (Array.isArray(header) && header.length === 0)) {
    return fail('request_signature_missing', 'The request carries no Caliopen-Signature header.');
  }
  if (typeof header !== 'string')
    return fail('request_signature_malformed', 'The request carries several Caliopen-Signature headers.');
  const jws = header.trim();
  const shape = checkInstanceJwsShape(jws, REQUEST_JWS_TYPE, MAX_REQUEST_JWS_LENGTH);
  if ('reason' in shape) return fail('request_signature_malformed', `Malformed request signature: ${shape.reason}.`);
  const parsed = parseClaims(unverifiedJwsPayload(jws));
  if (!parsed.ok) return parsed;
  const claims = parsed.value;

  const destination = normalizeDomain(options.expectedDestination);
  if (claims.destination !== destination) {
    return fail(
      'request_signature_wrong_destination',
      `The request is signed for "${claims.destination}", not "${destination}".`,
    );
  }
  const tolerance = options.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS;
  if (claims.created > options.now + tolerance) {
    return fail(
      'request_signature_expired',
      `The signature was created at ${claims.created}, in the future (it is ${options.now}).`,
    );
  }
  if (options.now - tolerance >= claims.expires) {
    return fail('request_signature_expired', `The signature expired at ${claims.expires}; it is ${options.now}.`);
  }
  if (claims.method !== request.method.toUpperCase() || claims.path !== request.path) {
    return fail(
      'request_signature_bad',
      `The signature covers ${claims.method} ${claims.path.slice(0, 200)}, not this request.`,
    );
  }
  let keys: readonly Ed25519PublicJwk[] | undefined;
  try {
    keys = await options.keysOf(claims.iss);
  } catch (error) {
    return fail('request_signature_bad', `The signing keys of "${claims.iss}" could not be read.`, error);
  }
  if (keys === undefined || keys.length === 0)
    return fail('peer_unknown', `The feed lists no instance "${claims.iss}".`);
  const verified = await verifyInstanceJws(jws, {
    keys,
    typ: REQUEST_JWS_TYPE,
    codes: { malformed: 'request_signature_malformed', badSignature: 'request_signature_bad' },
    maxLength: MAX_REQUEST_JWS_LENGTH,
    what: 'request signature',
  });
  if (!verified.ok) return verified;
  return ok({ instance: claims.iss, kid: verified.value.kid, claims });
}

/** Step 8 of verifyRequest: the body as received is the one the verified signature covers. */
export function checkRequestDigest(verified: VerifiedRequest, body: Uint8Array): Result<VerifiedRequest> {
  if (contentSha256(body) !== verified.claims.contentSha256) {
    return fail('request_signature_digest_mismatch', 'The body is not the one the request signature covers.');
  }
  return ok(verified);
}

function parseClaims(input: unknown): Result<RequestSignatureClaims> {
  if (!hasOnlyMembers(input, ['iss', 'method', 'path', 'destination', 'contentSha256', 'created', 'expires'])) {
    return malformed('the claims are not { iss, method, path, destination, contentSha256, created, expires }');
  }
  const { iss, method, path, destination, contentSha256: digest, created, expires } = input;
  if (!isDomain(iss)) return malformed('iss is not a normalised domain name');
  if (typeof method !== 'string' || !METHOD.test(method)) return malformed('method is not an uppercase HTTP method');
  if (typeof path !== 'string' || path.length > MAX_PATH_LENGTH || !PATH.test(path))
    return malformed('path is not a request target');
  if (!isDomain(destination)) return malformed('destination is not a normalised domain name');
  if (typeof digest !== 'string' || !SHA256_BASE64URL.test(digest))
    return malformed('contentSha256 is not a base64url SHA-256');
  if (!isTimestamp(created) || !isTimestamp(expires)) return malformed('created and expires must be integer seconds');
  if (expires <= created || expires - created > MAX_REQUEST_SIGNATURE_LIFETIME_SECONDS) {
    return malformed(`the lifetime must be more than 0 and at most ${MAX_REQUEST_SIGNATURE_LIFETIME_SECONDS} seconds`);
  }
  return ok({ iss, method, path, destination, contentSha256: digest, created, expires });
}

function malformed(reason: string) {
  return fail('request_signature_malformed', `Malformed request signature: ${reason}.`);
}
