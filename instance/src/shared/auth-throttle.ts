import { clientKey } from './client-key.ts';

/**
 * Brute-force bounds for sign-ins that cannot show a captcha (mail apps: SMTP AUTH, IMAP LOGIN). Failures are
 * counted per client address (IPv4, IPv6 /64) and per account name within a window; from the limit on, each further
 * failure locks that key out for twice as long as the previous one (from `baseLockMs` up to `maxLockMs`). While a
 * key is locked nothing is verified: the answer is "try later" whatever the password. A success clears the
 * account's count (not the address's: one good password among many guesses from one place is no excuse).
 */
export interface AuthThrottleOptions {
  failuresPerIp: number;
  failuresPerAccount: number;
  windowMs?: number;
  baseLockMs?: number;
  maxLockMs?: number;
  /** Keys kept at most (oldest forgotten first): memory stays bounded under a spray from many addresses. */
  maxKeys?: number;
  now?: () => number;
}

interface Entry {
  failures: number;
  firstAt: number;
  lockedUntil: number;
}

export class AuthThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly windowMs: number;
  private readonly baseLockMs: number;
  private readonly maxLockMs: number;
  private readonly maxKeys: number;

  constructor(private readonly options: AuthThrottleOptions) {
    this.now = options.now ?? Date.now;
    this.windowMs = options.windowMs ?? 15 * 60_000;
    this.baseLockMs = options.baseLockMs ?? 60_000;
    this.maxLockMs = options.maxLockMs ?? 3600_000;
    this.maxKeys = options.maxKeys ?? 100_000;
  }

  private keys(ip: string, account: string): [string, number][] {
    const keys: [string, number][] = [[`ip:${clientKey(ip)}`, this.options.failuresPerIp]];
    if (account) keys.push([`account:${account.toLowerCase()}`, this.options.failuresPerAccount]);
    return keys;
  }

  /** Milliseconds before this address or this account may try again (0: now). */
  lockedFor(ip: string, account: string): number {
    const now = this.now();
    let wait = 0;
    for (const [key] of this.keys(ip, account)) {
      const e = this.entries.get(key);
      if (e && e.lockedUntil > now) wait = Math.max(wait, e.lockedUntil - now);
    }
    return wait;
  }

  failed(ip: string, account: string): void {
    const now = this.now();
    for (const [key, limit] of this.keys(ip, account)) {
      let e = this.entries.get(key);
      if (!e || (now - e.firstAt > this.windowMs && e.lockedUntil <= now))
        e = { failures: 0, firstAt: now, lockedUntil: 0 };
      e.failures += 1;
      if (e.failures >= limit) {
        const lock = Math.min(this.maxLockMs, this.baseLockMs * 2 ** Math.min(20, e.failures - limit));
        e.lockedUntil = now + lock;
      }
      this.entries.delete(key);
      this.entries.set(key, e);
    }
    while (this.entries.size > this.maxKeys) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  succeeded(_ip: string, account: string): void {
    if (account) this.entries.delete(`account:${account.toLowerCase()}`);
  }
}
