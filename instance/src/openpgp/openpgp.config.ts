import type { PartialConfig } from 'openpgp';

/**
 * Bounds on everything the OpenPGP module reads. Input comes from strangers (mail, Autocrypt headers, pasted keys,
 * DNS answers): every size is capped before openpgp.js sees it, decompression is capped inside openpgp.js, and the
 * work on one message has a time budget (openpgp.facts.ts).
 */
export const OPENPGP_LIMITS = {
  /** A public key, armoured or binary (parsePublicKey's default `maxBytes`). */
  keyBytes: 64 * 1024,
  /** A whole message handed to detectOpenPgp; larger ones are not inspected. */
  messageBytes: 64 * 1024 * 1024,
  /** An OpenPGP message block (inline armour or the encrypted part of PGP/MIME). */
  armorBytes: 32 * 1024 * 1024,
  /** A detached signature (the second part of PGP/MIME signed). Real ones are well under 1 KiB. */
  signatureBytes: 64 * 1024,
  /** What a compressed packet may expand to (openpgp.js `maxDecompressedMessageSize`). */
  decompressedBytes: 16 * 1024 * 1024,
  /** MIME parts looked at in one multipart body. */
  mimeParts: 64,
  /** Keys tried against one signature (the sender's keys). */
  verificationKeys: 32,
  /**
   * How far in the future (by our clock) a signature may have been made: senders' clocks drift, and a signature
   * "from the future" by a few minutes is not a forgery.
   */
  clockSkewMs: 15 * 60 * 1000,
  /** Time budget of gatherOpenPgpFacts for one message. */
  timeBudgetMs: 10_000,
} as const;

/**
 * The openpgp.js configuration every call of this module passes (never the global one, which other code may
 * change): decompression capped, user IDs capped, malformed packets refused rather than skipped, the message grammar
 * enforced, unauthenticated (non-MDC) encryption refused.
 */
export const OPENPGP_CONFIG: PartialConfig = {
  maxDecompressedMessageSize: OPENPGP_LIMITS.decompressedBytes,
  maxUserIDLength: 1024,
  ignoreMalformedPackets: false,
  ignoreUnsupportedPackets: true,
  enforceGrammar: true,
  allowUnauthenticatedMessages: false,
  allowUnauthenticatedStream: false,
  allowInsecureVerificationWithReformattedKeys: false,
};

/** A short, single-line description of an error for a `problem` or `reason` (never the input itself). */
export function errorText(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.replace(/[\r\n\t]+/g, ' ').slice(0, 200);
}
