import type { SpamFacts } from '../mail/message.facts.ts';
import type { SpamCheck, SpamFilterError } from './spam-filter.port.ts';

/** The instance's reading of a filter's score (config `spam`). */
export interface SpamThresholds {
  /** From this score up, the message is spam: filed as junk. */
  junkScore: number;
  /** From this score up, the message is refused at SMTP time; null: never refused. */
  rejectScore: number | null;
}

/** What the SMTP session does with a message after the filter's look: refuse it, or spool it with these facts. */
export type SpamScreening = { kind: 'reject'; reply: string; score: number } | { kind: 'accept'; facts: SpamFacts };

/** The facts of a checked message: the verdict against our junk score, the filter's score, action and rules. */
export function checkedFacts(filter: string, check: SpamCheck, t: SpamThresholds, at: Date): SpamFacts {
  return {
    status: 'checked',
    filter,
    verdict: check.score >= t.junkScore ? 'spam' : 'ham',
    score: check.score,
    action: check.action,
    symbols: check.symbols,
    checkedAt: at.toISOString(),
  };
}

/** The facts of a message the filter could not check now (its reason is the error's kind, never content). */
export function uncheckedFacts(filter: string, error: SpamFilterError, at: Date): SpamFacts {
  return { status: 'unchecked', filter, reason: error.reason, since: at.toISOString() };
}

/** Whether a check is far enough beyond junk to refuse the message at SMTP time. */
export function rejects(check: SpamCheck, t: SpamThresholds): boolean {
  return t.rejectScore !== null && check.score >= t.rejectScore;
}

/** The SMTP reply of a refusal: a permanent 5.7.1, with the score, in plain ASCII, one line. */
export function rejectReply(check: SpamCheck): string {
  return `5.7.1 Message refused as spam (score ${check.score.toFixed(1)}); if this is an error, write to the postmaster`;
}

/** Whether stored facts say the message still waits for the filter. */
export function isUnchecked(facts: Record<string, unknown>): boolean {
  const s = facts.spam;
  return s !== null && typeof s === 'object' && (s as { status?: unknown }).status === 'unchecked';
}
