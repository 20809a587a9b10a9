import type { PrivateKey } from 'openpgp';
import type { KekDerivation } from './account-key.entity.ts';
import { sameSalt } from './account-key.wrap.ts';

/** One unlock secret held for a session: the KEK derived from the password under one derivation (salt). */
export interface HeldKek {
  sessionId: string;
  kdf: KekDerivation;
  kek: Buffer;
}

interface SessionEntry {
  accountId: string;
  expiresAt: Date;
  keks: { kdf: KekDerivation; kek: Buffer }[];
}

/**
 * The session-held unlock secrets of server-mode private keys: for each live session that proved the password
 * (login, or a key operation that re-asked it), the key-encryption key(s) derived from it. Process memory only:
 * never written to disk, never logged; a restarted process holds nothing until the next login.
 *
 * An entry lives until its session expires, ends (logout, device revoked, account disabled: the service checks the
 * session store before each use), or the password changes. Dropped KEKs are overwritten with zeros (best effort:
 * copies the runtime made before are out of reach).
 *
 * It also keeps the private keys opened with those KEKs (parsed, as openpgp.js objects), for as long as the account
 * holds a KEK: a key is then opened and its self-signatures verified once, not for every message. They go with the
 * account's last session, and at a password change, a switch to client mode, a disabled account.
 */
export class KeyUnlockCache {
  private readonly sessions = new Map<string, SessionEntry>();
  private readonly byAccount = new Map<string, Set<string>>();
  private readonly opened = new Map<string, Map<string, { sealed: string; key: PrivateKey }>>();

  /** Holds `kek` (copied) for the session; replaces an earlier KEK of the same salt. */
  put(accountId: string, sessionId: string, expiresAt: Date, kdf: KekDerivation, kek: Buffer): void {
    let entry = this.sessions.get(sessionId);
    if (entry === undefined || entry.accountId !== accountId) {
      if (entry !== undefined) this.drop(sessionId);
      entry = { accountId, expiresAt, keks: [] };
      this.sessions.set(sessionId, entry);
      let ids = this.byAccount.get(accountId);
      if (ids === undefined) this.byAccount.set(accountId, (ids = new Set()));
      ids.add(sessionId);
    }
    entry.expiresAt = expiresAt;
    for (const held of entry.keks.filter((h) => sameSalt(h.kdf, kdf))) held.kek.fill(0);
    entry.keks = [...entry.keks.filter((h) => !sameSalt(h.kdf, kdf)), { kdf, kek: Buffer.from(kek) }];
  }

  /** The KEKs held for the account's unexpired sessions (expired ones are dropped on the way). */
  held(accountId: string, now: Date): HeldKek[] {
    const out: HeldKek[] = [];
    for (const sessionId of [...(this.byAccount.get(accountId) ?? [])]) {
      const entry = this.sessions.get(sessionId);
      if (entry === undefined) continue;
      if (entry.expiresAt <= now) {
        this.drop(sessionId);
        continue;
      }
      for (const h of entry.keks) out.push({ sessionId, kdf: h.kdf, kek: h.kek });
    }
    return out;
  }

  /** The key opened before from exactly this wrapped copy (`sealed`), while the account holds a KEK. */
  openedKey(accountId: string, fingerprint: string, sealed: string): PrivateKey | undefined {
    const kept = this.opened.get(accountId)?.get(fingerprint);
    return kept?.sealed === sealed ? kept.key : undefined;
  }

  /** Keeps a key opened from the wrapped copy `sealed` (only while the account holds a KEK). */
  keepOpened(accountId: string, fingerprint: string, sealed: string, key: PrivateKey): void {
    if (!this.byAccount.has(accountId)) return;
    let keys = this.opened.get(accountId);
    if (keys === undefined) this.opened.set(accountId, (keys = new Map()));
    keys.set(fingerprint, { sealed, key });
  }

  /** Session ids holding something for the account. */
  sessionsOf(accountId: string): string[] {
    return [...(this.byAccount.get(accountId) ?? [])];
  }

  /** Forgets (and zeroes) what a session holds: logout, revocation. */
  drop(sessionId: string): void {
    const entry = this.sessions.get(sessionId);
    if (entry === undefined) return;
    for (const h of entry.keks) h.kek.fill(0);
    this.sessions.delete(sessionId);
    const ids = this.byAccount.get(entry.accountId);
    ids?.delete(sessionId);
    if (ids?.size === 0) {
      this.byAccount.delete(entry.accountId);
      this.opened.delete(entry.accountId);
    }
  }

  /** Forgets everything held for an account: password change, account disabled, mode switched to client. */
  dropAccount(accountId: string): void {
    for (const sessionId of this.sessionsOf(accountId)) this.drop(sessionId);
  }

  /** Drops every expired entry (the service calls it now and then; reads drop expired entries anyway). */
  sweep(now: Date): void {
    for (const [sessionId, entry] of this.sessions) if (entry.expiresAt <= now) this.drop(sessionId);
  }

  /** How many sessions hold something (for tests and metrics; no secret). */
  get size(): number {
    return this.sessions.size;
  }
}
