import { createPrivateKey } from 'node:crypto';
import { CompactEncrypt, compactDecrypt, decodeProtectedHeader, importJWK } from 'jose';
import type { CryptoKey } from 'jose';
import { isLocalPart } from './address.ts';
import { canonicalJsonBytes } from './canonical-json.ts';
import { isDomain, normalizeDomain } from './domain.ts';
import { decodeBase64Url, encodeBase64Url, utf8Decode, utf8Encode } from './encoding.ts';
import { fail, ok, ProtocolError } from './errors.ts';
import type { Result } from './errors.ts';
import { hasOnlyMembers, signInstanceJwsBytes, verifyInstanceJws } from './instance-jws.ts';
import { parseOkpPublicJwk } from './keys.ts';
import type { Ed25519KeyPair, Ed25519PublicJwk } from './keys.ts';
import { DEFAULT_PREKEY_GRACE_SECONDS, defaultRandomBytes, isExpired } from './prekeys.ts';
import type { Prekey, PrekeyPrivate, RandomBytes } from './prekeys.ts';
import { isRecord, isTimestamp, SHA256_BASE64URL } from './validate.ts';

/**
 * The sealed envelope: how one instance hands a message to another (SPEC.md, "Envelope").
 *
 * Outer layer, all an observer of the request body sees: `{ v: 1, to: <destination domain>, prekey: <kid>, jwe }`.
 * Inside the JWE (ECDH-ES with X25519 to the recipient's prekey, A256GCM, protected header
 * `{ alg, enc, epk, kid: <prekey kid>, typ: "caliopen-envelope+jwe" }`): the signed payload, padded to a size bucket.
 * The payload `{ from: { instance, account? }, to: { instance, local }, id, created, expires, contentType, body, e2e }`
 * is signed by the sending instance's signing key as a JWS with a detached payload (RFC 7515 appendix F; EdDSA, header
 * `{ alg, iss: <sender domain>, kid, typ: "caliopen-envelope+jws" }`), and the plaintext is
 *
 *     <protected header>..<signature> LF <canonical JSON payload> 0x80 0x00*
 *
 * so the body is base64url once (in the JSON), not twice. Padding (ISO/IEC 7816-4): one 0x80 byte, then zero bytes up
 * to the bucket size, the smallest power of two from 4 KiB to 32 MiB that holds the rest. The JWE reveals the bucket
 * only.
 */

export const ENVELOPE_VERSION = 1;
export const ENVELOPE_JWE_TYPE = 'caliopen-envelope+jwe';
export const ENVELOPE_JWS_TYPE = 'caliopen-envelope+jws';
/** Media type of the outer layer, the body of `POST /federation/v1/inbox`. */
export const ENVELOPE_MEDIA_TYPE = 'application/vnd.caliopen.envelope+json';
/** Path of the inbox, relative to the instance's federation base URL. */
export const INBOX_PATH = '/federation/v1/inbox';
export const MIN_BUCKET_BYTES = 4 * 1024;
export const MAX_BUCKET_BYTES = 32 * 1024 * 1024;
export const DEFAULT_ENVELOPE_LIFETIME_SECONDS = 3600;
/** An envelope valid longer than this is malformed: it bounds how long replay stores remember an id. */
export const MAX_ENVELOPE_LIFETIME_SECONDS = 24 * 3600;
/** Room for the outer members and the JWE header around the largest ciphertext. */
const ENVELOPE_OVERHEAD_BYTES = 2048;
/** Longest outer layer accepted (its UTF-8 bytes): the largest bucket, base64url, plus the overhead. */
export const MAX_ENVELOPE_BYTES = base64UrlLength(MAX_BUCKET_BYTES) + ENVELOPE_OVERHEAD_BYTES;
const ID_BYTES = 16;
const DEFAULT_CLOCK_TOLERANCE_SECONDS = 60;
const PADDING_MARKER = 0x80;
const MAX_CONTENT_TYPE_LENGTH = 127;
const CONTENT_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/;
const JWE_HEADER_MEMBERS = ['alg', 'enc', 'epk', 'kid', 'typ'];
const MAX_JWE_HEADER_LENGTH = 1024;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
// PKCS#8 prefix of a raw X25519 private key (RFC 8410), for ephemeral keys drawn from injected randomness.
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** The outer layer. */
export interface SealedEnvelope {
  readonly v: typeof ENVELOPE_VERSION;
  /** The destination instance, normalised. */
  readonly to: string;
  /** The kid of the recipient prekey the JWE is encrypted to. */
  readonly prekey: string;
  /** Compact JWE. */
  readonly jwe: string;
}

export interface EnvelopeFrom {
  /** The sending instance (it signs the payload). */
  readonly instance: string;
  /** The sending user's local part, absent for messages from the instance itself (bounces, notices). */
  readonly account?: string;
}

export interface EnvelopeTo {
  readonly instance: string;
  readonly local: string;
}

/** What the inner JWS signs, with the body decoded. */
export interface EnvelopeContent {
  readonly from: EnvelopeFrom;
  readonly to: EnvelopeTo;
  /** 128 random bits, base64url (22 characters); the same on every attempt to deliver one message. */
  readonly id: string;
  /** NumericDate of the sealing. */
  readonly created: number;
  /** NumericDate after which the recipient refuses the envelope. */
  readonly expires: number;
  /** Media type of the body, lowercase, no parameters (e.g. `message/rfc822`). */
  readonly contentType: string;
  /** The message bytes. */
  readonly body: Uint8Array;
  /** True when the body is end-to-end encrypted to the recipient user (OpenPGP). */
  readonly e2e: boolean;
}

export interface SealEnvelopeInput {
  readonly from: EnvelopeFrom;
  readonly to: EnvelopeTo;
  readonly contentType: string;
  readonly body: Uint8Array;
  readonly e2e: boolean;
  /** NumericDate of the sealing (now). */
  readonly created: number;
  /** Defaults to created + DEFAULT_ENVELOPE_LIFETIME_SECONDS. */
  readonly expires?: number;
  /** Keep it across attempts to deliver the same message; random by default. */
  readonly id?: string;
}

export interface SealEnvelopeOptions {
  /** The recipient prekey, as verified by `verifyPrekey` (chosen by `choosePrekey`). */
  readonly prekey: Prekey;
  /** The sending instance's signing key. */
  readonly signingKey: Ed25519KeyPair;
  /** For test vectors only: draws the id, the ephemeral key and the IV. */
  readonly randomBytes?: RandomBytes;
}

export interface SealedEnvelopeResult {
  readonly envelope: SealedEnvelope;
  /** The outer layer as sent: canonical JSON, UTF-8. */
  readonly bytes: Uint8Array;
  readonly id: string;
  /** The size bucket of the padded plaintext. */
  readonly bucket: number;
}

/** The size bucket for a plaintext of `length` bytes (before the padding marker), or undefined beyond the largest. */
export function bucketFor(length: number): number | undefined {
  let bucket = MIN_BUCKET_BYTES;
  while (bucket < length + 1) bucket *= 2;
  return bucket <= MAX_BUCKET_BYTES ? bucket : undefined;
}

/** A random envelope id: 16 bytes, base64url. */
export function newEnvelopeId(randomBytes: RandomBytes = defaultRandomBytes): string {
  return encodeBase64Url(randomBytes(ID_BYTES));
}

/**
 * Seals a message for `to` with the recipient's prekey (seal per delivery attempt, just before sending; keep `id`
 * across attempts). Throws a `ProtocolError` (`envelope_malformed`, `envelope_wrong_destination`, `envelope_oversize`,
 * `envelope_unknown_prekey` for a prekey past its window) rather than seal what the recipient would refuse.
 */
export async function sealEnvelope(
  input: SealEnvelopeInput,
  options: SealEnvelopeOptions,
): Promise<SealedEnvelopeResult> {
  const { prekey } = options;
  if (base64UrlLength(input.body.byteLength) >= MAX_BUCKET_BYTES) {
    throw new ProtocolError(
      'envelope_oversize',
      `A body of ${input.body.byteLength} bytes does not fit the largest bucket (${MAX_BUCKET_BYTES} bytes).`,
    );
  }
  const id = input.id ?? newEnvelopeId(options.randomBytes ?? defaultRandomBytes);
  const expires = input.expires ?? input.created + DEFAULT_ENVELOPE_LIFETIME_SECONDS;
  const wire = {
    from:
      input.from.account === undefined
        ? { instance: normalizeDomain(input.from.instance) }
        : { instance: normalizeDomain(input.from.instance), account: input.from.account },
    to: { instance: normalizeDomain(input.to.instance), local: input.to.local },
    id,
    created: input.created,
    expires,
    contentType: input.contentType,
    body: encodeBase64Url(input.body),
    e2e: input.e2e,
  };
  const parsed = parsePayload(wire);
  if (!parsed.ok) throw parsed.error;
  if (wire.to.instance !== prekey.domain) {
    throw new ProtocolError(
      'envelope_wrong_destination',
      `The prekey belongs to "${prekey.domain}", not "${wire.to.instance}".`,
    );
  }
  if (prekey.notAfter <= input.created)
    throw new ProtocolError('envelope_unknown_prekey', `Prekey ${prekey.kid} is past its window.`);

  const inner = await innerPlaintext(wire, options.signingKey);
  const bucket = bucketFor(inner.byteLength);
  if (bucket === undefined) {
    throw new ProtocolError(
      'envelope_oversize',
      `The signed payload is ${inner.byteLength} bytes; the largest bucket holds ${MAX_BUCKET_BYTES - 1}.`,
    );
  }
  const plaintext = new Uint8Array(bucket);
  plaintext.set(inner);
  plaintext[inner.byteLength] = PADDING_MARKER;

  const jwe = await encryptForPrekey(plaintext, prekey, options.randomBytes);
  const envelope: SealedEnvelope = { v: ENVELOPE_VERSION, to: wire.to.instance, prekey: prekey.kid, jwe };
  return { envelope, bytes: canonicalJsonBytes(envelope), id, bucket };
}

// A peer's prekey seals every message sent to it for a day or more, and an instance opens them all with its own few:
// each is imported into WebCrypto once, not per envelope (an import per message was ~2 % of the main thread in the
// federation bench). Public halves by their x (not secret; the cache is cleared when full). Private halves by the JWK
// object the caller hands in, weakly: the cache never holds a private half longer than its owner (the instance's
// prekey store, which drops it when it deletes the half, for forward secrecy), and a caller that parses the half
// afresh each time simply imports it each time.
const MAX_CACHED_PREKEYS = 1024;
const importedPublicPrekeys = new Map<string, Promise<CryptoKey>>();
const importedPrivatePrekeys = new WeakMap<object, Promise<CryptoKey>>();

function importedPrekeyPublic(jwk: Prekey['publicJwk']): Promise<CryptoKey> {
  let key = importedPublicPrekeys.get(jwk.x);
  if (key === undefined) {
    if (importedPublicPrekeys.size >= MAX_CACHED_PREKEYS) importedPublicPrekeys.clear();
    key = importJWK({ kty: 'OKP', crv: 'X25519', x: jwk.x }, 'ECDH-ES') as Promise<CryptoKey>;
    // A rejected import is not kept: the next envelope tries again (and fails the same way, with its own error).
    key.catch(() => importedPublicPrekeys.delete(jwk.x));
    importedPublicPrekeys.set(jwk.x, key);
  }
  return key;
}

function importedPrekeyPrivate(jwk: PrekeyPrivate['privateJwk']): Promise<CryptoKey> {
  let key = importedPrivatePrekeys.get(jwk);
  if (key === undefined) {
    key = importJWK({ ...jwk }, 'ECDH-ES') as Promise<CryptoKey>;
    key.catch(() => importedPrivatePrekeys.delete(jwk));
    importedPrivatePrekeys.set(jwk, key);
  }
  return key;
}

/**
 * The compact JWE of a (padded) plaintext for a prekey. With `randomBytes` (test vectors only), the ephemeral private
 * key (32 bytes) then the IV (12 bytes) are drawn from it; otherwise jose draws them. Internal to the package.
 */
export async function encryptForPrekey(
  plaintext: Uint8Array,
  prekey: Pick<Prekey, 'kid' | 'publicJwk'>,
  randomBytes?: RandomBytes,
): Promise<string> {
  const recipientKey = await importedPrekeyPublic(prekey.publicJwk);
  const encrypt = new CompactEncrypt(plaintext).setProtectedHeader({
    alg: 'ECDH-ES',
    enc: 'A256GCM',
    kid: prekey.kid,
    typ: ENVELOPE_JWE_TYPE,
  });
  if (randomBytes !== undefined) {
    const ephemeral = createPrivateKey({
      key: Buffer.concat([X25519_PKCS8_PREFIX, randomBytes(32)]),
      format: 'der',
      type: 'pkcs8',
    });
    const epk = await importJWK(ephemeral.export({ format: 'jwk' }) as Parameters<typeof importJWK>[0], 'ECDH-ES', {
      extractable: true,
    });
    encrypt.setKeyManagementParameters({ epk: epk as CryptoKey }).setInitializationVector(randomBytes(12));
  }
  return encrypt.encrypt(recipientKey);
}

export interface OpenEnvelopeOptions {
  /** This instance's domain: an envelope for another is refused. */
  readonly expectedDestination: string;
  readonly now: number;
  /** The private half of one of this instance's prekeys, or undefined when unknown or deleted. */
  readonly prekeyPrivate: (kid: string) => PrekeyPrivate | undefined | Promise<PrekeyPrivate | undefined>;
  /** The signing keys the feed lists for a labelled instance, or undefined when it lists none. */
  readonly senderKeys: (
    domain: string,
  ) => readonly Ed25519PublicJwk[] | undefined | Promise<readonly Ed25519PublicJwk[] | undefined>;
  /**
   * The instance that delivered the envelope (authenticated by its request signature and TLS certificate): an
   * envelope signed by another instance is refused (`envelope_bad_signature`). Instances do not relay.
   */
  readonly expectedSender?: string;
  /** A prekey is refused this long after its window, even if its private half was not deleted (default 1 h). */
  readonly prekeyGraceSeconds?: number;
  /** Clock skew tolerated on created and expires (default 60 s). */
  readonly clockToleranceSeconds?: number;
  /** Refuse a larger outer layer (default MAX_ENVELOPE_BYTES); an instance may lower it. */
  readonly maxEnvelopeBytes?: number;
}

export interface OpenedEnvelope {
  readonly content: EnvelopeContent;
  /** Thumbprint of the sender's signing key. */
  readonly senderKid: string;
  readonly prekeyKid: string;
  readonly bucket: number;
}

/**
 * Opens an envelope received from a peer. The input is the request body (bytes or text) or its parsed JSON. Checks,
 * in this order, the first failure being the code: size (`envelope_oversize`), outer layer (`envelope_malformed`),
 * destination (`envelope_wrong_destination`), JWE header and bucket (`envelope_malformed`, `envelope_oversize`),
 * prekey (`envelope_unknown_prekey`: unknown, deleted or past its window + grace), decryption
 * (`envelope_decrypt_failed`), padding and inner JWS shape (`envelope_malformed`), sender key and signature
 * (`envelope_bad_signature`), payload (`envelope_malformed`), inner destination (`envelope_wrong_destination`), time
 * (`envelope_expired`). Replay is checked afterwards by the caller (replay.ts). Never throws on hostile input.
 */
export async function openEnvelope(input: unknown, options: OpenEnvelopeOptions): Promise<Result<OpenedEnvelope>> {
  const maxBytes = options.maxEnvelopeBytes ?? MAX_ENVELOPE_BYTES;
  const outer = parseOuter(input, maxBytes);
  if (!outer.ok) return outer;
  const envelope = outer.value;
  const destination = normalizeDomain(options.expectedDestination);
  if (envelope.to !== destination) {
    return fail('envelope_wrong_destination', `The envelope is for "${envelope.to}", not "${destination}".`);
  }

  const jwe = checkJwe(envelope, maxBytes);
  if (!jwe.ok) return jwe;
  const bucket = jwe.value;

  let prekey: PrekeyPrivate | undefined;
  try {
    prekey = await options.prekeyPrivate(envelope.prekey);
  } catch (error) {
    return fail('envelope_unknown_prekey', `Prekey ${envelope.prekey} could not be read.`, error);
  }
  if (prekey === undefined || prekey.kid !== envelope.prekey) {
    return fail('envelope_unknown_prekey', `This instance holds no prekey ${envelope.prekey}.`);
  }
  if (isExpired(prekey, options.now, options.prekeyGraceSeconds ?? DEFAULT_PREKEY_GRACE_SECONDS)) {
    return fail(
      'envelope_unknown_prekey',
      `Prekey ${envelope.prekey} is past its window (it ended at ${prekey.notAfter}).`,
    );
  }

  let plaintext: Uint8Array;
  try {
    const key = await importedPrekeyPrivate(prekey.privateJwk);
    ({ plaintext } = await compactDecrypt(envelope.jwe, key, {
      keyManagementAlgorithms: ['ECDH-ES'],
      contentEncryptionAlgorithms: ['A256GCM'],
    }));
  } catch (error) {
    return fail('envelope_decrypt_failed', `The envelope does not decrypt with prekey ${envelope.prekey}.`, error);
  }

  const jws = attachedJws(plaintext);
  if (jws === undefined) {
    return fail(
      'envelope_malformed',
      'Malformed envelope: the plaintext is not a detached JWS, LF, an ASCII payload, 0x80 and zero bytes.',
    );
  }

  let claimed = '';
  const verified = await verifyInstanceJws(jws, {
    keys: async (header) => {
      const iss = header['iss'];
      if (!isDomain(iss))
        return fail('envelope_malformed', 'Malformed envelope: the inner JWS header has no sender domain (iss).');
      claimed = iss;
      if (options.expectedSender !== undefined && iss !== normalizeDomain(options.expectedSender)) {
        return fail(
          'envelope_bad_signature',
          `The envelope is signed by "${iss}" but was delivered by "${options.expectedSender}".`,
        );
      }
      let keys: readonly Ed25519PublicJwk[] | undefined;
      try {
        keys = await options.senderKeys(iss);
      } catch (error) {
        return fail('envelope_bad_signature', `The signing keys of "${iss}" could not be read.`, error);
      }
      if (keys === undefined || keys.length === 0) {
        return fail('envelope_bad_signature', `The feed lists no signing key for "${iss}".`);
      }
      return ok(keys);
    },
    typ: ENVELOPE_JWS_TYPE,
    codes: { malformed: 'envelope_malformed', badSignature: 'envelope_bad_signature' },
    maxLength: 2 * bucket,
    what: 'envelope payload',
    extraHeaderMembers: ['iss'],
  });
  if (!verified.ok) return verified;

  const parsed = parsePayload(verified.value.payload);
  if (!parsed.ok) return parsed;
  const content = parsed.value;
  if (content.from.instance !== claimed) {
    return fail(
      'envelope_malformed',
      `Malformed envelope: signed as "${claimed}" for a payload from "${content.from.instance}".`,
    );
  }
  if (content.to.instance !== destination) {
    return fail(
      'envelope_wrong_destination',
      `The envelope payload is for "${content.to.instance}", not "${destination}".`,
    );
  }
  const tolerance = options.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS;
  if (content.created > options.now + tolerance) {
    return fail(
      'envelope_expired',
      `The envelope was created at ${content.created}, in the future (it is ${options.now}).`,
    );
  }
  if (options.now - tolerance >= content.expires) {
    return fail('envelope_expired', `The envelope expired at ${content.expires}; it is ${options.now}.`);
  }
  return ok({ content, senderKid: verified.value.kid, prekeyKid: envelope.prekey, bucket });
}

// ---------------------------------------------------------------------------------------------------------------

function parseOuter(input: unknown, maxBytes: number): Result<SealedEnvelope> {
  let value: unknown = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    const length = typeof input === 'string' ? input.length : input.byteLength;
    if (length > maxBytes)
      return fail('envelope_oversize', `The envelope is ${length} bytes; at most ${maxBytes} are accepted.`);
    const text = typeof input === 'string' ? input : utf8Decode(input);
    if (text === undefined) return outerMalformed('it is not UTF-8');
    try {
      value = JSON.parse(text);
    } catch {
      return outerMalformed('it is not JSON');
    }
  }
  if (!isRecord(value)) return outerMalformed('it is not an object');
  if (!hasOnlyMembers(value, ['v', 'to', 'prekey', 'jwe']))
    return outerMalformed('it has members other than v, to, prekey, jwe');
  const { v, to, prekey, jwe } = value;
  if (v !== ENVELOPE_VERSION) return outerMalformed(`v must be ${ENVELOPE_VERSION}`);
  if (!isDomain(to)) return outerMalformed('to is not a normalised domain name');
  if (typeof prekey !== 'string' || !SHA256_BASE64URL.test(prekey))
    return outerMalformed('prekey is not a key thumbprint');
  if (typeof jwe !== 'string') return outerMalformed('jwe is not a string');
  if (jwe.length > maxBytes)
    return fail('envelope_oversize', `The JWE is ${jwe.length} characters; at most ${maxBytes} are accepted.`);
  return ok({ v, to, prekey, jwe });
}

/** Checks the compact JWE's shape, header and ciphertext length; returns the bucket. */
function checkJwe(envelope: SealedEnvelope, maxBytes: number): Result<number> {
  const { jwe } = envelope;
  const dots: number[] = [];
  for (let index = jwe.indexOf('.'); index !== -1 && dots.length <= 4; index = jwe.indexOf('.', index + 1))
    dots.push(index);
  if (dots.length !== 4) return jweMalformed('it is not a compact JWE (five parts)');
  const [d1, d2, d3, d4] = dots as [number, number, number, number];
  const header = jwe.slice(0, d1);
  const encryptedKey = jwe.slice(d1 + 1, d2);
  const iv = jwe.slice(d2 + 1, d3);
  const ciphertextLength = d4 - d3 - 1;
  const tag = jwe.slice(d4 + 1);
  if (header.length === 0 || header.length > MAX_JWE_HEADER_LENGTH || !BASE64URL.test(header))
    return jweMalformed('bad protected header');
  if (encryptedKey !== '') return jweMalformed('ECDH-ES has no encrypted key');
  if (iv.length !== 16 || !BASE64URL.test(iv) || tag.length !== 22 || !BASE64URL.test(tag))
    return jweMalformed('bad IV or tag');
  // One spelling per value: the unused low bits of a last base64url character must be zero (decoders ignore them).
  if (!hasCanonicalTail(header) || !hasCanonicalTail(tag) || !hasCanonicalTail(jwe.charAt(d4 - 1), ciphertextLength)) {
    return jweMalformed('a part is not canonical base64url');
  }
  let parsedHeader: Record<string, unknown>;
  try {
    parsedHeader = decodeProtectedHeader(jwe);
  } catch {
    return jweMalformed('the protected header is not base64url JSON');
  }
  if (!hasOnlyMembers(parsedHeader, JWE_HEADER_MEMBERS))
    return jweMalformed(`the header may hold only ${JWE_HEADER_MEMBERS.join(', ')}`);
  if (parsedHeader['alg'] !== 'ECDH-ES' || parsedHeader['enc'] !== 'A256GCM')
    return jweMalformed('alg must be ECDH-ES and enc A256GCM');
  if (parsedHeader['typ'] !== ENVELOPE_JWE_TYPE) return jweMalformed(`typ must be "${ENVELOPE_JWE_TYPE}"`);
  if (parsedHeader['kid'] !== envelope.prekey)
    return jweMalformed('the header kid is not the prekey of the outer layer');
  const epk = parsedHeader['epk'];
  if (!hasOnlyMembers(epk, ['kty', 'crv', 'x']) || parseOkpPublicJwk(epk, 'X25519') === undefined) {
    return jweMalformed('epk is not a public X25519 JWK');
  }
  if (ciphertextLength > maxBytes)
    return fail(
      'envelope_oversize',
      `The ciphertext is ${ciphertextLength} characters; at most ${maxBytes} are accepted.`,
    );
  for (let bucket = MIN_BUCKET_BYTES; bucket <= MAX_BUCKET_BYTES; bucket *= 2) {
    if (ciphertextLength === base64UrlLength(bucket)) {
      // The ciphertext characters are checked by the decryption (base64url) and the tag.
      return ok(bucket);
    }
  }
  if (ciphertextLength > base64UrlLength(MAX_BUCKET_BYTES))
    return fail('envelope_oversize', 'The ciphertext is larger than the largest bucket.');
  return jweMalformed('the ciphertext is not the size of a bucket (padding missing)');
}

/** `<protected header>..<signature> LF <payload>`: the signed payload with a detached JWS (RFC 7515 appendix F). */
async function innerPlaintext(payload: unknown, signingKey: Ed25519KeyPair): Promise<Uint8Array> {
  const payloadBytes = canonicalJsonBytes(payload);
  const jws = await signInstanceJwsBytes(payloadBytes, signingKey, ENVELOPE_JWS_TYPE, {
    iss: (payload as { from: EnvelopeFrom }).from.instance,
  });
  const detached = `${jws.slice(0, jws.indexOf('.'))}..${jws.slice(jws.lastIndexOf('.') + 1)}\n`;
  const inner = new Uint8Array(detached.length + payloadBytes.byteLength);
  inner.set(utf8Encode(detached));
  inner.set(payloadBytes, detached.length);
  return inner;
}

const DETACHED_JWS = /^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+$/;
const ATTACHED_SHAPE = /^[\x20-\x7e]+\n[\x20-\x7e]*$/;

/**
 * The compact JWS of a padded plaintext, payload re-attached: printable ASCII with one LF between the detached JWS
 * and the payload, then a 0x80 marker followed only by zero bytes.
 */
function attachedJws(plaintext: Uint8Array): string | undefined {
  let end = plaintext.byteLength - 1;
  while (end >= 0 && plaintext[end] === 0) end--;
  if (end < 1 || plaintext[end] !== PADDING_MARKER) return undefined;
  const inner = plaintext.subarray(0, end);
  const text = Buffer.from(inner.buffer, inner.byteOffset, inner.byteLength).toString('latin1');
  // Printable ASCII but for one LF (a regular expression over the latin1 text, not a loop over ~15 KB of bytes).
  if (!ATTACHED_SHAPE.test(text)) return undefined;
  const lf = text.indexOf('\n');
  const detached = text.slice(0, lf);
  if (!DETACHED_JWS.test(detached)) return undefined;
  const payload = Buffer.from(inner.buffer, inner.byteOffset + lf + 1, inner.byteLength - lf - 1).toString('base64url');
  return `${detached.slice(0, detached.indexOf('.'))}.${payload}${detached.slice(detached.indexOf('.') + 1)}`;
}

function parsePayload(input: unknown): Result<EnvelopeContent> {
  if (!hasOnlyMembers(input, ['from', 'to', 'id', 'created', 'expires', 'contentType', 'body', 'e2e'])) {
    return payloadMalformed('it is not an object with only from, to, id, created, expires, contentType, body, e2e');
  }
  const { from, to, id, created, expires, contentType, body, e2e } = input;
  if (!hasOnlyMembers(from, ['instance', 'account']) || !isDomain(from['instance'])) {
    return payloadMalformed('from must be { instance, account? } with a normalised domain');
  }
  if (from['account'] !== undefined && !isLocalPart(from['account']))
    return payloadMalformed('from.account is not a local part');
  if (!hasOnlyMembers(to, ['instance', 'local']) || !isDomain(to['instance']) || !isLocalPart(to['local'])) {
    return payloadMalformed('to must be { instance, local } with a normalised domain and a local part');
  }
  if (typeof id !== 'string' || decodeBase64Url(id)?.byteLength !== ID_BYTES)
    return payloadMalformed('id is not 16 bytes of base64url');
  if (!isTimestamp(created) || !isTimestamp(expires))
    return payloadMalformed('created and expires must be integer seconds');
  if (expires <= created || expires - created > MAX_ENVELOPE_LIFETIME_SECONDS) {
    return payloadMalformed(`the lifetime must be more than 0 and at most ${MAX_ENVELOPE_LIFETIME_SECONDS} seconds`);
  }
  if (
    typeof contentType !== 'string' ||
    contentType.length > MAX_CONTENT_TYPE_LENGTH ||
    !CONTENT_TYPE.test(contentType)
  ) {
    return payloadMalformed('contentType is not a lowercase media type without parameters');
  }
  if (typeof body !== 'string') return payloadMalformed('body is not a string');
  const bytes = decodeBase64Url(body);
  if (bytes === undefined) return payloadMalformed('body is not canonical base64url');
  if (typeof e2e !== 'boolean') return payloadMalformed('e2e is not a boolean');
  const sender: EnvelopeFrom =
    from['account'] === undefined
      ? { instance: from['instance'] }
      : { instance: from['instance'], account: from['account'] as string };
  return ok({
    from: sender,
    to: { instance: to['instance'], local: to['local'] },
    id,
    created,
    expires,
    contentType,
    body: bytes,
    e2e,
  });
}

/** Whether the last character of a base64url text of `length` characters leaves no unused bit set. */
function hasCanonicalTail(text: string, length = text.length): boolean {
  const last = text.charAt(text.length - 1);
  if (length % 4 === 2) return 'AQgw'.includes(last);
  if (length % 4 === 3) return 'AEIMQUYcgkosw048'.includes(last);
  return length % 4 === 0;
}

function base64UrlLength(bytes: number): number {
  return Math.ceil((bytes * 4) / 3);
}

function outerMalformed(reason: string) {
  return fail('envelope_malformed', `Malformed envelope: ${reason}.`);
}

function jweMalformed(reason: string) {
  return fail('envelope_malformed', `Malformed envelope JWE: ${reason}.`);
}

function payloadMalformed(reason: string) {
  return fail('envelope_malformed', `Malformed envelope payload: ${reason}.`);
}
