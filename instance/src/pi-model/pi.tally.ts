import {
  levelForScore,
  PI_MAX_SCORE,
  type PiFactor,
  type PiSuggestion,
  type PrivacyIndex,
} from '@caliopen/federation-protocol';

/**
 * The one way our models build a Privacy Index, so that every model keeps the same laws:
 * - every contribution is an integer, and the contributions add up to the score exactly (caps and the 0–100 bounds
 *   appear as factors of their own, with the points they take away);
 * - a cap only ever lowers the running total, so a model whose points and caps both grow with safer facts is
 *   monotone;
 * - suggestions are measured, not guessed: each is a "what if" on the facts, and its gain is the difference the model
 *   itself computes.
 */
export const PI_MODEL_VERSION = 'hub-pi/1';

export class PiTally {
  private readonly factors: PiFactor[] = [];
  private total = 0;

  /** Adds a factor. `points` is rounded to an integer; zero-point factors are kept: they explain what earned nothing. */
  add(id: string, points: number, evidence: string): this {
    const contribution = Math.round(points);
    this.factors.push({ id, contribution, evidence });
    this.total += contribution;
    return this;
  }

  /**
   * Caps the running total at `max`: when it is above, a factor takes the excess away (and says why). A cap that
   * does not bite still shows, with 0 points, when `always` is set: the fact matters even when another cap bit first.
   */
  cap(id: string, max: number, evidence: string, options: { always?: boolean } = {}): this {
    const limit = Math.max(0, Math.round(max));
    if (this.total > limit) this.add(id, limit - this.total, evidence);
    else if (options.always) this.add(id, 0, evidence);
    return this;
  }

  get subtotal(): number {
    return this.total;
  }

  /** The score, bounded to 0–100 by factors of its own when the points overflow. */
  finish(suggestions: readonly PiSuggestion[] = []): PrivacyIndex {
    this.cap('scale.max', PI_MAX_SCORE, `The scale stops at ${PI_MAX_SCORE}.`);
    if (this.total < 0) this.add('scale.min', -this.total, 'The scale starts at 0.');
    return {
      score: this.total,
      level: levelForScore(this.total),
      factors: this.factors,
      suggestions,
      modelVersion: PI_MODEL_VERSION,
    };
  }
}

/** A possible action on some element, and the facts as they would be after it. */
export interface WhatIf<F> {
  action: string;
  /** The element the action concerns, e.g. `contact:bob@example.org`, `account`, `device:<id>`. */
  element: (facts: F) => string;
  applies: (facts: F) => boolean;
  apply: (facts: F) => F;
}

/** Suggestions with a positive measured gain, largest first (ties by action, for stable output). */
export function measureSuggestions<F>(
  facts: F,
  score: number,
  score_: (facts: F) => number,
  candidates: readonly WhatIf<F>[],
): PiSuggestion[] {
  const out: PiSuggestion[] = [];
  for (const c of candidates) {
    if (!c.applies(facts)) continue;
    const gain = score_(c.apply(facts)) - score;
    if (gain >= 1) out.push({ action: c.action, element: c.element(facts), gain });
  }
  return out.sort((a, b) => b.gain - a.gain || (a.action < b.action ? -1 : a.action > b.action ? 1 : 0));
}
