import type { KeySource } from '../openpgp/key-source.ts';

/** How a correspondent's key is known: its source, or `verified` when the user compared fingerprints. */
export type KeyTrust = 'verified' | KeySource;

/**
 * Points for how well a key is tied to its owner, shared by the message and contact models. Ordered by the strength
 * of the evidence (see KeySource): a fingerprint compared by the user beats everything; the key directory of a
 * labelled peer (mutually authenticated) beats DNSSEC; DNSSEC beats WKD (HTTPS: the domain vouches) which beats
 * unvalidated DNS; a key the user attached by hand beats one learnt from a header anyone could forge.
 */
export const KEY_TRUST_RANK: Readonly<Record<KeyTrust, number>> = {
  // Only a fingerprint, never usable: no signature can verify with it (it is listed for completeness).
  signature: 0,
  autocrypt: 1,
  attached: 2,
  dns: 3,
  wkd: 4,
  dnssec: 5,
  federation: 6,
  verified: 7,
};

export function keyTrustWords(trust: KeyTrust): string {
  switch (trust) {
    case 'verified':
      return 'you compared its fingerprint';
    case 'federation':
      return "from the key directory of the correspondent's labelled instance";
    case 'dnssec':
      return 'published in DNSSEC-validated DNS (RFC 7929)';
    case 'wkd':
      return "published by the address's provider (Web Key Directory)";
    case 'dns':
      return 'published in DNS without DNSSEC (RFC 7929)';
    case 'attached':
      return 'added by you, fingerprint not compared';
    case 'autocrypt':
      return 'learnt from an Autocrypt header (trust on first use)';
    case 'signature':
      return 'known only by its fingerprint, from a signature (no key material)';
  }
}

export function clampInt(value: number, min: number, max: number): number {
  if (!Number.isFinite(value)) return min;
  return Math.min(max, Math.max(min, Math.round(value)));
}
