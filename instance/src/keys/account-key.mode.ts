import { AppError } from '../shared/errors.ts';
import type { KeyStorageMode } from './account-key.port.ts';
import { MAX_PRIVATE_KEYS, readPrivateKeys } from './account-key.private.ts';

import {
  type AccountKeyContext,
  isServerHeld,
  type ModeSwitchOptions,
  requirePassword,
} from './account-key.context.ts';
import type { AccountKeyCustody } from './account-key.custody.ts';

/**
 * Switching where the private key lives: server -> client hands the private key out once (armoured,
 * passphrase-protected) and erases the server copy; client -> server takes the private key the client uploads. And
 * the export of the server-held keys. Part of AccountKeyService (account-key.service.ts), split out by responsibility.
 */
export class AccountKeyModeSwitch {
  constructor(
    private readonly ctx: AccountKeyContext,
    private readonly custody: AccountKeyCustody,
  ) {}

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
    const result = await this.ctx.locks.run(accountId, async () => {
      const account = await this.ctx.reauthenticate(accountId, password);
      const existing = await this.ctx.deps.keys.listByAccount(accountId);
      const active = existing.find((k) => k.status === 'active');
      if (active === undefined) throw new AppError('key_none');
      const current = active.privateKey !== null ? 'server' : 'client';
      if (current === mode) throw new AppError('key_mode_unchanged');
      const now = this.ctx.deps.clock();
      if (mode === 'client') {
        const exported = await this.custody.exportHeld(existing, password, options.exportPassphrase ?? password);
        for (const k of existing.filter(isServerHeld))
          await this.ctx.deps.keys.put({ ...k, privateKey: null, updatedAt: now });
        this.custody.unlockCache.dropAccount(accountId);
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
      const opened = await this.custody.kekForNewWrap(existing, password);
      try {
        for (const key of uploaded) {
          const stored = byFingerprint.get(key.getFingerprint().toLowerCase())!;
          await this.ctx.deps.keys.put({
            ...stored,
            privateKey: this.custody.wrap(account.id, stored.fingerprint, key, opened),
            updatedAt: now,
          });
        }
        if (options.session)
          this.custody.unlockCache.put(
            account.id,
            options.session.id,
            options.session.expiresAt,
            opened.kdf,
            opened.kek,
          );
      } finally {
        opened.kek.fill(0);
      }
      return { mode: 'server' as const, exported: null };
    });
    await this.ctx.changed(accountId);
    if (result.mode === 'server' && options.session) await this.ctx.unlockedNow(accountId);
    return result;
  }

  /**
   * The server-held private keys, armoured and protected by `exportPassphrase` (default: the password), for the
   * move to client mode or a backup. Nothing changes on the server. Re-asks the password.
   */
  async export(accountId: string, options: { password: string; exportPassphrase?: string }): Promise<string> {
    const password = requirePassword(options.password);
    return this.ctx.locks.run(accountId, async () => {
      await this.ctx.reauthenticate(accountId, password);
      const existing = await this.ctx.deps.keys.listByAccount(accountId);
      const active = existing.find((k) => k.status === 'active');
      if (active === undefined) throw new AppError('key_none');
      if (active.privateKey === null)
        throw new AppError(
          'key_mode_mismatch',
          'Your private key is kept on your devices: there is nothing to export from the server.',
        );
      return this.custody.exportHeld(existing, password, options.exportPassphrase ?? password);
    });
  }
}
