import type * as openpgp from 'openpgp';
import type { Account } from '../accounts/account.entity.ts';
import type { AccountKey } from './account-key.entity.ts';
import type { AccountKeys, KeyStorageMode, OwnPublicKey } from './account-key.port.ts';
import {
  AccountKeyContext,
  type AccountKeyServiceDeps,
  type ModeSwitchOptions,
  type ServerKeyOptions,
  type SessionRef,
} from './account-key.context.ts';
import { AccountKeyCustody } from './account-key.custody.ts';
import { AccountKeyLifecycle } from './account-key.lifecycle.ts';
import { AccountKeyModeSwitch } from './account-key.mode.ts';
import type { KeyUnlockCache } from './key-unlock.cache.ts';

export {
  type AccountKeyServiceDeps,
  armorPublic,
  type ModeSwitchOptions,
  type ServerKeyOptions,
  type SessionRef,
} from './account-key.context.ts';

/**
 * The account's own OpenPGP keys and where the private key lives (the user's choice, seed 000):
 * - `server`: generated here (or imported), kept wrapped under a key derived from the password and sealed with the
 *   instance key (account-key.wrap.ts). Unlockable only while a session that proved the password is live
 *   (KeyUnlockCache): at login, or when a key operation re-asks the password. Keeps server-side decryption and search.
 * - `client`: only the public key is sent; the server never sees the private key.
 * - switching either way: server -> client hands the private key out once (armoured, passphrase-protected) and
 *   erases the server copy; client -> server takes the private key the client uploads.
 * Generated keys are v4 Curve25519 (docs/adr/0006-openpgp-key-version.md), without expiry, with a stored revocation
 * certificate. One key is `active`; rotation retires the previous one (kept to read old mail, never published).
 * Writes of one account are serialised in this process. Implements the AccountKeys port.
 *
 * A facade over its parts, one file each (issue 11): the keys' lifecycle (account-key.lifecycle.ts), the custody of
 * the server-held private key (account-key.custody.ts), switching where it lives (account-key.mode.ts), and what
 * they share (account-key.context.ts).
 */
export class AccountKeyService implements AccountKeys {
  readonly unlockCache: KeyUnlockCache;
  private readonly lifecycle: AccountKeyLifecycle;
  private readonly custody: AccountKeyCustody;
  private readonly modeSwitch: AccountKeyModeSwitch;
  private readonly ctx: AccountKeyContext;

  constructor(deps: AccountKeyServiceDeps) {
    const ctx = new AccountKeyContext(deps);
    this.ctx = ctx;
    this.custody = new AccountKeyCustody(ctx);
    this.lifecycle = new AccountKeyLifecycle(ctx, this.custody);
    this.modeSwitch = new AccountKeyModeSwitch(ctx, this.custody);
    this.unlockCache = this.custody.unlockCache;
  }

  // --- the port -------------------------------------------------------------------------------------------------

  mode(accountId: string): Promise<KeyStorageMode> {
    return this.lifecycle.mode(accountId);
  }

  publicKey(accountId: string): Promise<OwnPublicKey | null> {
    return this.lifecycle.publicKey(accountId);
  }

  unlocked(accountId: string): Promise<openpgp.PrivateKey | null> {
    return this.custody.unlocked(accountId);
  }

  /**
   * Every server-held private key of the account this process can unlock now, the active one first, then retired
   * and revoked ones (still needed to read mail encrypted to them). Empty in client mode or with no live unlock.
   */
  unlockedKeys(accountId: string): Promise<openpgp.PrivateKey[]> {
    return this.custody.unlockedKeys(accountId);
  }

  // --- reading ---------------------------------------------------------------------------------------------------

  /** The address the account's keys carry in a user ID (a key made on the user's device must carry it too). */
  addressOf(account: Account): string {
    return this.ctx.addressOf(account);
  }

  /** Every key of the account, newest first. */
  list(accountId: string): Promise<AccountKey[]> {
    return this.lifecycle.list(accountId);
  }

  /** Whether this process holds a live unlock for the account's active server-held key (no decryption done). */
  isUnlocked(accountId: string): Promise<boolean> {
    return this.custody.isUnlocked(accountId);
  }

  // --- adding keys -----------------------------------------------------------------------------------------------

  /**
   * Generates a key (v4 Curve25519, user ID `<displayName> <username@domain>`). Server mode only: in client mode
   * the key is made on the user's device and its public key sent (importPublic). When a key is active already, this
   * is a rotation: the previous key is retired.
   */
  generate(accountId: string, options: { mode: KeyStorageMode } & Partial<ServerKeyOptions>): Promise<AccountKey> {
    return this.lifecycle.generate(accountId, options);
  }

  /** A new key replacing the active server-held one (which is retired). */
  rotate(accountId: string, options: ServerKeyOptions): Promise<AccountKey> {
    return this.lifecycle.rotate(accountId, options);
  }

  /**
   * Imports a private key to keep on the server (server mode): the armoured private key, opened with `passphrase`
   * when protected. It must carry the account's address in a valid user ID, and be neither expired nor revoked.
   */
  import(
    accountId: string,
    armoredPrivateKey: string,
    passphrase: string | undefined,
    options: ServerKeyOptions,
  ): Promise<AccountKey> {
    return this.lifecycle.import(accountId, armoredPrivateKey, passphrase, options);
  }

  /**
   * Client mode: the public key of a key made on the user's device (the private key never comes here), with its
   * revocation certificate when the client gives one. Replaces (retires) the active key when there is one.
   */
  importPublic(
    accountId: string,
    armoredPublicKey: string,
    options: { revocationCertificate?: string } = {},
  ): Promise<AccountKey> {
    return this.lifecycle.importPublic(accountId, armoredPublicKey, options);
  }

  /**
   * Revokes a key of the account with the stored revocation certificate (or the one given, made where the private
   * key is): the revocation is merged into the stored public key, and the key is no longer published (DNS, WKD,
   * Autocrypt) nor used. Revoking a revoked key changes nothing.
   */
  revoke(
    accountId: string,
    fingerprint: string,
    options: { revocationCertificate?: string } = {},
  ): Promise<AccountKey> {
    return this.lifecycle.revoke(accountId, fingerprint, options);
  }

  // --- where the private key lives --------------------------------------------------------------------------------

  /**
   * Switches where the private key lives.
   * - server -> client: the server-held private keys (active, retired, revoked) are handed out once, armoured and
   *   protected by `exportPassphrase` (default: the password), then erased from the server; unlock secrets dropped.
   * - client -> server: the client uploads its private key(s) (`armoredPrivateKey`, opened with `passphrase`); each
   *   must be one of the account's keys, the active one included. They are wrapped under the password's KEK.
   */
  setMode(
    accountId: string,
    mode: 'server' | 'client',
    options: ModeSwitchOptions,
  ): Promise<{ mode: KeyStorageMode; exported: string | null }> {
    return this.modeSwitch.setMode(accountId, mode, options);
  }

  /**
   * The server-held private keys, armoured and protected by `exportPassphrase` (default: the password), for the
   * move to client mode or a backup. Nothing changes on the server. Re-asks the password.
   */
  export(accountId: string, options: { password: string; exportPassphrase?: string }): Promise<string> {
    return this.modeSwitch.export(accountId, options);
  }

  // --- sessions and passwords ------------------------------------------------------------------------------------

  /**
   * At login, with the password in hand: derives the KEK for the account's server-held keys and holds it for the
   * session (only when it opens one of them). Never throws: a failure leaves the key locked and is logged.
   */
  sessionStarted(accountId: string, session: SessionRef, password: string): Promise<void> {
    return this.custody.sessionStarted(accountId, session, password);
  }

  /** The session ended (logout): what it held is forgotten. */
  sessionEnded(sessionId: string): void {
    this.custody.sessionEnded(sessionId);
  }

  /**
   * The password is about to change: the server-held keys are re-wrapped under a KEK derived from the new password
   * (fresh salt). The old KEK comes from the old password when the caller has it (the user changing it), else from a
   * live session of this process (an administrator resetting it while the user is signed in). Keys that neither
   * opens stay wrapped under the old password (then `key_locked` until moved). Resolves the commit, to call once the
   * new password is stored; it also drops the account's unlock secrets (its sessions end).
   */
  passwordChanging(accountId: string, newPassword: string, oldPassword?: string): Promise<() => Promise<void>> {
    return this.custody.passwordChanging(accountId, newPassword, oldPassword);
  }
}
