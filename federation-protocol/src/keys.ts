import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { importJWK } from 'jose';
import type { CryptoKey } from 'jose';
import { canonicalJson, sha256 } from './canonical-json.ts';
import { decodeBase64Url, encodeBase64Url } from './encoding.ts';
import { fail, ok } from './errors.ts';
import type { Result } from './errors.ts';
import { isRecord, isTimestamp } from './validate.ts';

/**
 * Keys: Ed25519 signing keys as JWK (RFC 8037), their RFC 7638 thumbprints, and the registry key set that peers
 * pin at setup. A key is named everywhere by its thumbprint (the JWS `kid`), so a kid cannot point at another key.
 */

export interface OkpPublicJwk<Curve extends 'Ed25519' | 'X25519' = 'Ed25519' | 'X25519'> {
  readonly kty: 'OKP';
  readonly crv: Curve;
  /** The 32-byte public key, base64url. */
  readonly x: string;
}

export type Ed25519PublicJwk = OkpPublicJwk<'Ed25519'>;
export type X25519PublicJwk = OkpPublicJwk<'X25519'>;

export interface Ed25519PrivateJwk extends Ed25519PublicJwk {
  /** The 32-byte private seed, base64url. */
  readonly d: string;
}

/** A signing key: what the registry holds privately. `kid` is the thumbprint of `publicJwk`. */
export interface Ed25519KeyPair {
  readonly kid: string;
  readonly publicJwk: Ed25519PublicJwk;
  readonly privateJwk: Ed25519PrivateJwk;
}

export function generateEd25519KeyPair(): Ed25519KeyPair {
  return keyPairFromPrivateKey(generateKeyPairSync('ed25519').privateKey);
}

/** The key pair of a 32-byte seed (RFC 8032): deterministic, for test vectors and keys kept as seeds. */
export function ed25519KeyPairFromSeed(seed: Uint8Array): Ed25519KeyPair {
  if (seed.byteLength !== 32) throw new RangeError('An Ed25519 seed is 32 bytes.');
  return keyPairFromPrivateKey(
    createPrivateKey({ key: pkcs8(ED25519_PKCS8_PREFIX, seed), format: 'der', type: 'pkcs8' }),
  );
}

/** The public JWK of a 32-byte X25519 private key (RFC 7748), for instance encryption keys in vectors and tests. */
export function x25519PublicJwkFromPrivate(privateKey: Uint8Array): X25519PublicJwk {
  if (privateKey.byteLength !== 32) throw new RangeError('An X25519 private key is 32 bytes.');
  const key = createPrivateKey({ key: pkcs8(X25519_PKCS8_PREFIX, privateKey), format: 'der', type: 'pkcs8' });
  const { x } = createPublicKey(key).export({ format: 'jwk' });
  return { kty: 'OKP', crv: 'X25519', x: x as string };
}

// PKCS#8 wrappers of a raw 32-byte OKP private key (RFC 8410): fixed DER prefix, then the key.
const ED25519_PKCS8_PREFIX = '302e020100300506032b657004220420';
const X25519_PKCS8_PREFIX = '302e020100300506032b656e04220420';

function pkcs8(prefixHex: string, key: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(prefixHex, 'hex'), key]);
}

function keyPairFromPrivateKey(privateKey: KeyObject): Ed25519KeyPair {
  const { x, d } = privateKey.export({ format: 'jwk' });
  const publicJwk: Ed25519PublicJwk = { kty: 'OKP', crv: 'Ed25519', x: x as string };
  return { kid: jwkThumbprint(publicJwk), publicJwk, privateJwk: { ...publicJwk, d: d as string } };
}

/** The members RFC 7638 §3.2 (and RFC 8037 §2 for OKP) hash, per key type. */
const THUMBPRINT_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  OKP: ['crv', 'kty', 'x'],
  EC: ['crv', 'kty', 'x', 'y'],
  RSA: ['e', 'kty', 'n'],
  oct: ['k', 'kty'],
};

/**
 * RFC 7638 JWK thumbprint with SHA-256, base64url: the hash of the required members only, so optional members
 * (`alg`, `use`, `kid`) and private members never change a key's name.
 */
export function jwkThumbprint(jwk: { readonly kty: string }): string {
  const members = THUMBPRINT_MEMBERS[jwk.kty];
  if (members === undefined) throw new TypeError(`No thumbprint for JWK key type "${jwk.kty}".`);
  const required: Record<string, unknown> = {};
  for (const member of members) {
    const value = (jwk as Readonly<Record<string, unknown>>)[member];
    if (typeof value !== 'string') throw new TypeError(`A ${jwk.kty} JWK needs a "${member}" string.`);
    required[member] = value;
  }
  return encodeBase64Url(sha256(canonicalJson(required)));
}

/** Validates an untrusted public OKP JWK of the given curve; returns a copy with only kty, crv and x. */
export function parseOkpPublicJwk<Curve extends 'Ed25519' | 'X25519'>(
  input: unknown,
  curve: Curve,
): OkpPublicJwk<Curve> | undefined {
  if (!isRecord(input) || input['kty'] !== 'OKP' || input['crv'] !== curve) return undefined;
  if ('d' in input) return undefined; // private material never belongs in a published key
  const x = input['x'];
  if (typeof x !== 'string' || decodeBase64Url(x)?.byteLength !== 32) return undefined;
  return { kty: 'OKP', crv: curve, x };
}

// ---------------------------------------------------------------------------------------------------------------
// The registry key set

/** One published registry key and the window in which peers accept it: notBefore ≤ t < notAfter. */
export interface KeySetEntry {
  readonly jwk: Ed25519PublicJwk;
  readonly kid: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

/** The published registry key set document, as peers pin it. */
export interface KeySetDocument {
  readonly keys: readonly KeySetEntry[];
}

export function keySetEntry(jwk: Ed25519PublicJwk, window: { notBefore: number; notAfter: number }): KeySetEntry {
  if (!isTimestamp(window.notBefore) || !isTimestamp(window.notAfter) || window.notBefore >= window.notAfter) {
    throw new RangeError('A key window needs integer seconds with notBefore < notAfter.');
  }
  return { jwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, kid: jwkThumbprint(jwk), ...window };
}

/**
 * Rotation with overlap: `incoming` joins the set, and every key still valid when it starts retires
 * `overlapSeconds` later. During the overlap both verify, so what the old key signed (labels live days) stays
 * verifiable until it expires; choose an overlap of at least the longest label lifetime.
 */
export function rotateKeySet(
  current: KeySetDocument,
  incoming: KeySetEntry,
  options: { overlapSeconds: number },
): KeySetDocument {
  if (current.keys.some((entry) => entry.kid === incoming.kid)) {
    throw new RangeError(`Key ${incoming.kid} is already in the set.`);
  }
  const retireAt = incoming.notBefore + options.overlapSeconds;
  const keys = current.keys.map((entry) =>
    entry.notAfter > retireAt && entry.notBefore <= incoming.notBefore ? { ...entry, notAfter: retireAt } : entry,
  );
  return { keys: [...keys, incoming] };
}

/** The key the registry should sign with at `at`: among the keys valid then, the one that started last. */
export function signingEntryAt(document: KeySetDocument, at: number): KeySetEntry | undefined {
  let chosen: KeySetEntry | undefined;
  for (const entry of document.keys) {
    if (isValidAt(entry, at) && (chosen === undefined || entry.notBefore > chosen.notBefore)) chosen = entry;
  }
  return chosen;
}

function isValidAt(entry: KeySetEntry, at: number): boolean {
  return entry.notBefore <= at && at < entry.notAfter;
}

/** How a key set answers for a kid at a time. */
export type KeyLookup =
  | { readonly status: 'valid'; readonly entry: KeySetEntry; readonly key: () => Promise<CryptoKey> }
  | { readonly status: 'unknown' }
  | { readonly status: 'outside_validity'; readonly entry: KeySetEntry };

/** A validated, pinned registry key set, ready to verify: keys are imported once, on first use. */
export class KeySet {
  readonly document: KeySetDocument;
  private readonly entries: ReadonlyMap<string, KeySetEntry>;
  private readonly imported = new Map<string, Promise<CryptoKey>>();

  private constructor(document: KeySetDocument) {
    this.document = document;
    this.entries = new Map(document.keys.map((entry) => [entry.kid, entry]));
  }

  /**
   * Validates a key set document from untrusted input (a config file, the registry's well-known URL): Ed25519
   * public keys only, each kid the thumbprint of its key, unique kids, windows with notBefore < notAfter.
   */
  static parse(input: unknown): Result<KeySet> {
    if (!isRecord(input) || !Array.isArray(input['keys'])) return keySetMalformed('it has no "keys" array');
    if (input['keys'].length === 0) return keySetMalformed('it holds no key, so nothing would ever verify');
    const keys: KeySetEntry[] = [];
    const seen = new Set<string>();
    for (const [index, item] of input['keys'].entries()) {
      if (!isRecord(item)) return keySetMalformed(`keys[${index}] is not an object`);
      const jwk = parseOkpPublicJwk(item['jwk'], 'Ed25519');
      if (jwk === undefined) return keySetMalformed(`keys[${index}].jwk is not a public Ed25519 JWK`);
      const kid = jwkThumbprint(jwk);
      if (item['kid'] !== kid) return keySetMalformed(`keys[${index}].kid is not the RFC 7638 thumbprint of its key`);
      if (seen.has(kid)) return keySetMalformed(`key ${kid} appears twice`);
      const { notBefore, notAfter } = item;
      if (!isTimestamp(notBefore) || !isTimestamp(notAfter) || notBefore >= notAfter) {
        return keySetMalformed(`keys[${index}] needs integer notBefore < notAfter`);
      }
      seen.add(kid);
      keys.push({ jwk, kid, notBefore, notAfter });
    }
    return ok(new KeySet({ keys }));
  }

  lookup(kid: string, at: number): KeyLookup {
    const entry = this.entries.get(kid);
    if (entry === undefined) return { status: 'unknown' };
    if (!isValidAt(entry, at)) return { status: 'outside_validity', entry };
    return { status: 'valid', entry, key: () => this.importKey(entry) };
  }

  private importKey(entry: KeySetEntry): Promise<CryptoKey> {
    let key = this.imported.get(entry.kid);
    if (key === undefined) {
      key = importJWK({ ...entry.jwk }, 'EdDSA') as Promise<CryptoKey>;
      this.imported.set(entry.kid, key);
    }
    return key;
  }
}

/** See `KeySet.parse`. */
export function parseKeySet(input: unknown): Result<KeySet> {
  return KeySet.parse(input);
}

function keySetMalformed(reason: string) {
  return fail('key_set_malformed', `Malformed registry key set: ${reason}.`);
}

// ---------------------------------------------------------------------------------------------------------------
// Signing

const importedPrivateKeys = new WeakMap<Ed25519KeyPair, Promise<CryptoKey>>();

/** The WebCrypto private key of a key pair, imported once per key pair object. */
export function privateCryptoKey(keyPair: Ed25519KeyPair): Promise<CryptoKey> {
  let key = importedPrivateKeys.get(keyPair);
  if (key === undefined) {
    key = importJWK({ ...keyPair.privateJwk }, 'EdDSA') as Promise<CryptoKey>;
    importedPrivateKeys.set(keyPair, key);
  }
  return key;
}
