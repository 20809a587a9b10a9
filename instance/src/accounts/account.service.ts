import { randomUUID } from 'node:crypto';
import { AppError } from '../shared/errors.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import type { Storage } from '../database/storage.port.ts';
import { USERNAME_PATTERN, type Account, type Role } from './account.entity.ts';
import type { AccountChange, AccountEvents, Operator } from './account.events.ts';
import { noEvents, type EventPublisher } from '../shared/event-bus.ts';
import {
  MAX_PASSWORD_LENGTH,
  MIN_PASSWORD_LENGTH,
  type PasswordHasher,
} from '@caliopen/platform/crypto/password.hasher.ts';

export interface NewAccount {
  username: string;
  password: string;
  displayName?: string;
  role?: Role;
  quotaBytes?: number;
}

export interface AccountChanges {
  displayName?: string;
  role?: Role;
  quotaBytes?: number;
  disabled?: boolean;
}

/**
 * Told before a password changes: the account-keys domain re-wraps a server-held private key under the new password
 * and resolves what to do once the new password is stored (AccountKeyService.passwordChanging).
 */
export type PasswordChangeHook = (
  accountId: string,
  newPassword: string,
  oldPassword?: string,
) => Promise<() => Promise<void>>;

/** What the instance operator does with accounts (admin API and CLI share it). */
export class AccountService {
  constructor(
    private readonly storage: Storage,
    private readonly hasher: PasswordHasher,
    private readonly clock: Clock,
    private readonly defaultQuotaBytes: number,
    private readonly hooks: { passwordChanging?: PasswordChangeHook; events?: EventPublisher<AccountEvents> } = {},
  ) {
    this.events = hooks.events ?? noEvents();
  }

  private readonly events: EventPublisher<AccountEvents>;

  /** Tells the others (the admin journal) what an operator changed; nothing when no operator acted (`by` absent). */
  private async administered(by: Operator | undefined, account: Account, changes: AccountChange[]): Promise<void> {
    if (by === undefined) return;
    for (const change of changes) {
      await this.events.publish('account.administered', {
        at: account.updatedAt,
        by,
        account: { id: account.id, username: account.username },
        change,
      });
    }
  }

  static normaliseUsername(username: string): string {
    return username.trim().toLowerCase();
  }

  static checkPassword(password: string): void {
    if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
      throw new AppError(
        'password_too_weak',
        `Passwords must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters long.`,
      );
    }
  }

  /** Creates an account; `by` names the operator who did (recorded in the admin journal). */
  async create(input: NewAccount, by?: Operator): Promise<Account> {
    const username = AccountService.normaliseUsername(input.username);
    if (!USERNAME_PATTERN.test(username)) throw new AppError('username_invalid');
    AccountService.checkPassword(input.password);
    const now = this.clock();
    const account: Account = {
      id: randomUUID(),
      username,
      displayName: input.displayName?.trim() || username,
      role: input.role ?? 'user',
      passwordHash: await this.hasher.hash(input.password),
      totpSecretSealed: null,
      totpPendingSealed: null,
      totpLastStep: 0,
      quotaBytes: input.quotaBytes ?? this.defaultQuotaBytes,
      usedBytes: 0,
      disabled: false,
      createdAt: now,
      updatedAt: now,
    };
    if (!(await this.storage.accounts.create(account))) {
      throw new AppError('username_taken', `The username "${username}" is already taken on this instance.`);
    }
    await this.administered(by, account, [{ kind: 'created', role: account.role, quotaBytes: account.quotaBytes }]);
    return account;
  }

  async get(id: string): Promise<Account> {
    const account = await this.storage.accounts.get(id);
    if (!account) throw new AppError('not_found');
    return account;
  }

  async getByUsername(username: string): Promise<Account> {
    const account = await this.storage.accounts.getByUsername(AccountService.normaliseUsername(username));
    if (!account) throw new AppError('not_found', `No account named "${username}".`);
    return account;
  }

  list(page: { limit: number; afterUsername?: string }): Promise<Account[]> {
    return this.storage.accounts.list(page);
  }

  /** Changes an account; `by` names the operator who did (each change recorded in the admin journal). */
  async update(id: string, changes: AccountChanges, by?: Operator): Promise<Account> {
    const account = await this.get(id);
    const next: Account = {
      ...account,
      displayName: changes.displayName?.trim() || account.displayName,
      role: changes.role ?? account.role,
      quotaBytes: changes.quotaBytes ?? account.quotaBytes,
      disabled: changes.disabled ?? account.disabled,
      updatedAt: this.clock(),
    };
    await this.storage.accounts.update(next);
    // A disabled account keeps no live session.
    if (next.disabled && !account.disabled) await this.storage.sessions.revokeByAccount(id, next.updatedAt);
    const done: AccountChange[] = [];
    if (next.disabled !== account.disabled) done.push({ kind: next.disabled ? 'disabled' : 'enabled' });
    if (next.quotaBytes !== account.quotaBytes)
      done.push({ kind: 'quota_changed', from: account.quotaBytes, to: next.quotaBytes });
    if (next.role !== account.role) done.push({ kind: 'role_changed', from: account.role, to: next.role });
    if (next.displayName !== account.displayName) done.push({ kind: 'display_name_changed' });
    await this.administered(by, next, done);
    return next;
  }

  /**
   * Sets a new password and ends every session of the account (a password change is a "log out everywhere").
   * `currentPassword`, when the user gave it, lets a server-held private key follow the change (re-wrapped).
   */
  async setPassword(id: string, password: string, currentPassword?: string, by?: Operator): Promise<Account> {
    AccountService.checkPassword(password);
    const account = await this.get(id);
    const commitKeys = await this.hooks.passwordChanging?.(id, password, currentPassword);
    const next: Account = { ...account, passwordHash: await this.hasher.hash(password), updatedAt: this.clock() };
    await this.storage.accounts.update(next);
    await this.storage.sessions.revokeByAccount(id, next.updatedAt);
    await commitKeys?.();
    await this.administered(by, next, [{ kind: 'password_reset' }]);
    return next;
  }
}
