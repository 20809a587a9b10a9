import { randomUUID } from 'node:crypto';
import type { PasswordHasher } from '@caliopen/platform/crypto/password.hasher.ts';
import { hashToken, isWellFormedToken, newToken } from '@caliopen/platform/crypto/token.helpers.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import { RegistryError } from '../shared/errors.ts';
import type { RegistryStorage } from '../database/registry-storage.port.ts';
import type { Auditor, AuditorSession } from './audit.entity.ts';

export const AUDITOR_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const MIN_AUDITOR_PASSWORD_LENGTH = 10;

/** Auditor accounts (created by `caliopen registry auditor add`) and their bearer sessions (stored as SHA-256 only). */
export class AuditorService {
  constructor(
    private readonly storage: RegistryStorage,
    private readonly hasher: PasswordHasher,
    private readonly clock: Clock,
    private readonly sessionTtlSeconds: number,
  ) {}

  async create(name: string, password: string): Promise<Auditor> {
    if (!AUDITOR_NAME.test(name))
      throw new RegistryError(
        'validation_failed',
        'Auditor names are 1–64 characters: lowercase letters, digits, dot, dash, underscore.',
      );
    if (password.length < MIN_AUDITOR_PASSWORD_LENGTH)
      throw new RegistryError('validation_failed', `Passwords are at least ${MIN_AUDITOR_PASSWORD_LENGTH} characters.`);
    const auditor: Auditor = {
      id: randomUUID(),
      name,
      passwordHash: await this.hasher.hash(password),
      disabled: false,
      createdAt: this.clock(),
    };
    if ((await this.storage.auditors.create(auditor)) === 'name_taken')
      throw new RegistryError('validation_failed', `An auditor named "${name}" already exists.`);
    return auditor;
  }

  async login(name: string, password: string): Promise<{ token: string; session: AuditorSession; auditor: Auditor }> {
    const auditor = await this.storage.auditors.getByName(name);
    if (auditor === null) {
      await this.hasher.verifyDecoy(password);
      throw new RegistryError('invalid_credentials');
    }
    if (!(await this.hasher.verify(auditor.passwordHash, password))) throw new RegistryError('invalid_credentials');
    if (auditor.disabled) throw new RegistryError('auditor_disabled');
    const token = newToken();
    const now = this.clock();
    const session: AuditorSession = {
      id: randomUUID(),
      auditorId: auditor.id,
      tokenHash: hashToken(token),
      createdAt: now,
      expiresAt: new Date(now.getTime() + this.sessionTtlSeconds * 1000),
      revokedAt: null,
    };
    await this.storage.auditors.createSession(session);
    return { token, session, auditor };
  }

  /** The auditor behind a bearer token, or null when the token is no auditor session (it may be an applicant's). */
  async authenticate(token: string): Promise<{ auditor: Auditor; session: AuditorSession } | null> {
    if (!isWellFormedToken(token)) throw new RegistryError('token_invalid');
    const session = await this.storage.auditors.getSessionByTokenHash(hashToken(token));
    if (session === null) return null;
    if (session.revokedAt !== null) throw new RegistryError('token_invalid', 'This session was ended; log in again.');
    if (session.expiresAt.getTime() <= this.clock().getTime()) throw new RegistryError('token_expired');
    const auditor = await this.storage.auditors.get(session.auditorId);
    if (auditor === null) throw new RegistryError('token_invalid');
    if (auditor.disabled) throw new RegistryError('auditor_disabled');
    return { auditor, session };
  }

  async logout(sessionId: string): Promise<void> {
    await this.storage.auditors.revokeSession(sessionId, this.clock());
  }
}
