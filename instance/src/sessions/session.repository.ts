import type { Session } from './session.entity.ts';

/** Port: bearer sessions, found by the hash of their token. */
export interface SessionRepository {
  create(session: Session): Promise<void>;
  getByTokenHash(tokenHash: string): Promise<Session | null>;
  listByAccount(accountId: string): Promise<Session[]>;
  revoke(accountId: string, id: string, at: Date): Promise<boolean>;
  /** Revokes every live session of a device (when the device is revoked). Resolves how many were revoked. */
  revokeByDevice(accountId: string, deviceId: string, at: Date): Promise<number>;
  /** Revokes every live session of an account (password change, account disabled). */
  revokeByAccount(accountId: string, at: Date): Promise<number>;
  /** Forgets sessions that expired before `before`. Resolves how many were removed. */
  purgeExpired(before: Date): Promise<number>;
}

/** This domain's repository on the instance's storage (database/storage.port.ts). */
declare module '../database/storage.port.ts' {
  interface Storage {
    readonly sessions: SessionRepository;
  }
}
