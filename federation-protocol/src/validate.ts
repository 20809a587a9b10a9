/**
 * Small guards shared by the parsers of untrusted wire input. Internal to the package.
 */

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** NumericDate as in JWT: integer seconds since the Unix epoch. Every time on our wire is one. */
export function isTimestamp(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

export function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/** A short identifier-like text: printable ASCII, no spaces. */
export function isToken(value: unknown, maxLength = 256): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= maxLength && /^[\x21-\x7e]+$/.test(value);
}

const nativeIsWellFormed = (String.prototype as { isWellFormed?: (this: string) => boolean }).isWellFormed;

/**
 * Free text from the wire: a string of at most `maxLength` UTF-16 units that is well-formed Unicode (no lone
 * surrogate, which JSON.parse accepts from a `\ud800` escape). What canonical JSON cannot write, a parser must not
 * accept: every accepted document has one canonical form (a fuzzing finding, docs/fuzzing.md).
 */
export function isText(value: unknown, maxLength: number): value is string {
  return (
    typeof value === 'string' &&
    value.length <= maxLength &&
    (nativeIsWellFormed === undefined ? !/\p{Surrogate}/u.test(value) : nativeIsWellFormed.call(value))
  );
}

export const SHA256_HEX = /^[0-9a-f]{64}$/;

/** A base64url SHA-256 (43 characters), the form of RFC 7638 thumbprints. */
export const SHA256_BASE64URL = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

/** The three base64url parts of a compact JWS. */
export const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$/;
