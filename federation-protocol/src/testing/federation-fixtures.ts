import { CompactEncrypt, CompactSign, importJWK } from 'jose';
import { canonicalJsonBytes, sha256 } from '../canonical-json.ts';
import { encodeBase64Url, utf8Encode } from '../encoding.ts';
import { ENVELOPE_JWE_TYPE, ENVELOPE_JWS_TYPE, bucketFor, encryptForPrekey } from '../envelope.ts';
import type { SealedEnvelope } from '../envelope.ts';
import { signInstanceJwsBytes } from '../instance-jws.ts';
import type { Ed25519KeyPair, Ed25519PublicJwk } from '../keys.ts';
import { privateCryptoKey } from '../keys.ts';
import { generatePrekey } from '../prekeys.ts';
import type { Prekey, PrekeyPrivate, RandomBytes } from '../prekeys.ts';
import { T0, instanceFixture } from './fixtures.ts';

/**
 * Deterministic fixtures for the federation modules (prekeys, envelopes, request signatures, receipts): two
 * instances, alpha (sender) and beta (recipient), prekeys and "randomness" derived from names, and a raw sealer that
 * builds envelopes an honest sender never would, to test what a recipient refuses.
 */

export const alpha = instanceFixture('alpha.caliopen.test');
export const beta = instanceFixture('beta.caliopen.test');
export const gamma = instanceFixture('gamma.caliopen.test');

/** Randomness from a name: SHA-256(name || counter) blocks, consumed in order. Never for real keys. */
export function seededRandom(name: string): RandomBytes {
  let counter = 0;
  let pool = new Uint8Array(0);
  return (length) => {
    while (pool.byteLength < length) {
      const block = sha256(utf8Encode(`caliopen test randomness: ${name} ${counter++}`));
      const next = new Uint8Array(pool.byteLength + block.byteLength);
      next.set(pool);
      next.set(block, pool.byteLength);
      pool = next;
    }
    const out = pool.slice(0, length);
    pool = pool.slice(length);
    return out;
  };
}

/** Randomness that hands out the given bytes in order (test vectors list them), and fails when they run out. */
export function fixedRandom(bytes: Uint8Array): RandomBytes {
  let offset = 0;
  return (length) => {
    if (offset + length > bytes.byteLength) throw new RangeError('The fixed randomness ran out.');
    const out = bytes.slice(offset, offset + length);
    offset += length;
    return out;
  };
}

/** A prekey of `domain` valid from `notBefore` for a day, from a named seed. */
export function prekeyFixture(domain: string, notBefore = T0, name = `${domain} prekey ${notBefore}`) {
  return generatePrekey({ domain, notBefore, randomBytes: seededRandom(name) });
}

export const betaPrekey = prekeyFixture(beta.domain);

/** What openEnvelope needs to look keys up, from lists of prekeys and instances. */
export function keyLookups(
  prekeys: readonly PrekeyPrivate[],
  instances: readonly { domain: string; signingKey: Ed25519KeyPair }[],
) {
  const byKid = new Map(prekeys.map((prekey) => [prekey.kid, prekey]));
  const byDomain = new Map<string, readonly Ed25519PublicJwk[]>(
    instances.map((instance) => [instance.domain, [instance.signingKey.publicJwk]]),
  );
  return {
    prekeyPrivate: (kid: string) => byKid.get(kid),
    senderKeys: (domain: string) => byDomain.get(domain),
  };
}

export interface RawSealInput {
  /** The inner payload (any JSON), signed as is. */
  readonly payload: unknown;
  readonly signingKey: Ed25519KeyPair;
  /** The `iss` of the inner JWS header. */
  readonly iss: string;
  readonly prekey: Prekey;
  /** Replace the plaintext (padded JWS) by these bytes. */
  readonly plaintext?: Uint8Array;
  /** Extra or replaced members of the JWE protected header. */
  readonly header?: Record<string, unknown>;
  readonly typ?: string;
  readonly outer?: Partial<Record<keyof SealedEnvelope, unknown>> & Record<string, unknown>;
  /** Draws the ephemeral key and the IV (no `header` then), for deterministic vectors. */
  readonly randomBytes?: RandomBytes;
}

/** The parts concatenated, then 0x80 and zero bytes up to their bucket. */
export function padded(...parts: Uint8Array[]): Uint8Array {
  const length = parts.reduce((sum, part) => sum + part.byteLength, 0);
  const out = new Uint8Array(bucketFor(length)!);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  out[offset] = 0x80;
  return out;
}

/** Seals anything: for tests of what a recipient refuses. */
export async function sealRaw(input: RawSealInput): Promise<Record<string, unknown>> {
  let plaintext = input.plaintext;
  if (plaintext === undefined) {
    const payload = canonicalJsonBytes(input.payload);
    const jws = await signInstanceJwsBytes(payload, input.signingKey, input.typ ?? ENVELOPE_JWS_TYPE, {
      iss: input.iss,
    });
    plaintext = padded(
      utf8Encode(`${jws.slice(0, jws.indexOf('.'))}..${jws.slice(jws.lastIndexOf('.') + 1)}\n`),
      payload,
    );
  }
  const jwe =
    input.header === undefined
      ? await encryptForPrekey(plaintext, input.prekey, input.randomBytes)
      : await new CompactEncrypt(plaintext)
          .setProtectedHeader({
            alg: 'ECDH-ES',
            enc: 'A256GCM',
            kid: input.prekey.kid,
            typ: ENVELOPE_JWE_TYPE,
            ...input.header,
          } as never)
          .encrypt(await importJWK({ ...input.prekey.publicJwk }, 'ECDH-ES'));
  return { v: 1, to: input.prekey.domain, prekey: input.prekey.kid, jwe, ...input.outer };
}

/** A valid inner payload from alice@alpha to bob@beta, created at `created`. */
export function payloadFor(created: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    from: { instance: alpha.domain, account: 'alice' },
    to: { instance: beta.domain, local: 'bob' },
    id: encodeBase64Url(sha256(`envelope ${created}`).slice(0, 16)),
    created,
    expires: created + 3600,
    contentType: 'message/rfc822',
    body: encodeBase64Url(utf8Encode('Subject: hello\r\n\r\nHello Bob.\r\n')),
    e2e: false,
    ...overrides,
  };
}

/** Flips one bit of the character at `index` of a base64url text, keeping it base64url. */
export function flipBase64UrlChar(text: string, index: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const position = alphabet.indexOf(text[index]!);
  if (position === -1) return text;
  return text.slice(0, index) + alphabet[position ^ 1] + text.slice(index + 1);
}

/** A compact JWS with the given header over the given payload, signed by `key`: for malformed-header tests. */
export async function signWithHeader(
  header: Record<string, unknown>,
  payload: unknown,
  key: Ed25519KeyPair,
): Promise<string> {
  return new CompactSign(canonicalJsonBytes(payload))
    .setProtectedHeader(header as never)
    .sign(await privateCryptoKey(key));
}
