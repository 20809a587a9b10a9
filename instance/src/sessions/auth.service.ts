import { randomUUID } from 'node:crypto';
import { generateSecret, generateURI, verify as verifyTotp } from 'otplib';
import type { Account } from '../accounts/account.entity.ts';
import type { PasswordHasher } from '@caliopen/platform/crypto/password.hasher.ts';
import type { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import type { Device } from '../devices/device.entity.ts';
import { parseUserAgent } from '../devices/user-agent.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import { AppError } from '../shared/errors.ts';
import type { Storage } from '../database/storage.port.ts';
import type { Session } from './session.entity.ts';
import { hashToken, isWellFormedToken, newToken } from '@caliopen/platform/crypto/token.helpers.ts';

export interface LoginInput {
  username: string;
  password: string;
  totp?: string;
  /** A device id the client got from an earlier login: reuse it instead of recording a new device. */
  deviceId?: string;
  deviceName?: string;
  userAgent?: string;
}

export interface LoginResult {
  token: string;
  session: Session;
  account: Account;
  device: Device;
}

import type { Principal } from '../api/access.ts';

export type { Principal };

/** A principal is an account acting through one of its sessions (api/access.ts reads it on every request). */
declare module '../api/access.ts' {
  interface Principal {
    account: Account;
    session: Session;
  }
}

/**
 * Told when a session starts with the password in hand and when it ends: the account-keys domain derives the unlock
 * secret of a server-held private key from the password and holds it for the session (keys/key-unlock.cache.ts).
 * sessionStarted never throws (a failure leaves the key locked, not the user out).
 */
export interface SessionKeyUnlock {
  sessionStarted(accountId: string, session: Pick<Session, 'id' | 'expiresAt'>, password: string): Promise<void>;
  sessionEnded(sessionId: string): void;
}

export interface AuthOptions {
  sessionTtlSeconds: number;
  /** The issuer shown by authenticator apps. */
  totpIssuer: string;
  /** A device's last-seen time is written at most this often (keeps reads from turning into writes). */
  touchEverySeconds?: number;
  /** Session-held unlock of the account's server-held private key (absent: no key is ever unlocked). */
  keyUnlock?: SessionKeyUnlock;
  /** This instance's mail domain: signing in with the full address `name@domain` is signing in as `name`. */
  domain?: string;
}

const totpPurpose = (accountId: string) => `totp:${accountId}`;
const TOTP_TOLERANCE_SECONDS = 30;

/** Login, bearer sessions, two-factor enrolment: everything that decides who a request comes from. */
export class AuthService {
  constructor(
    private readonly storage: Storage,
    private readonly hasher: PasswordHasher,
    private readonly box: SecretBox,
    private readonly clock: Clock,
    private readonly options: AuthOptions,
  ) {}

  /**
   * The account name a sign-in names: its username, or its full address on this instance (`alice@alpha.test`, as
   * people type it). An address on another domain is refused in words: its account lives on that domain's instance.
   */
  private usernameOf(given: string): string {
    const name = given.trim().toLowerCase();
    const at = name.lastIndexOf('@');
    if (at < 0 || this.options.domain === undefined) return name;
    const domain = name.slice(at + 1);
    if (domain === this.options.domain.toLowerCase()) return name.slice(0, at);
    throw new AppError(
      'invalid_credentials',
      `${given.trim()} is not an address of ${this.options.domain}: sign in with your username here, or on the instance that serves ${domain}.`,
    );
  }

  async login(input: LoginInput): Promise<LoginResult> {
    const username = this.usernameOf(input.username);
    const account = await this.storage.accounts.getByUsername(username);
    if (!account) {
      await this.hasher.verifyDecoy(input.password);
      throw new AppError('invalid_credentials');
    }
    if (!(await this.hasher.verify(account.passwordHash, input.password))) throw new AppError('invalid_credentials');
    if (account.disabled) throw new AppError('account_disabled');

    let current = account;
    if (account.totpSecretSealed) {
      if (!input.totp) throw new AppError('totp_required');
      current = await this.checkTotp(account, account.totpSecretSealed, input.totp);
    }
    if (this.hasher.needsRehash(current.passwordHash)) {
      current = { ...current, passwordHash: await this.hasher.hash(input.password), updatedAt: this.clock() };
      await this.storage.accounts.update(current);
    }

    const now = this.clock();
    const device = await this.deviceFor(current, input, now);
    const token = newToken();
    const session: Session = {
      id: randomUUID(),
      accountId: current.id,
      deviceId: device.id,
      tokenHash: hashToken(token),
      createdAt: now,
      expiresAt: new Date(now.getTime() + this.options.sessionTtlSeconds * 1000),
      revokedAt: null,
    };
    await this.storage.sessions.create(session);
    await this.options.keyUnlock?.sessionStarted(current.id, session, input.password);
    return { token, session, account: current, device };
  }

  /** Resolves who holds `token`, or throws a precise 401 error. */
  async authenticate(token: string): Promise<Principal> {
    if (!isWellFormedToken(token)) throw new AppError('token_invalid');
    const session = await this.storage.sessions.getByTokenHash(hashToken(token));
    if (!session) throw new AppError('token_invalid');
    const now = this.clock();
    if (session.revokedAt) throw new AppError('token_revoked');
    if (session.expiresAt <= now) throw new AppError('token_expired');
    const account = await this.storage.accounts.get(session.accountId);
    if (!account) throw new AppError('token_invalid');
    if (account.disabled) throw new AppError('account_disabled');
    const touchEvery = (this.options.touchEverySeconds ?? 60) * 1000;
    const device = await this.storage.devices.get(account.id, session.deviceId);
    if (device?.revokedAt) throw new AppError('token_revoked');
    if (device && now.getTime() - device.lastSeenAt.getTime() >= touchEvery) {
      await this.storage.devices.touch(account.id, device.id, now);
    }
    return { account, session };
  }

  async logout(principal: Principal): Promise<void> {
    await this.storage.sessions.revoke(principal.account.id, principal.session.id, this.clock());
    this.options.keyUnlock?.sessionEnded(principal.session.id);
  }

  /**
   * Asks the signed-in user to prove it is them again before an irreversible act (deleting the account): the
   * password, and the current two-factor code when the account has one. Throws invalid_credentials, totp_required
   * or totp_invalid; a code is used once (its step is recorded).
   */
  async confirmIdentity(accountId: string, password: string, totp?: string): Promise<void> {
    const account = await this.mustGet(accountId);
    if (!(await this.hasher.verify(account.passwordHash, password))) throw new AppError('invalid_credentials');
    if (account.totpSecretSealed) {
      if (!totp) throw new AppError('totp_required');
      await this.checkTotp(account, account.totpSecretSealed, totp);
    }
  }

  /** Starts two-factor enrolment: a new secret, pending until a first valid code confirms it. */
  async beginTotp(accountId: string): Promise<{ secret: string; otpauthUri: string }> {
    const account = await this.mustGet(accountId);
    if (account.totpSecretSealed) throw new AppError('totp_already_enabled');
    const secret = generateSecret();
    await this.storage.accounts.update({
      ...account,
      totpPendingSealed: this.box.seal(secret, totpPurpose(account.id)),
      updatedAt: this.clock(),
    });
    const otpauthUri = generateURI({ issuer: this.options.totpIssuer, label: account.username, secret });
    return { secret, otpauthUri };
  }

  /** Confirms enrolment with a code from the authenticator app; from then on logins need a code. */
  async confirmTotp(accountId: string, code: string): Promise<void> {
    const account = await this.mustGet(accountId);
    if (account.totpSecretSealed) throw new AppError('totp_already_enabled');
    if (!account.totpPendingSealed) throw new AppError('totp_not_pending');
    const checked = await this.checkTotp(account, account.totpPendingSealed, code);
    await this.storage.accounts.update({
      ...checked,
      totpSecretSealed: account.totpPendingSealed,
      totpPendingSealed: null,
      updatedAt: this.clock(),
    });
  }

  /** Turns two-factor off; needs a current code so a stolen session alone cannot weaken the account. */
  async disableTotp(accountId: string, code: string): Promise<void> {
    const account = await this.mustGet(accountId);
    if (!account.totpSecretSealed) throw new AppError('totp_not_pending', 'Two-factor authentication is not enabled.');
    const checked = await this.checkTotp(account, account.totpSecretSealed, code);
    await this.storage.accounts.update({
      ...checked,
      totpSecretSealed: null,
      totpPendingSealed: null,
      updatedAt: this.clock(),
    });
  }

  /** Verifies a code against a sealed secret, refusing replays of a code already used; records the step used. */
  private async checkTotp(account: Account, sealed: string, code: string): Promise<Account> {
    if (!/^\d{6}$/.test(code)) throw new AppError('totp_invalid');
    let secret: string;
    try {
      secret = this.box.open(sealed, totpPurpose(account.id));
    } catch {
      throw new AppError('internal_error', 'The two-factor secret cannot be opened with this instance key.');
    }
    const epoch = Math.floor(this.clock().getTime() / 1000);
    const result = await verifyTotp({
      secret,
      token: code,
      epoch,
      epochTolerance: TOTP_TOLERANCE_SECONDS,
      ...(account.totpLastStep > 0 ? { afterTimeStep: account.totpLastStep } : {}),
    });
    if (!result.valid) throw new AppError('totp_invalid');
    // The functional API is shared with HOTP; a TOTP verification always reports its time step.
    const step = 'timeStep' in result ? result.timeStep : Math.floor(epoch / 30);
    const next = { ...account, totpLastStep: step, updatedAt: this.clock() };
    await this.storage.accounts.update(next);
    return next;
  }

  private async deviceFor(account: Account, input: LoginInput, now: Date): Promise<Device> {
    if (input.deviceId) {
      const known = await this.storage.devices.get(account.id, input.deviceId);
      if (known && !known.revokedAt) {
        await this.storage.devices.touch(account.id, known.id, now);
        return { ...known, lastSeenAt: now };
      }
    }
    const ua = parseUserAgent(input.userAgent);
    const device: Device = {
      id: randomUUID(),
      accountId: account.id,
      name: input.deviceName?.trim() || ua.suggestedName,
      type: ua.type,
      os: ua.os,
      osVersion: ua.osVersion,
      browser: ua.browser,
      browserVersion: ua.browserVersion,
      userAgent: (input.userAgent ?? '').slice(0, 512),
      firstSeenAt: now,
      lastSeenAt: now,
      revokedAt: null,
      pi: null,
    };
    await this.storage.devices.create(device);
    return device;
  }

  private async mustGet(accountId: string): Promise<Account> {
    const account = await this.storage.accounts.get(accountId);
    if (!account) throw new AppError('not_found');
    return account;
  }
}
