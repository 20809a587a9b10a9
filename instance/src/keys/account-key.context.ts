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
import type { Session } from '../sessions/session.entity.ts';
import type { SessionRepository } from '../sessions/session.repository.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import type { EventPublisher } from '../shared/event-bus.ts';
import { AppError } from '../shared/errors.ts';
import type { AccountKey, KekDerivation, WrappedPrivateKey } from './account-key.entity.ts';
import type { AccountKeyRepository } from './account-key.repository.ts';
import { sameSalt } from './account-key.wrap.ts';
import type { KeyEvents } from './key.events.ts';

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
export interface OpenedKek {
  kdf: KekDerivation;
  kek: Buffer;
}

export const isServerHeld = (k: AccountKey): k is AccountKey & { privateKey: WrappedPrivateKey } =>
  k.privateKey !== null;

/**
 * What the parts of the account-key service share (issue 11: AccountKeyService, split by responsibility): its
 * dependencies, the per-account write serialisation, and the account look-ups every part makes.
 */
export class AccountKeyContext {
  readonly deps: AccountKeyServiceDeps;
  readonly kdf: PasswordHasherOptions;
  /** Writes of one account are serialised in this process, whichever part makes them. */
  readonly locks = new MailboxLocks();

  constructor(deps: AccountKeyServiceDeps) {
    this.deps = deps;
    this.kdf = deps.kdf ?? DEFAULT_PASSWORD_HASHING;
  }

  async active(accountId: string): Promise<AccountKey | null> {
    return (await this.deps.keys.listByAccount(accountId)).find((k) => k.status === 'active') ?? null;
  }

  addressOf(account: Account): string {
    return `${account.username}@${this.deps.domain}`;
  }

  async mustAccount(accountId: string): Promise<Account> {
    const account = await this.deps.accounts.get(accountId);
    if (account === null) throw new AppError('not_found');
    return account;
  }

  async reauthenticate(accountId: string, password: string): Promise<Account> {
    const account = await this.mustAccount(accountId);
    if (!(await this.deps.hasher.verify(account.passwordHash, password)))
      throw new AppError('invalid_credentials', 'The password is wrong.');
    return account;
  }

  /** Tells the unlock hook; never throws (a login or a mode switch is not undone by it). */
  async unlockedNow(accountId: string): Promise<void> {
    try {
      await this.deps.events?.publish('key.unlocked', { accountId });
    } catch (e) {
      this.deps.logger?.warn(
        { accountId, reason: e instanceof Error ? e.name : 'error' },
        'account keys: mail waiting for the unlocked key was not scheduled',
      );
    }
  }

  async changed(accountId: string): Promise<void> {
    await this.deps.events?.publish('keys.changed', { accountId, address: null });
  }
}

export function requirePassword(password: string | undefined): string {
  if (password === undefined || password === '')
    throw new AppError('key_request_invalid', 'Keeping the key on the server needs your password (`password`).');
  return password;
}

/** The keys grouped by their KEK derivation (salt): one argon2id run per group. */
export function bySalt<K extends AccountKey & { privateKey: WrappedPrivateKey }>(keys: K[]): K[][] {
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
