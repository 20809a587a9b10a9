import { randomBytes, randomUUID } from 'node:crypto';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import type { PasswordHasher } from '@caliopen/platform/crypto/password.hasher.ts';
import type { Account } from '../accounts/account.entity.ts';
import type { Storage } from '../database/storage.port.ts';
import { AppError } from '../shared/errors.ts';
import { type AppPassword, MAX_APP_PASSWORDS } from './app-password.entity.ts';

/** Letters a person copies without confusion (no 0/o, 1/l/i). */
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
/** 5 groups of 4: 20 characters of 31 → about 99 bits. */
const GROUPS = 5;

/** A new app password, `xxxx-xxxx-xxxx-xxxx-xxxx`, from the system's random source (rejection sampling: no bias). */
export function newAppPasswordSecret(): string {
  const out: string[] = [];
  while (out.length < GROUPS * 4) {
    for (const b of randomBytes(32)) {
      if (b >= 248) continue; // 248 = 31 * 8
      out.push(ALPHABET[b % ALPHABET.length]!);
      if (out.length === GROUPS * 4) break;
    }
  }
  return Array.from({ length: GROUPS }, (_, i) => out.slice(i * 4, i * 4 + 4).join('')).join('-');
}

/** What the API shows of an app password: never the secret nor its hash. */
export interface AppPasswordView {
  id: string;
  label: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

const view = (p: AppPassword): AppPasswordView => ({
  id: p.id,
  label: p.label,
  createdAt: p.createdAt,
  lastUsedAt: p.lastUsedAt,
});

/** App passwords: made here and shown once, kept hashed, revoked one by one; checked when a mail app signs in. */
export class AppPasswordService {
  constructor(
    private readonly storage: Pick<Storage, 'appPasswords'>,
    private readonly hasher: PasswordHasher,
    private readonly clock: Clock,
  ) {}

  async list(accountId: string): Promise<AppPasswordView[]> {
    return (await this.storage.appPasswords.list(accountId)).map(view);
  }

  /** Makes a new app password for `label`; the secret is in the answer and nowhere else. */
  async create(accountId: string, label: string): Promise<AppPasswordView & { password: string }> {
    const name = label.trim();
    if (name.length === 0 || /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(name))
      throw new AppError('validation_failed', 'The label is empty or has control characters.');
    const existing = await this.storage.appPasswords.list(accountId);
    if (existing.length >= MAX_APP_PASSWORDS) throw new AppError('app_password_limit');
    const password = newAppPasswordSecret();
    const p: AppPassword = {
      id: randomUUID(),
      accountId,
      label: name,
      hash: await this.hasher.hash(password),
      createdAt: this.clock(),
      lastUsedAt: null,
    };
    await this.storage.appPasswords.create(p);
    return { ...view(p), password };
  }

  async revoke(accountId: string, id: string): Promise<void> {
    if (!(await this.storage.appPasswords.delete(accountId, id))) throw new AppError('not_found');
  }

  /** Whether `given` is one of the account's app passwords (its last use recorded when it is). */
  async matches(account: Account, given: string): Promise<boolean> {
    // An app password has one shape: anything else is not worth an argon2 verification per stored password.
    const candidate = given.trim().toLowerCase();
    if (!/^(?:[a-z0-9]{4}-){4}[a-z0-9]{4}$/.test(candidate)) return false;
    for (const p of await this.storage.appPasswords.list(account.id)) {
      if (await this.hasher.verify(p.hash, candidate)) {
        await this.storage.appPasswords.touch(account.id, p.id, this.clock());
        return true;
      }
    }
    return false;
  }
}
