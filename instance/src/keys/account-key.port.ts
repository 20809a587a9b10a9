import type { PrivateKey } from 'openpgp';

/**
 * Where an account's private OpenPGP key lives — the user's choice, which shows in the account PI (seed 000):
 * - `none`: no key yet;
 * - `server`: stored encrypted at rest; the server can unlock it only with a secret derived from the user's password,
 *   held for the life of a session (so it can decrypt for reading and search while the user is signed in);
 * - `client`: the server never sees the private key; it stores ciphertext and searches metadata only.
 */
export type KeyStorageMode = 'none' | 'server' | 'client';

/** The account's own active key, as published (DNS OPENPGPKEY, WKD, Autocrypt) and given to correspondents. */
export interface OwnPublicKey {
  fingerprint: string;
  /** Binary transferable public key (no private parts). */
  publicKey: Uint8Array;
  armored: string;
}

/**
 * Port: what the rest of the instance may ask of the account-keys domain (compose, ingest, discovery, the PI).
 * Implemented by AccountKeyService (account-key.service.ts).
 */
export interface AccountKeys {
  mode(accountId: string): Promise<KeyStorageMode>;
  publicKey(accountId: string): Promise<OwnPublicKey | null>;
  /**
   * The active private key, unlocked, when the account is in `server` mode and a live session of this process holds
   * the unlock secret (derived from the password at login, or when a key operation re-asked it); null otherwise
   * (client mode, no key, nobody signed in since the process started, every session ended). Never persisted in clear.
   */
  unlocked(accountId: string): Promise<PrivateKey | null>;
  /**
   * Every server-held private key this process can unlock now, the active one first, then retired and revoked ones
   * (mail encrypted to a key before its rotation still decrypts). Optional: test doubles may leave it out.
   */
  unlockedKeys?(accountId: string): Promise<PrivateKey[]>;
}
