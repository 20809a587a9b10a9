import { createHash, randomBytes } from 'node:crypto';

/** Bearer tokens: `cal_` + 32 random bytes (base64url). Only their SHA-256 is ever stored. */
const TOKEN_PATTERN = /^cal_[A-Za-z0-9_-]{43}$/;

export function newToken(): string {
  return `cal_${randomBytes(32).toString('base64url')}`;
}

export function isWellFormedToken(token: string): boolean {
  return TOKEN_PATTERN.test(token);
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
