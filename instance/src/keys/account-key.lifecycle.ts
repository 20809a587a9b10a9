import * as openpgp from 'openpgp';
import type { Account } from '../accounts/account.entity.ts';
import { OPENPGP_CONFIG } from '../openpgp/openpgp.config.ts';
import { parsePublicKey, type ParsedPublicKey } from '../openpgp/openpgp.keys.ts';
import { AppError } from '../shared/errors.ts';
import type { AccountKey, WrappedPrivateKey } from './account-key.entity.ts';
import type { KeyStorageMode, OwnPublicKey } from './account-key.port.ts';
import { applyRevocation, asAppError, readPrivateKeys, revocationCertificateOf } from './account-key.private.ts';

import { type AccountKeyContext, requirePassword, type ServerKeyOptions, armorPublic } from './account-key.context.ts';
import type { AccountKeyCustody } from './account-key.custody.ts';

/** User ID names stay plain: no address brackets, comment parentheses, quotes or control characters. */
function userIdName(displayName: string, fallback: string): string {
  const name = displayName
    .replace(/[<>()"\\\p{Cc}]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 100);
  return name === '' ? fallback : name;
}

/**
 * The lifecycle of the account's keys: generated or imported (server mode), public key sent (client mode), rotated,
 * revoked; one key `active`, rotation retiring the previous one (kept to read old mail, never published). Part of
 * AccountKeyService (account-key.service.ts), split out by responsibility.
 */
export class AccountKeyLifecycle {
  constructor(
    private readonly ctx: AccountKeyContext,
    private readonly custody: AccountKeyCustody,
  ) {}

  async mode(accountId: string): Promise<KeyStorageMode> {
    const active = await this.ctx.active(accountId);
    return active === null ? 'none' : active.privateKey !== null ? 'server' : 'client';
  }

  async publicKey(accountId: string): Promise<OwnPublicKey | null> {
    const active = await this.ctx.active(accountId);
    if (active === null || (active.keyExpiresAt !== null && active.keyExpiresAt <= this.ctx.deps.clock())) return null;
    const { fingerprint, publicKey } = active;
    // Armoured only when asked (compose, which asks at every message, uses the binary key).
    return {
      fingerprint,
      publicKey,
      get armored() {
        return armorPublic(publicKey);
      },
    };
  }

  /** Every key of the account, newest first. */
  list(accountId: string): Promise<AccountKey[]> {
    return this.ctx.deps.keys.listByAccount(accountId);
  }

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
    const key = await this.ctx.locks.run(accountId, async () => {
      const account = await this.ctx.reauthenticate(accountId, password);
      const existing = await this.ctx.deps.keys.listByAccount(accountId);
      this.refuseOtherMode(existing, 'server');
      const now = this.ctx.deps.clock();
      const { privateKey, revocationCertificate } = await openpgp.generateKey({
        type: 'curve25519',
        userIDs: [{ name: userIdName(account.displayName, account.username), email: this.ctx.addressOf(account) }],
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
    await this.ctx.changed(accountId);
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
    const now = this.ctx.deps.clock();
    const [privateKey] = await readPrivateKeys(armoredPrivateKey, passphrase, { now });
    const key = await this.ctx.locks.run(accountId, async () => {
      const account = await this.ctx.reauthenticate(accountId, password);
      const existing = await this.ctx.deps.keys.listByAccount(accountId);
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
    await this.ctx.changed(accountId);
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
    const key = await this.ctx.locks.run(accountId, async () => {
      const account = await this.ctx.mustAccount(accountId);
      const now = this.ctx.deps.clock();
      const parsed = await this.checkPublic(account, armoredPublicKey, now);
      if (options.revocationCertificate !== undefined)
        await applyRevocation(parsed.publicKey, options.revocationCertificate, now);
      const existing = await this.ctx.deps.keys.listByAccount(accountId);
      this.refuseOtherMode(existing, 'client');
      this.refuseKnown(existing, parsed.fingerprint);
      await this.retireActive(existing, now);
      const key = this.newKey(account.id, parsed, options.revocationCertificate ?? null, null, now);
      await this.ctx.deps.keys.put(key);
      return key;
    });
    await this.ctx.changed(accountId);
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
    const { key, changed } = await this.ctx.locks.run(accountId, async () => {
      const key = await this.ctx.deps.keys.get(accountId, wanted);
      if (key === null) throw new AppError('not_found', 'No such key in your account.');
      if (key.status === 'revoked') return { key, changed: false };
      const certificate = options.revocationCertificate ?? key.revocationCertificate;
      if (certificate === null) throw new AppError('key_revocation_missing');
      const now = this.ctx.deps.clock();
      const revoked: AccountKey = {
        ...key,
        publicKey: await applyRevocation(key.publicKey, certificate, now),
        status: 'revoked',
        revocationCertificate: certificate,
        updatedAt: now,
      };
      await this.ctx.deps.keys.put(revoked);
      return { key: revoked, changed: true };
    });
    if (changed) await this.ctx.changed(accountId);
    return key;
  }

  refuseOtherMode(existing: AccountKey[], mode: 'server' | 'client'): void {
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

  refuseKnown(existing: AccountKey[], fingerprint: string): void {
    const known = existing.find((k) => k.fingerprint === fingerprint);
    if (known?.status === 'revoked')
      throw new AppError('key_revoked', 'This key was revoked: it cannot become your key again.');
    if (known) throw new AppError('key_exists');
  }

  /** Checks a public key for the account: readable, valid now, carrying the account's address, able to encrypt. */
  async checkPublic(account: Account, input: string | Uint8Array, now: Date): Promise<ParsedPublicKey> {
    let parsed: ParsedPublicKey;
    try {
      parsed = await parsePublicKey(input, { now, address: this.ctx.addressOf(account) });
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

  newKey(
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

  async retireActive(existing: AccountKey[], now: Date): Promise<void> {
    for (const k of existing)
      if (k.status === 'active') await this.ctx.deps.keys.put({ ...k, status: 'retired', updatedAt: now });
  }

  /** Checks, wraps and stores a decrypted private key as the account's active server-held key. */
  async fileServerKey(
    account: Account,
    existing: AccountKey[],
    privateKey: openpgp.PrivateKey,
    revocationCertificate: string | null,
    options: ServerKeyOptions,
    now: Date,
  ): Promise<AccountKey> {
    const parsed = await this.checkPublic(account, privateKey.toPublic().write(), now);
    const opened = await this.custody.kekForNewWrap(existing, options.password);
    try {
      const key = this.newKey(
        account.id,
        parsed,
        revocationCertificate,
        this.custody.wrap(account.id, parsed.fingerprint, privateKey, opened),
        now,
      );
      await this.retireActive(existing, now);
      await this.ctx.deps.keys.put(key);
      if (options.session)
        this.custody.unlockCache.put(account.id, options.session.id, options.session.expiresAt, opened.kdf, opened.kek);
      return key;
    } finally {
      opened.kek.fill(0);
    }
  }
}
