import type { PiLevel } from '../api/types.ts';

/** The six levels of the Privacy Index, lowest first, with the upper bound of each score band (PRIVACY-INDEX.md). */
export const PI_LEVELS: readonly { level: PiLevel; max: number }[] = [
  { level: 'exposed', max: 10 },
  { level: 'basic', max: 30 },
  { level: 'guarded', max: 50 },
  { level: 'protected', max: 70 },
  { level: 'private', max: 85 },
  { level: 'sealed', max: 100 },
];

const NAMES = new Set<string>(PI_LEVELS.map((l) => l.level));

/** The level of a score (clamped to 0–100). */
export function piLevelOfScore(score: number): PiLevel {
  const s = Math.max(0, Math.min(100, Math.round(score)));
  return (PI_LEVELS.find((l) => s <= l.max) ?? PI_LEVELS[PI_LEVELS.length - 1]!).level;
}

/** The level the API named, or the one of the score when the name is unknown to this app. */
export function piLevelOf(pi: { score: number; level: string }): PiLevel {
  return NAMES.has(pi.level) ? (pi.level as PiLevel) : piLevelOfScore(pi.score);
}
