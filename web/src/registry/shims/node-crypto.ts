import { sha256 } from '@noble/hashes/sha2.js';

/**
 * The part of `node:crypto` the bundled federation-protocol code needs in the browser to hash the Merkle tree:
 * a synchronous SHA-256 `createHash` (WebCrypto's digest is asynchronous). Everything else (keys, random bytes) is
 * not used by the site and throws if something calls it, rather than pretending.
 */
class Sha256 {
  private readonly hasher = sha256.create();
  /** Bytes, or a string hashed as UTF-8 (Node's default). */
  update(data: Uint8Array | string): this {
    this.hasher.update(typeof data === 'string' ? new TextEncoder().encode(data) : data);
    return this;
  }
  digest(): Uint8Array {
    return this.hasher.digest();
  }
}

export function createHash(algorithm: string): Sha256 {
  if (algorithm !== 'sha256') throw new Error(`createHash(${algorithm}) is not available in the browser.`);
  return new Sha256();
}

const unavailable = (name: string) => () => {
  throw new Error(`node:crypto ${name} is not available in the registry's site.`);
};
export const createPrivateKey = unavailable('createPrivateKey');
export const createPublicKey = unavailable('createPublicKey');
export const generateKeyPairSync = unavailable('generateKeyPairSync');
export const randomBytes = unavailable('randomBytes');
export const randomUUID = unavailable('randomUUID');
export default { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, randomUUID };
