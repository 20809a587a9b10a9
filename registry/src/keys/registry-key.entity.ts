import type { Ed25519PublicJwk } from '@caliopen/federation-protocol';

/** A registry signing key; the private half sealed with the master key. */
export interface RegistryKeyRecord {
  kid: string;
  publicJwk: Ed25519PublicJwk;
  privateSealed: string;
  /** NumericDate window in which peers accept it. */
  notBefore: number;
  notAfter: number;
  createdAt: Date;
}

/** A signed key rotation statement: the key set from `sequence` on, signed by a key of the set before it. */
export interface KeySetStatementRecord {
  sequence: number;
  jws: string;
  createdAt: Date;
}
