import { createHash } from 'node:crypto';
import { canonicalJson } from '@caliopen/federation-protocol';

/**
 * The admin actions journal (charter: traceability of operator actions): every operator action on the instance, in
 * order, append-only, each entry chained to the one before by its hash so that an edited, removed or reordered entry
 * is detected by `verifyChain`.
 *
 * An entry's body is its canonical JSON (RFC 8785, federation-protocol's `canonicalJson`); its hash is the SHA-256 of
 * that text, hex. The first entry's `prevHash` is GENESIS_HASH. Nothing secret is ever in a body (a password reset
 * says that it happened, never the password).
 */
export const JOURNAL_ACTIONS = [
  'account.created',
  'account.disabled',
  'account.enabled',
  'account.password_reset',
  'account.quota_changed',
  'account.role_changed',
  'account.display_name_changed',
  'account.key_reset',
  'config.changed',
] as const;
export type JournalAction = (typeof JOURNAL_ACTIONS)[number];

export const GENESIS_HASH = '0'.repeat(64);

/** Who acted: an administrator's account, or the operator at the machine (the `caliopen` CLI). */
export type JournalActor = { kind: 'admin'; accountId: string; username: string } | { kind: 'cli' };

/** The values an entry records about the action (numbers, words; never a secret). */
export type JournalDetails = Record<string, string | number | boolean | null>;

/** What is hashed: everything about the entry but its own hash. */
export interface JournalBody {
  v: 1;
  seq: number;
  at: string;
  actor: JournalActor;
  action: JournalAction;
  /** The account the action concerns (null for an instance-wide action such as a configuration change). */
  subject: { accountId: string; username: string } | null;
  details: JournalDetails;
  prevHash: string;
}

export interface JournalEntry extends JournalBody {
  hash: string;
}

/** How an entry is stored: the exact body text that was hashed, and the columns the listings filter on. */
export interface StoredJournalEntry {
  seq: number;
  at: Date;
  action: JournalAction;
  actorId: string | null;
  subjectId: string | null;
  body: string;
  hash: string;
}

export function hashBody(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Seals a new entry after `prev` (null: the first). */
export function sealEntry(
  prev: { seq: number; hash: string } | null,
  draft: Omit<JournalBody, 'v' | 'seq' | 'prevHash'>,
): StoredJournalEntry {
  const body: JournalBody = {
    v: 1,
    seq: (prev?.seq ?? 0) + 1,
    at: draft.at,
    actor: draft.actor,
    action: draft.action,
    subject: draft.subject,
    details: draft.details,
    prevHash: prev?.hash ?? GENESIS_HASH,
  };
  const text = canonicalJson(body);
  return {
    seq: body.seq,
    at: new Date(body.at),
    action: body.action,
    actorId: body.actor.kind === 'admin' ? body.actor.accountId : null,
    subjectId: body.subject?.accountId ?? null,
    body: text,
    hash: hashBody(text),
  };
}

export function readEntry(stored: StoredJournalEntry): JournalEntry {
  return { ...(JSON.parse(stored.body) as JournalBody), hash: stored.hash };
}

export type ChainVerdict =
  | { ok: true; entries: number; head: string }
  | { ok: false; entries: number; seq: number; problem: string };

/**
 * Checks a run of stored entries, oldest first from seq 1: each body hashes to its hash, carries its own seq (no
 * gap, no reordering), the previous entry's hash, and agrees with the columns stored beside it. Feed it pages in
 * order through `ChainVerifier`; `verifyChain` checks an array at once.
 */
export class ChainVerifier {
  private prev: { seq: number; hash: string } = { seq: 0, hash: GENESIS_HASH };
  private failure: { seq: number; problem: string } | null = null;

  /** false once a problem was found (later entries are not looked at). */
  add(e: StoredJournalEntry): boolean {
    if (this.failure) return false;
    const fail = (problem: string) => {
      this.failure = { seq: e.seq, problem };
      return false;
    };
    if (e.seq !== this.prev.seq + 1) return fail(`entry ${this.prev.seq + 1} is missing (found ${e.seq} next)`);
    if (hashBody(e.body) !== e.hash) return fail('its body does not hash to its recorded hash');
    let body: JournalBody;
    try {
      body = JSON.parse(e.body) as JournalBody;
    } catch {
      return fail('its body is not JSON');
    }
    let canonical: string | null;
    try {
      canonical = canonicalJson(body);
    } catch {
      // A lone surrogate escaped in the text, nesting deeper than canonical JSON writes: not a body we sealed.
      canonical = null;
    }
    if (canonical !== e.body) return fail('its body is not in canonical form');
    if (body.seq !== e.seq) return fail('its body names another position');
    if (body.prevHash !== this.prev.hash) return fail('it does not chain to the entry before');
    if (
      body.action !== e.action ||
      (body.subject?.accountId ?? null) !== e.subjectId ||
      (body.actor.kind === 'admin' ? body.actor.accountId : null) !== e.actorId ||
      new Date(body.at).getTime() !== e.at.getTime()
    )
      return fail('its stored columns disagree with its body');
    this.prev = { seq: e.seq, hash: e.hash };
    return true;
  }

  verdict(): ChainVerdict {
    if (this.failure) return { ok: false, entries: this.prev.seq, ...this.failure };
    return { ok: true, entries: this.prev.seq, head: this.prev.hash };
  }
}

export function verifyChain(entries: readonly StoredJournalEntry[]): ChainVerdict {
  const v = new ChainVerifier();
  for (const e of entries) if (!v.add(e)) break;
  return v.verdict();
}
