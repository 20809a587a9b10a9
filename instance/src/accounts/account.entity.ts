export type Role = 'user' | 'admin';

/** An account of a person on this instance. Secrets are held encrypted or hashed, never in clear. */
export interface Account {
  id: string;
  username: string;
  displayName: string;
  role: Role;
  /** argon2id PHC string. */
  passwordHash: string;
  /** TOTP shared secret, sealed with the instance secret box (null when two-factor is off). */
  totpSecretSealed: string | null;
  /** A TOTP secret waiting for its first valid code, sealed (null when no enrolment is pending). */
  totpPendingSealed: string | null;
  /** Last accepted TOTP time step, so that a code cannot be replayed within its window. */
  totpLastStep: number;
  quotaBytes: number;
  usedBytes: number;
  disabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export const USERNAME_PATTERN = /^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$/;
