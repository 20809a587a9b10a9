import assert from 'node:assert/strict';

/** A Privacy Index as the API shows it: the score, the factors that make it, and what would raise it. */
export interface Pi {
  score: number;
  level?: string;
  modelVersion?: string;
  factors: { id: string; contribution: number; evidence: string }[];
  suggestions: { action: string; element: string; gain: number }[];
}

export const factor = (pi: Pi, id: string) => pi.factors.find((f) => f.id === id);

/** `score: factor=contribution, ...`, for assertion messages. */
export const explain = (pi: Pi) => `${pi.score}: ${pi.factors.map((f) => `${f.id}=${f.contribution}`).join(', ')}`;

/** The PI, checked to be well formed: an integer 0–100, the factors' contributions adding up to the score. */
export function wellFormedPi(pi: Pi): Pi {
  assert.ok(Number.isInteger(pi.score) && pi.score >= 0 && pi.score <= 100, `score ${pi.score}`);
  assert.equal(
    pi.factors.reduce((sum, f) => sum + f.contribution, 0),
    pi.score,
    `the contributions add up to the score: ${pi.factors.map((f) => `${f.id}=${f.contribution}`).join(' ')} vs ${pi.score}`,
  );
  return pi;
}
