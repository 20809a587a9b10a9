import type { PasswordHasher } from '@caliopen/platform/crypto/password.hasher.ts';
import type { Account } from '../accounts/account.entity.ts';
import type { Storage } from '../database/storage.port.ts';
import { AuthThrottle } from '../shared/auth-throttle.ts';
import type { AppPasswordService } from './app-password.service.ts';

/** The answer to a mail app's sign-in (SMTP AUTH, IMAP LOGIN): who, or why not — in words a mail app can show. */
export type MailClientAuthResult =
  | { ok: true; account: Account }
  | { ok: false; reason: 'invalid' | 'throttled' | 'disabled'; retryAfterSeconds?: number };

export interface MailClientAuthOptions {
  domain: string;
  /** Failed sign-ins per client address (IPv4, IPv6 /64) within the window before a lockout. */
  failuresPerIp: number;
  /** Failed sign-ins per account within the window before a lockout. */
  failuresPerAccount: number;
  now?: () => number;
}

/**
 * Sign-in of mail apps, which know a username and a password only: the account password, or — for an account with
 * two-factor authentication, whose password alone is not enough — one of its app passwords. Brute force is bounded
 * per client address and per account name (AuthThrottle): once locked, nothing is verified until the lockout ends.
 */
export class MailClientAuth {
  private readonly throttle: AuthThrottle;

  constructor(
    private readonly storage: Pick<Storage, 'accounts'>,
    private readonly hasher: PasswordHasher,
    private readonly appPasswords: AppPasswordService,
    private readonly options: MailClientAuthOptions,
  ) {
    this.throttle = new AuthThrottle({
      failuresPerIp: options.failuresPerIp,
      failuresPerAccount: options.failuresPerAccount,
      ...(options.now ? { now: options.now } : {}),
    });
  }

  /** The username of a sign-in: `name` or `name@<this domain>`; null for another domain or a malformed name. */
  private usernameOf(given: string): string | null {
    const name = given.trim().toLowerCase();
    if (name.length === 0 || name.length > 320) return null;
    const at = name.lastIndexOf('@');
    if (at < 0) return name;
    return name.slice(at + 1) === this.options.domain.toLowerCase() ? name.slice(0, at) : null;
  }

  async authenticate(username: string, password: string, ip: string): Promise<MailClientAuthResult> {
    const name = this.usernameOf(username) ?? '';
    const locked = this.throttle.lockedFor(ip, name);
    if (locked > 0) return { ok: false, reason: 'throttled', retryAfterSeconds: Math.ceil(locked / 1000) };
    const account = name ? await this.storage.accounts.getByUsername(name) : null;
    // The account password alone signs in only where it is all a sign-in needs (no two-factor); an app password
    // always does.
    const valid =
      account !== null &&
      ((account.totpSecretSealed === null && (await this.hasher.verify(account.passwordHash, password))) ||
        (await this.appPasswords.matches(account, password)));
    if (!account) await this.hasher.verifyDecoy(password);
    if (!valid || !account) {
      this.throttle.failed(ip, name);
      return { ok: false, reason: 'invalid' };
    }
    if (account.disabled) return { ok: false, reason: 'disabled' };
    this.throttle.succeeded(ip, name);
    return { ok: true, account };
  }
}
