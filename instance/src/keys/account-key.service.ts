import type { EventPublisher } from '../shared/event-bus.ts';
import type { KeyEvents } from './key.events.ts';
import * as openpgp from 'openpgp';
import type { Account } from '../accounts/account.entity.ts';
import type { AccountRepository } from '../accounts/account.repository.ts';
import {
  DEFAULT_PASSWORD_HASHING,
  type PasswordHasher,
  type PasswordHasherOptions,
} from '@caliopen/platform/crypto/password.hasher.ts';
import type { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import { MailboxLocks } from '../mail/mailbox-lock.ts';
import { OPENPGP_CONFIG } from '../openpgp/openpgp.config.ts';
import { parsePublicKey, type ParsedPublicKey } from '../openpgp/openpgp.keys.ts';
import type { Session } from '../sessions/session.entity.ts';
import type { SessionRepository } from '../sessions/session.repository.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import { AppError } from '../shared/errors.ts';
import type { AccountKey, KekDerivation, WrappedPrivateKey } from './account-key.entity.ts';
import type { AccountKeys, KeyStorageMode, OwnPublicKey } from './account-key.port.ts';
import {
  applyRevocation,
  asAppError,
  MAX_PRIVATE_KEYS,
  readPrivateKeys,
  revocationCertificateOf,
} from './account-key.private.ts';
import type { AccountKeyRepository } from './account-key.repository.ts';
import {
  deriveKek,
  newKekDerivation,
  sameSalt,
  unwrapPrivateKey,
  wrapPrivateKey,
  wrapPurpose,
} from './account-key.wrap.ts';
import { KeyUnlockCache, type HeldKek } from './key-unlock.cache.ts';

/** The session a request runs in: a KEK the user just proved is held for it, so the key is unlocked at once. */
export type SessionRef = Pick<Session, 'id' | 'expiresAt'>;

export interface AccountKeyServiceDeps {
  keys: AccountKeyRepository;
  accounts: AccountRepository;
  /** To check that a session holding a KEK is still live (not revoked, not expired) before using it. */
  sessions: SessionRepository;
  box: SecretBox;
  /** Re-authentication: key operations that touch the private key ask for the password again. */
  hasher: PasswordHasher;
  clock: Clock;
  /** The instance's mail domain: user IDs are `<displayName> <username@domain>`. */
  domain: string;
  /** argon2id cost of KEK derivations (default: the password hashing cost, OWASP baseline). */
  kdf?: PasswordHasherOptions;
  /**
   * Told `keys.changed` (address null) after the account's keys or their storage mode changed (the account PI moves),
   * and `key.unlocked` once a session holds an unlock for its server-held key (login, key moved to the server): mail
   * that arrived while it was locked is decrypted then. A reaction's failure never stops a login.
   */
  events?: EventPublisher<KeyEvents>;
  /** Where failures of background unlocks are told (never with a secret). */
  logger?: { warn(obj: object, msg: string): void };
}

export interface ServerKeyOptions {
  /** The account's password: re-authentication, and what the key-encryption key is derived from. */
  password: string;
  /** The caller's session: the derived KEK is held for it, so the new key is unlocked right away. */
  session?: SessionRef;
}

export interface ModeSwitchOptions {
  password: string;
  session?: SessionRef;
  /** server -> client: the passphrase protecting the handed-out private key (default: the password). */
  exportPassphrase?: string;
  /** client -> server: the armoured private key(s) the client uploads, and the passphrase that opens them. */
  armoredPrivateKey?: string;
  passphrase?: string;
}

/** A fresh derivation's salt is random: a KEK derived for it and the wrapped keys it opens. */
interface OpenedKek {
  kdf: KekDerivation;
  kek: Buffer;
}

/** User ID names stay plain: no address brackets, comment parentheses, quotes or control characters. */
function userIdName(displayName: string, fallback: string): string {
  const name = displayName
    .replace(/[<>()"\\\p{Cc}]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 100);
  return name === '' ? fallback : name;
}

const isServerHeld = (k: AccountKey): k is AccountKey & { privateKey: WrappedPrivateKey } => k.privateKey !== null;

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
 */
export class AccountKeyService implements AccountKeys {
  private readonly deps: AccountKeyServiceDeps;
  private readonly kdf: PasswordHasherOptions;
  private readonly locks = new MailboxLocks();
  readonly unlockCache = new KeyUnlockCache();

  constructor(deps: AccountKeyServiceDeps) {
    this.deps = deps;
    this.kdf = deps.kdf ?? DEFAULT_PASSWORD_HASHING;
  }

  // --- the port -------------------------------------------------------------------------------------------------

  async mode(accountId: string): Promise<KeyStorageMode> {
    const active = await this.active(accountId);
    return active === null ? 'none' : active.privateKey !== null ? 'server' : 'client';
  }

  async publicKey(accountId: string): Promise<OwnPublicKey | null> {
    const active = await this.active(accountId);
    if (active === null || (active.keyExpiresAt !== null && active.keyExpiresAt <= this.deps.clock())) return null;
    return { fingerprint: active.fingerprint, publicKey: active.publicKey, armored: armorPublic(active.publicKey) };
  }

  async unlocked(accountId: string): Promise<openpgp.PrivateKey | null> {
    const active = await this.active(accountId);
    if (active === null || !isServerHeld(active)) return null;
    const [opened] = await this.openWithHeld(accountId, [active]);
    return opened?.key ?? null;
  }

  /**
   * Every server-held private key of the account this process can unlock now, the active one first, then retired
   * and revoked ones (still needed to read mail encrypted to them). Empty in client mode or with no live unlock.
   */
  async unlockedKeys(accountId: string): Promise<openpgp.PrivateKey[]> {
    const keys = (await this.deps.keys.listByAccount(accountId)).filter(isServerHeld);
    keys.sort((a, b) => Number(b.status === 'active') - Number(a.status === 'active'));
    return (await this.openWithHeld(accountId, keys)).map((o) => o.key);
  }

  // --- reading ---------------------------------------------------------------------------------------------------

  /** Every key of the account, newest first. */
  list(accountId: string): Promise<AccountKey[]> {
    return this.deps.keys.listByAccount(accountId);
  }

  /** Whether this process holds a live unlock for the account's active server-held key (no decryption done). */
  async isUnlocked(accountId: string): Promise<boolean> {
    const active = await this.active(accountId);
    if (active === null || !isServerHeld(active)) return false;
    return (await this.liveKeks(accountId)).some((h) => sameSalt(h.kdf, active.privateKey.kek));
  }

  // --- adding keys -----------------------------------------------------------------------------------------------

  /**
   * Generates a key (v4 Curve25519, user ID `<displayName> <username@domain>`). Server mode only: in client mode
   * the key is made on the user's device and its public key sent (importPublic). When a key is active already, this
   * is a rotation: the previous key is retired.
   */
  async generate(
    accountId: string,
    options: { mode: KeyStorageMode } & Partial<ServerKeyOptions>,
  ): Promise<AccountKey> {
    if (options.mode !== 'server') {
      throw new AppError(
        'key_request_invalid',
        'In client mode the key is made on your device: send its public key (`armoredPublicKey`).',
      );
    }
    const password = requirePassword(options.password);
    const key = await this.locks.run(accountId, async () => {
      const account = await this.reauthenticate(accountId, password);
      const existing = await this.deps.keys.listByAccount(accountId);
      this.refuseOtherMode(existing, 'server');
      const now = this.deps.clock();
      const { privateKey, revocationCertificate } = await openpgp.generateKey({
        type: 'curve25519',
        userIDs: [{ name: userIdName(account.displayName, account.username), email: this.addressOf(account) }],
        format: 'object',
        date: now,
        config: { ...OPENPGP_CONFIG, v6Keys: false },
      });
      return this.fileServerKey(
        account,
        existing,
        privateKey,
        revocationCertificate,
        { password, ...(options.session ? { session: options.session } : {}) },
        now,
      );
    });
    await this.changed(accountId);
    return key;
  }

  /** A new key replacing the active server-held one (which is retired). */
  async rotate(accountId: string, options: ServerKeyOptions): Promise<AccountKey> {
    if ((await this.mode(accountId)) !== 'server') {
      throw new AppError(
        'key_request_invalid',
        'Only a server-held key is rotated here; in client mode, make the new key on your device and send its public key.',
      );
    }
    return this.generate(accountId, { mode: 'server', ...options });
  }

  /**
   * Imports a private key to keep on the server (server mode): the armoured private key, opened with `passphrase`
   * when protected. It must carry the account's address in a valid user ID, and be neither expired nor revoked.
   */
  async import(
    accountId: string,
    armoredPrivateKey: string,
    passphrase: string | undefined,
    options: ServerKeyOptions,
  ): Promise<AccountKey> {
    const password = requirePassword(options.password);
    const now = this.deps.clock();
    const [privateKey] = await readPrivateKeys(armoredPrivateKey, passphrase, { now });
    const key = await this.locks.run(accountId, async () => {
      const account = await this.reauthenticate(accountId, password);
      const existing = await this.deps.keys.listByAccount(accountId);
      this.refuseOtherMode(existing, 'server');
      this.refuseKnown(existing, privateKey!.getFingerprint().toLowerCase());
      return this.fileServerKey(
        account,
        existing,
        privateKey!,
        await revocationCertificateOf(privateKey!, now),
        options,
        now,
      );
    });
    await this.changed(accountId);
    return key;
  }

  /**
   * Client mode: the public key of a key made on the user's device (the private key never comes here), with its
   * revocation certificate when the client gives one. Replaces (retires) the active key when there is one.
   */
  async importPublic(
    accountId: string,
    armoredPublicKey: string,
    options: { revocationCertificate?: string } = {},
  ): Promise<AccountKey> {
    const key = await this.locks.run(accountId, async () => {
      const account = await this.mustAccount(accountId);
      const now = this.deps.clock();
      const parsed = await this.checkPublic(account, armoredPublicKey, now);
      if (options.revocationCertificate !== undefined)
        await applyRevocation(parsed.publicKey, options.revocationCertificate, now);
      const existing = await this.deps.keys.listByAccount(accountId);
      this.refuseOtherMode(existing, 'client');
      this.refuseKnown(existing, parsed.fingerprint);
      await this.retireActive(existing, now);
      const key = this.newKey(account.id, parsed, options.revocationCertificate ?? null, null, now);
      await this.deps.keys.put(key);
      return key;
    });
    await this.changed(accountId);
    return key;
  }

  /**
   * Revokes a key of the account with the stored revocation certificate (or the one given, made where the private
   * key is): the revocation is merged into the stored public key, and the key is no longer published (DNS, WKD,
   * Autocrypt) nor used. Revoking a revoked key changes nothing.
   */
  async revoke(
    accountId: string,
    fingerprint: string,
    options: { revocationCertificate?: string } = {},
  ): Promise<AccountKey> {
    const wanted = fingerprint.toLowerCase();
    const { key, changed } = await this.locks.run(accountId, async () => {
      const key = await this.deps.keys.get(accountId, wanted);
      if (key === null) throw new AppError('not_found', 'No such key in your account.');
      if (key.status === 'revoked') return { key, changed: false };
      const certificate = options.revocationCertificate ?? key.revocationCertificate;
      if (certificate === null) throw new AppError('key_revocation_missing');
      const now = this.deps.clock();
      const revoked: AccountKey = {
        ...key,
        publicKey: await applyRevocation(key.publicKey, certificate, now),
        status: 'revoked',
        revocationCertificate: certificate,
        updatedAt: now,
      };
      await this.deps.keys.put(revoked);
      return { key: revoked, changed: true };
    });
    if (changed) await this.changed(accountId);
    return key;
  }

  // --- where the private key lives --------------------------------------------------------------------------------

  /**
   * Switches where the private key lives.
   * - server -> client: the server-held private keys (active, retired, revoked) are handed out once, armoured and
   *   protected by `exportPassphrase` (default: the password), then erased from the server; unlock secrets dropped.
   * - client -> server: the client uploads its private key(s) (`armoredPrivateKey`, opened with `passphrase`); each
   *   must be one of the account's keys, the active one included. They are wrapped under the password's KEK.
   */
  async setMode(
    accountId: string,
    mode: 'server' | 'client',
    options: ModeSwitchOptions,
  ): Promise<{ mode: KeyStorageMode; exported: string | null }> {
    const password = requirePassword(options.password);
    const result = await this.locks.run(accountId, async () => {
      const account = await this.reauthenticate(accountId, password);
      const existing = await this.deps.keys.listByAccount(accountId);
      const active = existing.find((k) => k.status === 'active');
      if (active === undefined) throw new AppError('key_none');
      const current = active.privateKey !== null ? 'server' : 'client';
      if (current === mode) throw new AppError('key_mode_unchanged');
      const now = this.deps.clock();
      if (mode === 'client') {
        const exported = await this.exportHeld(existing, password, options.exportPassphrase ?? password);
        for (const k of existing.filter(isServerHeld))
          await this.deps.keys.put({ ...k, privateKey: null, updatedAt: now });
        this.unlockCache.dropAccount(accountId);
        return { mode: 'client' as const, exported };
      }
      if (options.armoredPrivateKey === undefined) {
        throw new AppError(
          'key_request_invalid',
          'Moving the key to the server needs the private key (`armoredPrivateKey`) and its passphrase.',
        );
      }
      const uploaded = await readPrivateKeys(options.armoredPrivateKey, options.passphrase, {
        now,
        max: MAX_PRIVATE_KEYS,
      });
      const byFingerprint = new Map(existing.map((k) => [k.fingerprint, k]));
      for (const key of uploaded) {
        if (!byFingerprint.has(key.getFingerprint().toLowerCase()))
          throw new AppError(
            'key_not_yours',
            `Key ${key.getFingerprint().toLowerCase()} is not one of your account’s keys.`,
          );
      }
      if (!uploaded.some((k) => k.getFingerprint().toLowerCase() === active.fingerprint)) {
        throw new AppError('key_not_yours', `The upload must include your active key (${active.fingerprint}).`);
      }
      const opened = await this.kekForNewWrap(existing, password);
      try {
        for (const key of uploaded) {
          const stored = byFingerprint.get(key.getFingerprint().toLowerCase())!;
          await this.deps.keys.put({
            ...stored,
            privateKey: this.wrap(account.id, stored.fingerprint, key, opened),
            updatedAt: now,
          });
        }
        if (options.session)
          this.unlockCache.put(account.id, options.session.id, options.session.expiresAt, opened.kdf, opened.kek);
      } finally {
        opened.kek.fill(0);
      }
      return { mode: 'server' as const, exported: null };
    });
    await this.changed(accountId);
    if (result.mode === 'server' && options.session) await this.unlockedNow(accountId);
    return result;
  }

  /**
   * The server-held private keys, armoured and protected by `exportPassphrase` (default: the password), for the
   * move to client mode or a backup. Nothing changes on the server. Re-asks the password.
   */
  async export(accountId: string, options: { password: string; exportPassphrase?: string }): Promise<string> {
    const password = requirePassword(options.password);
    return this.locks.run(accountId, async () => {
      await this.reauthenticate(accountId, password);
      const existing = await this.deps.keys.listByAccount(accountId);
      const active = existing.find((k) => k.status === 'active');
      if (active === undefined) throw new AppError('key_none');
      if (active.privateKey === null)
        throw new AppError(
          'key_mode_mismatch',
          'Your private key is kept on your devices: there is nothing to export from the server.',
        );
      return this.exportHeld(existing, password, options.exportPassphrase ?? password);
    });
  }

  // --- sessions and passwords ------------------------------------------------------------------------------------

  /**
   * At login, with the password in hand: derives the KEK for the account's server-held keys and holds it for the
   * session (only when it opens one of them). Never throws: a failure leaves the key locked and is logged.
   */
  async sessionStarted(accountId: string, session: SessionRef, password: string): Promise<void> {
    try {
      this.unlockCache.sweep(this.deps.clock());
      const held = (await this.deps.keys.listByAccount(accountId)).filter(isServerHeld);
      let unlocked = false;
      for (const group of bySalt(held)) {
        const kek = await deriveKek(password, group[0]!.privateKey.kek);
        try {
          if (this.opensAny(accountId, group, kek)) {
            this.unlockCache.put(accountId, session.id, session.expiresAt, group[0]!.privateKey.kek, kek);
            unlocked = true;
          }
        } finally {
          kek.fill(0);
        }
      }
      if (unlocked) await this.unlockedNow(accountId);
    } catch (e) {
      this.deps.logger?.warn(
        { accountId, reason: e instanceof Error ? e.name : 'error' },
        'account keys: the private key could not be unlocked at login',
      );
    }
  }

  /** The session ended (logout): what it held is forgotten. */
  sessionEnded(sessionId: string): void {
    this.unlockCache.drop(sessionId);
  }

  /**
   * The password is about to change: the server-held keys are re-wrapped under a KEK derived from the new password
   * (fresh salt). The old KEK comes from the old password when the caller has it (the user changing it), else from a
   * live session of this process (an administrator resetting it while the user is signed in). Keys that neither
   * opens stay wrapped under the old password (then `key_locked` until moved). Resolves the commit, to call once the
   * new password is stored; it also drops the account's unlock secrets (its sessions end).
   */
  async passwordChanging(accountId: string, newPassword: string, oldPassword?: string): Promise<() => Promise<void>> {
    const held = (await this.deps.keys.listByAccount(accountId)).filter(isServerHeld);
    const drop = async () => this.unlockCache.dropAccount(accountId);
    if (held.length === 0) return drop;
    const opened: { key: AccountKey & { privateKey: WrappedPrivateKey }; secret: Uint8Array }[] = [];
    try {
      if (oldPassword !== undefined) {
        for (const group of bySalt(held)) {
          const kek = await deriveKek(oldPassword, group[0]!.privateKey.kek);
          for (const k of group) {
            const secret = unwrapPrivateKey(
              k.privateKey.sealed,
              kek,
              this.deps.box,
              wrapPurpose(accountId, k.fingerprint),
            );
            if (secret) opened.push({ key: k, secret });
          }
          kek.fill(0);
        }
      }
      const live = await this.liveKeks(accountId);
      for (const k of held) {
        if (opened.some((o) => o.key.fingerprint === k.fingerprint)) continue;
        for (const h of live.filter((h) => sameSalt(h.kdf, k.privateKey.kek))) {
          const secret = unwrapPrivateKey(
            k.privateKey.sealed,
            h.kek,
            this.deps.box,
            wrapPurpose(accountId, k.fingerprint),
          );
          if (secret) {
            opened.push({ key: k, secret });
            break;
          }
        }
      }
      if (opened.length < held.length) {
        this.deps.logger?.warn(
          { accountId, locked: held.length - opened.length },
          'account keys: some server-held keys stay under the previous password',
        );
      }
      if (opened.length === 0) return drop;
      const kdf = newKekDerivation(this.kdf);
      const kek = await deriveKek(newPassword, kdf);
      const rewrapped = opened.map(({ key, secret }) => ({
        key,
        privateKey: {
          sealed: wrapPrivateKey(secret, kek, this.deps.box, wrapPurpose(accountId, key.fingerprint)),
          kek: kdf,
        },
      }));
      kek.fill(0);
      return async () => {
        await this.locks.run(accountId, async () => {
          const now = this.deps.clock();
          for (const r of rewrapped) {
            const current = await this.deps.keys.get(accountId, r.key.fingerprint);
            // Written only over the very copy that was re-wrapped (a concurrent switch to client mode wins).
            if (current?.privateKey?.sealed === r.key.privateKey.sealed)
              await this.deps.keys.put({ ...current, privateKey: r.privateKey, updatedAt: now });
          }
        });
        this.unlockCache.dropAccount(accountId);
      };
    } finally {
      for (const o of opened) o.secret.fill(0);
    }
  }

  // --- internals -------------------------------------------------------------------------------------------------

  private async active(accountId: string): Promise<AccountKey | null> {
    return (await this.deps.keys.listByAccount(accountId)).find((k) => k.status === 'active') ?? null;
  }

  private addressOf(account: Account): string {
    return `${account.username}@${this.deps.domain}`;
  }

  private async mustAccount(accountId: string): Promise<Account> {
    const account = await this.deps.accounts.get(accountId);
    if (account === null) throw new AppError('not_found');
    return account;
  }

  private async reauthenticate(accountId: string, password: string): Promise<Account> {
    const account = await this.mustAccount(accountId);
    if (!(await this.deps.hasher.verify(account.passwordHash, password)))
      throw new AppError('invalid_credentials', 'The password is wrong.');
    return account;
  }

  private refuseOtherMode(existing: AccountKey[], mode: 'server' | 'client'): void {
    const active = existing.find((k) => k.status === 'active');
    if (active === undefined) return;
    const current = active.privateKey !== null ? 'server' : 'client';
    if (current !== mode) {
      throw new AppError(
        'key_mode_mismatch',
        current === 'server'
          ? 'Your private key is kept on the server: switch to client mode first (POST /api/v1/keys/mode).'
          : 'Your private key is kept on your devices: switch to server mode first (POST /api/v1/keys/mode).',
      );
    }
  }

  private refuseKnown(existing: AccountKey[], fingerprint: string): void {
    const known = existing.find((k) => k.fingerprint === fingerprint);
    if (known?.status === 'revoked')
      throw new AppError('key_revoked', 'This key was revoked: it cannot become your key again.');
    if (known) throw new AppError('key_exists');
  }

  /** Checks a public key for the account: readable, valid now, carrying the account's address, able to encrypt. */
  private async checkPublic(account: Account, input: string | Uint8Array, now: Date): Promise<ParsedPublicKey> {
    let parsed: ParsedPublicKey;
    try {
      parsed = await parsePublicKey(input, { now, address: this.addressOf(account) });
    } catch (e) {
      throw asAppError(e);
    }
    if (!parsed.canEncrypt)
      throw new AppError(
        'key_unusable',
        'The key has no valid encryption subkey: nobody could encrypt mail to you with it.',
      );
    return parsed;
  }

  private newKey(
    accountId: string,
    parsed: ParsedPublicKey,
    revocationCertificate: string | null,
    privateKey: WrappedPrivateKey | null,
    now: Date,
  ): AccountKey {
    return {
      accountId,
      fingerprint: parsed.fingerprint,
      version: parsed.version,
      algorithm: parsed.algorithm,
      publicKey: parsed.publicKey,
      status: 'active',
      keyCreatedAt: parsed.created,
      keyExpiresAt: parsed.expires,
      revocationCertificate,
      privateKey,
      addedAt: now,
      updatedAt: now,
    };
  }

  private async retireActive(existing: AccountKey[], now: Date): Promise<void> {
    for (const k of existing)
      if (k.status === 'active') await this.deps.keys.put({ ...k, status: 'retired', updatedAt: now });
  }

  /** Checks, wraps and stores a decrypted private key as the account's active server-held key. */
  private async fileServerKey(
    account: Account,
    existing: AccountKey[],
    privateKey: openpgp.PrivateKey,
    revocationCertificate: string | null,
    options: ServerKeyOptions,
    now: Date,
  ): Promise<AccountKey> {
    const parsed = await this.checkPublic(account, privateKey.toPublic().write(), now);
    const opened = await this.kekForNewWrap(existing, options.password);
    try {
      const key = this.newKey(
        account.id,
        parsed,
        revocationCertificate,
        this.wrap(account.id, parsed.fingerprint, privateKey, opened),
        now,
      );
      await this.retireActive(existing, now);
      await this.deps.keys.put(key);
      if (options.session)
        this.unlockCache.put(account.id, options.session.id, options.session.expiresAt, opened.kdf, opened.kek);
      return key;
    } finally {
      opened.kek.fill(0);
    }
  }

  private wrap(accountId: string, fingerprint: string, key: openpgp.PrivateKey, opened: OpenedKek): WrappedPrivateKey {
    // Not zeroed afterwards: openpgp.js may share these bytes with the key object it came from.
    return {
      sealed: wrapPrivateKey(key.write(), opened.kek, this.deps.box, wrapPurpose(accountId, fingerprint)),
      kek: opened.kdf,
    };
  }

  /**
   * The KEK a new wrap uses: the derivation the account's server-held keys already share when the password opens
   * them (one unlock at login opens them all), else a fresh one.
   */
  private async kekForNewWrap(existing: AccountKey[], password: string): Promise<OpenedKek> {
    const held = existing.filter(isServerHeld);
    for (const group of bySalt(held)) {
      const kdf = group[0]!.privateKey.kek;
      const kek = await deriveKek(password, kdf);
      if (this.opensAny(group[0]!.accountId, group, kek)) return { kdf, kek };
      kek.fill(0);
    }
    const kdf = newKekDerivation(this.kdf);
    return { kdf, kek: await deriveKek(password, kdf) };
  }

  private opensAny(accountId: string, keys: (AccountKey & { privateKey: WrappedPrivateKey })[], kek: Buffer): boolean {
    for (const k of keys) {
      const secret = unwrapPrivateKey(k.privateKey.sealed, kek, this.deps.box, wrapPurpose(accountId, k.fingerprint));
      if (secret) {
        secret.fill(0);
        return true;
      }
    }
    return false;
  }

  /** KEKs held for live sessions of an enabled account; those of ended sessions are dropped on the way. */
  private async liveKeks(accountId: string): Promise<HeldKek[]> {
    const now = this.deps.clock();
    const held = this.unlockCache.held(accountId, now);
    if (held.length === 0) return [];
    const account = await this.deps.accounts.get(accountId);
    if (account === null || account.disabled) {
      this.unlockCache.dropAccount(accountId);
      return [];
    }
    const live = new Set(
      (await this.deps.sessions.listByAccount(accountId))
        .filter((s) => s.revokedAt === null && s.expiresAt > now)
        .map((s) => s.id),
    );
    for (const sessionId of new Set(held.map((h) => h.sessionId)))
      if (!live.has(sessionId)) this.unlockCache.drop(sessionId);
    return held.filter((h) => live.has(h.sessionId));
  }

  /** Opens the given server-held keys with the KEKs live sessions hold; keys none opens are left out. */
  private async openWithHeld(
    accountId: string,
    keys: (AccountKey & { privateKey: WrappedPrivateKey })[],
  ): Promise<{ stored: AccountKey; key: openpgp.PrivateKey }[]> {
    if (keys.length === 0) return [];
    const held = await this.liveKeks(accountId);
    const out: { stored: AccountKey; key: openpgp.PrivateKey }[] = [];
    for (const k of keys) {
      for (const h of held.filter((h) => sameSalt(h.kdf, k.privateKey.kek))) {
        const key = await this.open(k, h.kek);
        if (key) {
          out.push({ stored: k, key });
          break;
        }
      }
    }
    return out;
  }

  private async open(
    k: AccountKey & { privateKey: WrappedPrivateKey },
    kek: Buffer,
  ): Promise<openpgp.PrivateKey | null> {
    const secret = unwrapPrivateKey(k.privateKey.sealed, kek, this.deps.box, wrapPurpose(k.accountId, k.fingerprint));
    if (secret === null) return null;
    try {
      // The parsed key keeps views into `secret`: it is not zeroed here (it lives as long as the key object).
      return await openpgp.readPrivateKey({ binaryKey: secret, config: OPENPGP_CONFIG });
    } catch {
      return null;
    }
  }

  /** Opens every server-held key with the password's KEK and armours them, each protected by the passphrase. */
  private async exportHeld(existing: AccountKey[], password: string, passphrase: string): Promise<string> {
    const held = existing.filter(isServerHeld);
    held.sort((a, b) => Number(b.status === 'active') - Number(a.status === 'active'));
    const packets: Uint8Array[] = [];
    for (const group of bySalt(held)) {
      const kek = await deriveKek(password, group[0]!.privateKey.kek);
      try {
        for (const k of group) {
          const key = await this.open(k, kek);
          if (key === null) continue;
          const locked = await openpgp.encryptKey({ privateKey: key, passphrase, config: OPENPGP_CONFIG });
          packets.push(locked.write());
        }
      } finally {
        kek.fill(0);
      }
    }
    if (packets.length < held.length) {
      // A key the password does not open (wrapped under an earlier password) is not handed out, and not erased either.
      throw new AppError(
        'key_locked',
        `${held.length - packets.length} of your server-held keys do not open with this password.`,
      );
    }
    return openpgp.armor(openpgp.enums.armor.privateKey, Buffer.concat(packets));
  }

  /** Tells the unlock hook; never throws (a login or a mode switch is not undone by it). */
  private async unlockedNow(accountId: string): Promise<void> {
    try {
      await this.deps.events?.publish('key.unlocked', { accountId });
    } catch (e) {
      this.deps.logger?.warn(
        { accountId, reason: e instanceof Error ? e.name : 'error' },
        'account keys: mail waiting for the unlocked key was not scheduled',
      );
    }
  }

  private async changed(accountId: string): Promise<void> {
    await this.deps.events?.publish('keys.changed', { accountId, address: null });
  }
}

function requirePassword(password: string | undefined): string {
  if (password === undefined || password === '')
    throw new AppError('key_request_invalid', 'Keeping the key on the server needs your password (`password`).');
  return password;
}

/** The keys grouped by their KEK derivation (salt): one argon2id run per group. */
function bySalt<K extends AccountKey & { privateKey: WrappedPrivateKey }>(keys: K[]): K[][] {
  const groups: K[][] = [];
  for (const k of keys) {
    const group = groups.find((g) => sameSalt(g[0]!.privateKey.kek, k.privateKey.kek));
    if (group) group.push(k);
    else groups.push([k]);
  }
  return groups;
}

/** The armoured form of a binary public key. */
export function armorPublic(publicKey: Uint8Array): string {
  return openpgp.armor(openpgp.enums.armor.publicKey, publicKey);
}
