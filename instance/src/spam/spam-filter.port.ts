/**
 * Port: a central spam filter the instance asks about inbound mail and teaches from its users' word. Adapter:
 * spam-filter.rspamd.ts (rspamd's HTTP protocol: `/checkv2` on the normal worker, `/learnspam` and `/learnham` on the
 * controller). Checked by spam-filter.conformance.ts against a real rspamd.
 *
 * A filter never decides alone what happens to a message: it gives a score and the rules that fired, and the instance
 * applies its own thresholds (spam.verdict.ts). Every failure — unreachable, slow, an answer that is not the protocol's
 * — is a `SpamFilterError`: the caller files the message unchecked and checks it again later.
 */

/** What the SMTP session knows of a message, passed along so the filter can weigh it (all optional). */
export interface SpamEnvelope {
  /** The connecting client's address. */
  clientIp?: string | null;
  /** The name given in HELO/EHLO. */
  helo?: string | null;
  /** MAIL FROM ('' for bounces). */
  mailFrom?: string | null;
  /** RCPT TO addresses. */
  recipients?: readonly string[];
}

/** One rule that fired: its name, its weight in the score, and the filter's words for it. */
export interface SpamSymbol {
  name: string;
  score: number;
  description: string | null;
}

/** The filter's answer about one message. */
export interface SpamCheck {
  /** The filter's total score (higher: more likely spam). */
  score: number;
  /** The action the filter itself would take (rspamd: `no action`, `add header`, `reject`...), for explanation. */
  action: string;
  /** The rules that fired, highest weight first (bounded: see MAX_SYMBOLS). */
  symbols: SpamSymbol[];
}

export type LearnClass = 'spam' | 'ham';

/** What a lesson came to: learnt, already known in that class, or skipped by the filter (too few words...). */
export type LearnOutcome = 'learned' | 'already-learned' | 'skipped';

export interface SpamFilter {
  /** Which filter this is (metrics, facts). */
  readonly name: string;
  /** Whether this filter can be taught (a controller and its password are configured). */
  readonly canLearn: boolean;
  check(raw: Buffer, envelope?: SpamEnvelope): Promise<SpamCheck>;
  learn(raw: Buffer, as: LearnClass): Promise<LearnOutcome>;
}

/** The filter could not answer (down, slow, refused, or answered garbage). `reason` is short and has no content. */
export class SpamFilterError extends Error {
  constructor(
    readonly reason: 'unavailable' | 'timeout' | 'refused' | 'bad-answer',
    message: string,
  ) {
    super(message);
    this.name = 'SpamFilterError';
  }
}

/** Most symbols kept from one answer, and the longest name and description kept of each. */
export const MAX_SYMBOLS = 40;
export const MAX_SYMBOL_NAME = 64;
export const MAX_SYMBOL_DESCRIPTION = 200;
