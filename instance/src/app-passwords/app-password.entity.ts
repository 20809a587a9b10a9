/**
 * A password for one mail app (SMTP submission, later IMAP) of an account, made by the instance and shown once. It
 * lets an account with two-factor authentication use mail apps, which cannot ask for a code, and can be revoked
 * alone. Stored hashed (argon2id) like the account password; the label says which app it is for.
 */
export interface AppPassword {
  id: string;
  accountId: string;
  label: string;
  /** argon2id PHC string. */
  hash: string;
  createdAt: Date;
  /** Last successful use by a mail app (null: never used). */
  lastUsedAt: Date | null;
}

/** An account holds at most this many app passwords (each sign-in of a mail app may verify them all). */
export const MAX_APP_PASSWORDS = 20;
