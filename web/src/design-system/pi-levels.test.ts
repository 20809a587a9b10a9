import { expect, test } from 'vitest';
import { piLevelOf, piLevelOfScore } from './pi-levels.ts';

test('score bands of the Privacy Index (PRIVACY-INDEX.md, WEB.md)', () => {
  const cases: [number, string][] = [
    [0, 'exposed'],
    [10, 'exposed'],
    [11, 'basic'],
    [30, 'basic'],
    [31, 'guarded'],
    [50, 'guarded'],
    [51, 'protected'],
    [70, 'protected'],
    [71, 'private'],
    [85, 'private'],
    [86, 'sealed'],
    [100, 'sealed'],
    [140, 'sealed'],
    [-3, 'exposed'],
  ];
  for (const [score, level] of cases) expect(piLevelOfScore(score), String(score)).toBe(level);
  expect(piLevelOf({ score: 20, level: 'basic' })).toBe('basic');
  expect(piLevelOf({ score: 90, level: 'unknown-to-this-app' })).toBe('sealed');
});
