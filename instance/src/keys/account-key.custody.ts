import * as openpgp from 'openpgp';
import { OPENPGP_CONFIG } from '../openpgp/openpgp.config.ts';
import { AppError } from '../shared/errors.ts';
import type { AccountKey, WrappedPrivateKey } from './account-key.entity.ts';
import {
  deriveKek,
  newKekDerivation,
  sameSalt,
  unwrapPrivateKey,
  wrapPrivateKey,
  wrapPurpose,
} from './account-key.wrap.ts';
import { KeyUnlockCache, type HeldKek } from './key-unlock.cache.ts';

import {
  type AccountKeyContext,
  bySalt,
  isServerHeld,
  type OpenedKek,
  type SessionRef,
} from './account-key.context.ts';

/**
 * Custody of the server-held private keys: wrapped under a key-encryption key (KEK) derived from the password and
 * sealed with the instance key (account-key.wrap.ts), unlockable only while a session that proved the password is
 * live (KeyUnlockCache): at login, or when a key operation re-asks the password; re-wrapped when the password
 * changes. Part of AccountKeyService (account-key.service.ts), split out by responsibility.
 */
export class AccountKeyCustody {
  readonly unlockCache = new KeyUnlockCache();

  constructor(private readonly ctx: AccountKeyContext) {}

  async unlocked(accountId: string): Promise<openpgp.PrivateKey | null> {
    const active = await this.ctx.active(accountId);
    if (active === null || !isServerHeld(active)) return null;
    const [opened] = await this.openWithHeld(accountId, [active]);
    return opened?.key ?? null;
  }

  /**
   * Every server-held private key of the account this process can unlock now, the active one first, then retired
   * and revoked ones (still needed to read mail encrypted to them). Empty in client mode or with no live unlock.
   */
  async unlockedKeys(accountId: string): Promise<openpgp.PrivateKey[]> {
    const keys = (await this.ctx.deps.keys.listByAccount(accountId)).filter(isServerHeld);
    keys.sort((a, b) => Number(b.status === 'active') - Number(a.status === 'active'));
    return (await this.openWithHeld(accountId, keys)).map((o) => o.key);
  }

  /** Whether this process holds a live unlock for the account's active server-held key (no decryption done). */
  async isUnlocked(accountId: string): Promise<boolean> {
    const active = await this.ctx.active(accountId);
    if (active === null || !isServerHeld(active)) return false;
    return (await this.liveKeks(accountId)).some((h) => sameSalt(h.kdf, active.privateKey.kek));
  }

  /**
   * At login, with the password in hand: derives the KEK for the account's server-held keys and holds it for the
   * session (only when it opens one of them). Never throws: a failure leaves the key locked and is logged.
   */
  async sessionStarted(accountId: string, session: SessionRef, password: string): Promise<void> {
    try {
      this.unlockCache.sweep(this.ctx.deps.clock());
      const held = (await this.ctx.deps.keys.listByAccount(accountId)).filter(isServerHeld);
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
      if (unlocked) await this.ctx.unlockedNow(accountId);
    } catch (e) {
      this.ctx.deps.logger?.warn(
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
    const held = (await this.ctx.deps.keys.listByAccount(accountId)).filter(isServerHeld);
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
              this.ctx.deps.box,
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
            this.ctx.deps.box,
            wrapPurpose(accountId, k.fingerprint),
          );
          if (secret) {
            opened.push({ key: k, secret });
            break;
          }
        }
      }
      if (opened.length < held.length) {
        this.ctx.deps.logger?.warn(
          { accountId, locked: held.length - opened.length },
          'account keys: some server-held keys stay under the previous password',
        );
      }
      if (opened.length === 0) return drop;
      const kdf = newKekDerivation(this.ctx.kdf);
      const kek = await deriveKek(newPassword, kdf);
      const rewrapped = opened.map(({ key, secret }) => ({
        key,
        privateKey: {
          sealed: wrapPrivateKey(secret, kek, this.ctx.deps.box, wrapPurpose(accountId, key.fingerprint)),
          kek: kdf,
        },
      }));
      kek.fill(0);
      return async () => {
        await this.ctx.locks.run(accountId, async () => {
          const now = this.ctx.deps.clock();
          for (const r of rewrapped) {
            const current = await this.ctx.deps.keys.get(accountId, r.key.fingerprint);
            // Written only over the very copy that was re-wrapped (a concurrent switch to client mode wins).
            if (current?.privateKey?.sealed === r.key.privateKey.sealed)
              await this.ctx.deps.keys.put({ ...current, privateKey: r.privateKey, updatedAt: now });
          }
        });
        this.unlockCache.dropAccount(accountId);
      };
    } finally {
      for (const o of opened) o.secret.fill(0);
    }
  }

  wrap(accountId: string, fingerprint: string, key: openpgp.PrivateKey, opened: OpenedKek): WrappedPrivateKey {
    // Not zeroed afterwards: openpgp.js may share these bytes with the key object it came from.
    return {
      sealed: wrapPrivateKey(key.write(), opened.kek, this.ctx.deps.box, wrapPurpose(accountId, fingerprint)),
      kek: opened.kdf,
    };
  }

  /**
   * The KEK a new wrap uses: the derivation the account's server-held keys already share when the password opens
   * them (one unlock at login opens them all), else a fresh one.
   */
  async kekForNewWrap(existing: AccountKey[], password: string): Promise<OpenedKek> {
    const held = existing.filter(isServerHeld);
    for (const group of bySalt(held)) {
      const kdf = group[0]!.privateKey.kek;
      const kek = await deriveKek(password, kdf);
      if (this.opensAny(group[0]!.accountId, group, kek)) return { kdf, kek };
      kek.fill(0);
    }
    const kdf = newKekDerivation(this.ctx.kdf);
    return { kdf, kek: await deriveKek(password, kdf) };
  }

  opensAny(accountId: string, keys: (AccountKey & { privateKey: WrappedPrivateKey })[], kek: Buffer): boolean {
    for (const k of keys) {
      const secret = unwrapPrivateKey(
        k.privateKey.sealed,
        kek,
        this.ctx.deps.box,
        wrapPurpose(accountId, k.fingerprint),
      );
      if (secret) {
        secret.fill(0);
        return true;
      }
    }
    return false;
  }

  /** KEKs held for live sessions of an enabled account; those of ended sessions are dropped on the way. */
  async liveKeks(accountId: string): Promise<HeldKek[]> {
    const now = this.ctx.deps.clock();
    const held = this.unlockCache.held(accountId, now);
    if (held.length === 0) return [];
    const account = await this.ctx.deps.accounts.get(accountId);
    if (account === null || account.disabled) {
      this.unlockCache.dropAccount(accountId);
      return [];
    }
    const live = new Set(
      (await this.ctx.deps.sessions.listByAccount(accountId))
        .filter((s) => s.revokedAt === null && s.expiresAt > now)
        .map((s) => s.id),
    );
    for (const sessionId of new Set(held.map((h) => h.sessionId)))
      if (!live.has(sessionId)) this.unlockCache.drop(sessionId);
    return held.filter((h) => live.has(h.sessionId));
  }

  /** Opens the given server-held keys with the KEKs live sessions hold; keys none opens are left out. */
  async openWithHeld(
    accountId: string,
    keys: (AccountKey & { privateKey: WrappedPrivateKey })[],
  ): Promise<{ stored: AccountKey; key: openpgp.PrivateKey }[]> {
    if (keys.length === 0) return [];
    const held = await this.liveKeks(accountId);
    const out: { stored: AccountKey; key: openpgp.PrivateKey }[] = [];
    for (const k of keys) {
      const keks = held.filter((h) => sameSalt(h.kdf, k.privateKey.kek));
      if (keks.length === 0) continue;
      const kept = this.unlockCache.openedKey(accountId, k.fingerprint, k.privateKey.sealed);
      if (kept !== undefined) {
        out.push({ stored: k, key: kept });
        continue;
      }
      for (const h of keks) {
        const key = await this.open(k, h.kek);
        if (key) {
          this.unlockCache.keepOpened(accountId, k.fingerprint, k.privateKey.sealed, key);
          out.push({ stored: k, key });
          break;
        }
      }
    }
    return out;
  }

  async open(k: AccountKey & { privateKey: WrappedPrivateKey }, kek: Buffer): Promise<openpgp.PrivateKey | null> {
    const secret = unwrapPrivateKey(
      k.privateKey.sealed,
      kek,
      this.ctx.deps.box,
      wrapPurpose(k.accountId, k.fingerprint),
    );
    if (secret === null) return null;
    try {
      // The parsed key keeps views into `secret`: it is not zeroed here (it lives as long as the key object).
      return await openpgp.readPrivateKey({ binaryKey: secret, config: OPENPGP_CONFIG });
    } catch {
      return null;
    }
  }

  /** Opens every server-held key with the password's KEK and armours them, each protected by the passphrase. */
  async exportHeld(existing: AccountKey[], password: string, passphrase: string): Promise<string> {
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
}
