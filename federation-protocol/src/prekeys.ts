import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { isDomain, normalizeDomain } from './domain.ts';
import { encodeBase64Url } from './encoding.ts';
import { fail, ok, ProtocolError } from './errors.ts';
import type { Result } from './errors.ts';
import { hasOnlyMembers, verifyInstanceJws } from './instance-jws.ts';
import { signJws } from './jws.ts';
import { jwkThumbprint, parseOkpPublicJwk, x25519PublicJwkFromPrivate } from './keys.ts';
import type { Ed25519KeyPair, Ed25519PublicJwk, X25519PublicJwk } from './keys.ts';
import { isRecord, isTimestamp } from './validate.ts';

/**
 * Prekeys: short-lived X25519 keys an instance publishes, signed by its Ed25519 signing key, for senders to seal
 * envelopes to. The instance deletes a prekey's private half once its window (plus a grace period) is over: from
 * then on, what was sealed to it cannot be opened by anyone, even with every long-term key of the instance
 * (forward secrecy, bounded by the window).
 *
 * Wire form: a compact JWS, typ `caliopen-prekey+jws`, signed by the instance signing key, payload
 * `{ kid, domain, publicJwk, notBefore, notAfter }` where `kid` is the RFC 7638 thumbprint of `publicJwk`. Served as
 * `{ "prekeys": [<jws>, ...] }` at `GET /federation/v1/prekeys` (SPEC.md). Time is passed in; randomness is
 * injectable for test vectors.
 */

export const PREKEY_JWS_TYPE = 'caliopen-prekey+jws';
/** Path of the prekey list, relative to the instance's federation base URL. */
export const PREKEYS_PATH = '/federation/v1/prekeys';
export const DEFAULT_PREKEY_WINDOW_SECONDS = 24 * 3600;
/** A longer window would make forward secrecy meaningless: verifiers refuse it as malformed. */
export const MAX_PREKEY_WINDOW_SECONDS = 7 * 24 * 3600;
/** How long before its end a prekey gets a successor (both are published meanwhile). */
export const DEFAULT_PREKEY_OVERLAP_SECONDS = 6 * 3600;
/** How long after its window a private half is kept, for envelopes sealed just before the end. */
export const DEFAULT_PREKEY_GRACE_SECONDS = 3600;
/** Senders do not pick a prekey with less than this left. */
export const DEFAULT_PREKEY_MIN_REMAINING_SECONDS = 300;
/** Most prekeys a list may hold; a sender refuses a longer list as malformed. */
export const MAX_PUBLISHED_PREKEYS = 16;
const MAX_PREKEY_JWS_LENGTH = 2048;
const DEFAULT_CLOCK_TOLERANCE_SECONDS = 60;

export interface X25519PrivateJwk extends X25519PublicJwk {
  /** The 32-byte private key, base64url. */
  readonly d: string;
}

/** A prekey as published: its claims. */
export interface Prekey {
  /** RFC 7638 thumbprint of `publicJwk`. */
  readonly kid: string;
  /** The instance it belongs to, normalised. */
  readonly domain: string;
  readonly publicJwk: X25519PublicJwk;
  /** NumericDate: the window is notBefore <= t < notAfter. */
  readonly notBefore: number;
  readonly notAfter: number;
}

/** The private half, for the instance alone (kept sealed at rest, deleted after `notAfter` + grace). */
export interface PrekeyPrivate {
  readonly kid: string;
  readonly privateJwk: X25519PrivateJwk;
  readonly notBefore: number;
  readonly notAfter: number;
}

export type RandomBytes = (length: number) => Uint8Array;

export const defaultRandomBytes: RandomBytes = (length) => new Uint8Array(cryptoRandomBytes(length));

/** A fresh prekey for `domain`, valid from `notBefore` for `windowSeconds`; the private part is returned apart. */
export function generatePrekey(input: {
  domain: string;
  notBefore: number;
  windowSeconds?: number;
  randomBytes?: RandomBytes;
}): { readonly prekey: Prekey; readonly privateKey: PrekeyPrivate } {
  const domain = normalizeDomain(input.domain);
  const windowSeconds = input.windowSeconds ?? DEFAULT_PREKEY_WINDOW_SECONDS;
  if (!isDomain(domain)) throw new ProtocolError('prekey_malformed', `"${domain}" is not a domain name.`);
  if (!isTimestamp(input.notBefore)) throw new ProtocolError('prekey_malformed', 'notBefore must be integer seconds.');
  if (!Number.isSafeInteger(windowSeconds) || windowSeconds <= 0 || windowSeconds > MAX_PREKEY_WINDOW_SECONDS) {
    throw new ProtocolError('prekey_malformed', `The window must be 1 to ${MAX_PREKEY_WINDOW_SECONDS} seconds.`);
  }
  const secret = (input.randomBytes ?? defaultRandomBytes)(32);
  if (secret.byteLength !== 32) throw new RangeError('randomBytes(32) must return 32 bytes.');
  const publicJwk = x25519PublicJwkFromPrivate(secret);
  const kid = jwkThumbprint(publicJwk);
  const notAfter = input.notBefore + windowSeconds;
  return {
    prekey: { kid, domain, publicJwk, notBefore: input.notBefore, notAfter },
    privateKey: { kid, privateJwk: { ...publicJwk, d: encodeBase64Url(secret) }, notBefore: input.notBefore, notAfter },
  };
}

/** Signs a prekey with the instance signing key. Throws a `ProtocolError` rather than sign what verifiers refuse. */
export async function signPrekey(prekey: Prekey, signingKey: Ed25519KeyPair): Promise<string> {
  const parsed = parsePrekeyClaims(prekey);
  if (!parsed.ok) throw parsed.error;
  return signJws(parsed.value, signingKey, PREKEY_JWS_TYPE);
}

export interface VerifyPrekeyOptions {
  /** The instance's signing keys, from the feed (or its verified descriptor). */
  readonly signingKeys: readonly Ed25519PublicJwk[];
  /** The instance the prekey was fetched from. */
  readonly expectedDomain: string;
  readonly now: number;
  /** Clock skew tolerated on the window, in seconds (default 60). */
  readonly clockToleranceSeconds?: number;
}

/**
 * Verifies a signed prekey. Order: shape (`prekey_malformed`), key and signature (`prekey_bad_signature`), claims
 * (`prekey_malformed`), domain (`prekey_wrong_domain`), window (`prekey_not_yet_valid`, `prekey_expired`).
 */
export async function verifyPrekey(jws: unknown, options: VerifyPrekeyOptions): Promise<Result<Prekey>> {
  const verified = await verifyInstanceJws(jws, {
    keys: options.signingKeys,
    typ: PREKEY_JWS_TYPE,
    codes: { malformed: 'prekey_malformed', badSignature: 'prekey_bad_signature' },
    maxLength: MAX_PREKEY_JWS_LENGTH,
    what: 'prekey',
  });
  if (!verified.ok) return verified;
  const parsed = parsePrekeyClaims(verified.value.payload);
  if (!parsed.ok) return parsed;
  const prekey = parsed.value;
  const expectedDomain = normalizeDomain(options.expectedDomain);
  if (prekey.domain !== expectedDomain) {
    return fail('prekey_wrong_domain', `The prekey is for "${prekey.domain}", not "${expectedDomain}".`);
  }
  const tolerance = options.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS;
  if (options.now + tolerance < prekey.notBefore) {
    return fail('prekey_not_yet_valid', `The prekey is valid from ${prekey.notBefore}; it is ${options.now}.`);
  }
  if (options.now >= prekey.notAfter)
    return fail('prekey_expired', `The prekey expired at ${prekey.notAfter}; it is ${options.now}.`);
  return ok(prekey);
}

/**
 * Verifies the prekey list an instance serves (`{ "prekeys": [<jws>, ...] }`) and returns the prekeys usable now.
 * One forged, malformed or foreign prekey fails the whole list (the peer is broken or attacked); prekeys outside
 * their window are dropped, and a list with none left fails with `prekey_expired` (or `prekey_not_yet_valid`).
 */
export async function verifyPrekeyList(
  document: unknown,
  options: VerifyPrekeyOptions,
): Promise<Result<readonly Prekey[]>> {
  if (!hasOnlyMembers(document, ['prekeys']) || !Array.isArray(document['prekeys'])) {
    return fail('prekey_malformed', 'The prekey list is not { "prekeys": [...] }.');
  }
  const list = document['prekeys'] as unknown[];
  if (list.length === 0 || list.length > MAX_PUBLISHED_PREKEYS) {
    return fail('prekey_malformed', `The prekey list must hold 1 to ${MAX_PUBLISHED_PREKEYS} prekeys.`);
  }
  const usable: Prekey[] = [];
  let outsideWindow: Result<never> | undefined;
  for (const jws of list) {
    const verified = await verifyPrekey(jws, options);
    if (verified.ok) usable.push(verified.value);
    else if (verified.error.code === 'prekey_expired' || verified.error.code === 'prekey_not_yet_valid')
      outsideWindow = verified as Result<never>;
    else return verified;
  }
  if (usable.length === 0) return outsideWindow!;
  return ok(usable);
}

/**
 * The prekey a sender seals to at `now`: among those inside their window with at least `minRemainingSeconds` left,
 * the one that started last (so senders move to a successor as soon as it is published).
 */
export function choosePrekey<P extends Pick<Prekey, 'notBefore' | 'notAfter'>>(
  prekeys: readonly P[],
  now: number,
  options: { minRemainingSeconds?: number } = {},
): P | undefined {
  const minRemaining = options.minRemainingSeconds ?? DEFAULT_PREKEY_MIN_REMAINING_SECONDS;
  let chosen: P | undefined;
  for (const prekey of prekeys) {
    if (prekey.notBefore > now || prekey.notAfter - now < minRemaining) continue;
    if (chosen === undefined || prekey.notBefore > chosen.notBefore) chosen = prekey;
  }
  return chosen;
}

/** True once a prekey's private half must be gone: `now >= notAfter + graceSeconds`. */
export function isExpired(
  prekey: Pick<Prekey, 'notAfter'>,
  now: number,
  graceSeconds: number = DEFAULT_PREKEY_GRACE_SECONDS,
): boolean {
  return now >= prekey.notAfter + graceSeconds;
}

export interface PrekeyRotationPolicy {
  /** Length of each prekey's window (default 24 h). */
  readonly windowSeconds?: number;
  /** A successor is generated when the newest prekey has this much or less left (default 6 h). */
  readonly overlapSeconds?: number;
  /** Private halves are deleted this long after their window (default 1 h). */
  readonly graceSeconds?: number;
}

export interface PrekeyRotationPlan {
  /** The window of a prekey to generate now, or null when the current ones suffice. */
  readonly generate: { readonly notBefore: number; readonly notAfter: number } | null;
  /** The kids to serve in the prekey list (every one not past its window). */
  readonly publish: readonly string[];
  /** The kids whose private halves the instance must delete now. */
  readonly delete: readonly string[];
}

/**
 * What an instance does with its prekeys at `now` (run it every few minutes): generate a successor when the newest
 * prekey is within `overlapSeconds` of its end (or none is valid), publish every prekey still inside its window,
 * delete the private half of every prekey past its window plus `graceSeconds`. The deletion itself is the instance's
 * job, and it must be a real one (no copy left in backups older than the grace period, see SPEC.md).
 */
export function planPrekeyRotation(
  prekeys: readonly Pick<Prekey, 'kid' | 'notBefore' | 'notAfter'>[],
  now: number,
  policy: PrekeyRotationPolicy = {},
): PrekeyRotationPlan {
  const windowSeconds = policy.windowSeconds ?? DEFAULT_PREKEY_WINDOW_SECONDS;
  const overlapSeconds = policy.overlapSeconds ?? DEFAULT_PREKEY_OVERLAP_SECONDS;
  const graceSeconds = policy.graceSeconds ?? DEFAULT_PREKEY_GRACE_SECONDS;
  if (!(overlapSeconds >= 0 && overlapSeconds < windowSeconds && windowSeconds <= MAX_PREKEY_WINDOW_SECONDS)) {
    throw new RangeError('The prekey policy needs 0 <= overlap < window <= 7 days.');
  }
  const covered = prekeys.some((prekey) => prekey.notBefore <= now && prekey.notAfter - now > overlapSeconds);
  return {
    generate: covered ? null : { notBefore: now, notAfter: now + windowSeconds },
    publish: prekeys.filter((prekey) => prekey.notAfter > now).map((prekey) => prekey.kid),
    delete: prekeys.filter((prekey) => isExpired(prekey, now, graceSeconds)).map((prekey) => prekey.kid),
  };
}

/** Validates untrusted prekey claims; returns a copy with only the members of the format. */
export function parsePrekeyClaims(input: unknown): Result<Prekey> {
  if (!isRecord(input)) return malformed('the payload is not an object');
  if (!hasOnlyMembers(input, ['kid', 'domain', 'publicJwk', 'notBefore', 'notAfter']))
    return malformed('it has unknown members');
  const { kid, domain, notBefore, notAfter } = input;
  if (!isDomain(domain)) return malformed('domain is not a normalised domain name');
  const publicJwk = parseOkpPublicJwk(input['publicJwk'], 'X25519');
  if (publicJwk === undefined) return malformed('publicJwk is not a public X25519 JWK');
  if (kid !== jwkThumbprint(publicJwk)) return malformed('kid is not the RFC 7638 thumbprint of publicJwk');
  if (!isTimestamp(notBefore) || !isTimestamp(notAfter))
    return malformed('notBefore and notAfter must be integer seconds');
  if (notAfter <= notBefore || notAfter - notBefore > MAX_PREKEY_WINDOW_SECONDS) {
    return malformed(`the window must be more than 0 and at most ${MAX_PREKEY_WINDOW_SECONDS} seconds`);
  }
  return ok({ kid, domain, publicJwk, notBefore, notAfter });
}

function malformed(reason: string) {
  return fail('prekey_malformed', `Malformed prekey: ${reason}.`);
}
