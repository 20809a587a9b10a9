/** A bearer session. Only the SHA-256 of the token is stored: a stolen database yields no usable token. */
export interface Session {
  id: string;
  accountId: string;
  deviceId: string;
  tokenHash: string;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
}
