import { levelForScore, type PiFactor, type PiSuggestion, type PrivacyIndex } from '@caliopen/federation-protocol';

/**
 * The instance Privacy Index, computed by the registry for each member and published in its feed. Pure: every input
 * is a verified fact handed in, time included.
 *
 * "It depends mostly on its national legislation" (seed 000): the jurisdiction weighs half of the scale, more than any
 * other factor. The formula (documented in docs/registry.md):
 *
 *     score = round( 50 × J/100            jurisdiction: the charter table's score of the declared country
 *                  + 25 × P/M              verified checks: points earned over points available (internet.nl weights)
 *                  + 15 × C/Cmax           charter commitments: evaluateCompliance points (0 while a mandatory clause is unmet)
 *                  + 10 × F )              audit freshness: 1 for a passing check run or decision today, falling
 *                                          linearly to 0 after FRESHNESS_DAYS
 *
 * Each term only grows with a safer fact: a check that passes adds its points to P (and to M, when new: (P+m)/(M+m) ≥
 * P/M), a met clause adds to C, a newer passing run raises F, so the index is monotone (checked by a fast-check
 * property). A failing mandatory check does not lower the index; it stops the label's renewal instead.
 */

export const INSTANCE_PI_MODEL_VERSION = 'instance-pi/1';
export const PI_WEIGHTS = { jurisdiction: 50, checks: 25, charter: 15, freshness: 10 } as const;
export const FRESHNESS_DAYS = 30;

export interface InstancePiCheck {
  id: string;
  status: 'pass' | 'fail' | 'notice' | 'info';
  points: number;
  maxPoints: number;
  mandatory: boolean;
  evidence: string;
}

export interface InstancePiInput {
  /** The charter jurisdiction entry of the declared country, or null when the table does not know it. */
  jurisdiction: { code: string; name: string; score: number } | null;
  /** The latest check run. */
  checks: readonly InstancePiCheck[];
  /** evaluateCompliance's result for the declaration and those checks. */
  compliance: { points: number; maxPoints: number; mandatoryMet: boolean } | null;
  /** The most recent passing check run or audit decision, if any. */
  lastVerifiedAt: Date | null;
  now: Date;
}

const DAY_MS = 24 * 3600 * 1000;

export function computeInstancePi(input: InstancePiInput): PrivacyIndex {
  const factors: PiFactor[] = [];
  const suggestions: PiSuggestion[] = [];

  // Jurisdiction
  const j = input.jurisdiction;
  const jScore = j === null ? 0 : clamp(j.score, 0, 100);
  const jurisdiction = (PI_WEIGHTS.jurisdiction * jScore) / 100;
  factors.push({
    id: 'jurisdiction',
    contribution: round1(jurisdiction),
    evidence:
      j === null
        ? 'The declared jurisdiction is not in the charter table: no protection is assumed.'
        : `Operated under the law of ${j.name} (${j.code}): ${jScore}/100 in the charter jurisdiction table.`,
  });

  // Verified checks
  let earned = 0;
  let available = 0;
  for (const c of input.checks) {
    const max = Math.max(0, c.maxPoints);
    available += max;
    earned += clamp(c.points, 0, max);
  }
  const checks = available === 0 ? 0 : (PI_WEIGHTS.checks * earned) / available;
  const passed = input.checks.filter((c) => c.status === 'pass').length;
  factors.push({
    id: 'checks.verified',
    contribution: round1(checks),
    evidence: truncate(
      available === 0
        ? 'No automated check has run yet.'
        : `${passed} of ${input.checks.length} checks pass, ${round1(earned)} of ${round1(available)} weighted points` +
            describeMisses(input.checks),
    ),
  });
  if (available > 0) {
    const misses = input.checks
      .filter((c) => c.maxPoints > c.points)
      .map((c) => ({ c, gain: Math.floor((PI_WEIGHTS.checks * (c.maxPoints - Math.max(0, c.points))) / available) }))
      .filter((m) => m.gain >= 1)
      .sort((a, b) => b.gain - a.gain || (a.c.id < b.c.id ? -1 : 1));
    for (const { c, gain } of misses.slice(0, 40))
      suggestions.push({ action: suggestionAction(c.id), element: 'instance', gain });
  }

  // Charter commitments
  const comp = input.compliance;
  const charter =
    comp === null || !comp.mandatoryMet || comp.maxPoints <= 0
      ? 0
      : (PI_WEIGHTS.charter * clamp(comp.points, 0, comp.maxPoints)) / comp.maxPoints;
  factors.push({
    id: 'charter.commitments',
    contribution: round1(charter),
    evidence:
      comp === null
        ? 'No charter declaration evaluated.'
        : !comp.mandatoryMet
          ? 'A mandatory charter clause is not met: commitments earn nothing until it is.'
          : `Charter commitments: ${round1(comp.points)} of ${round1(comp.maxPoints)} points.`,
  });
  if (comp?.mandatoryMet && comp.maxPoints > comp.points) {
    const gain = Math.floor((PI_WEIGHTS.charter * (comp.maxPoints - comp.points)) / comp.maxPoints);
    if (gain >= 1) suggestions.push({ action: 'instance.strengthen_commitments', element: 'instance', gain });
  }

  // Audit freshness
  const ageDays =
    input.lastVerifiedAt === null
      ? Infinity
      : Math.max(0, (input.now.getTime() - input.lastVerifiedAt.getTime()) / DAY_MS);
  const fresh = Number.isFinite(ageDays) ? clamp(1 - ageDays / FRESHNESS_DAYS, 0, 1) : 0;
  const freshness = PI_WEIGHTS.freshness * fresh;
  factors.push({
    id: 'audit.freshness',
    contribution: round1(freshness),
    evidence:
      input.lastVerifiedAt === null
        ? 'Never verified yet.'
        : `Last verified ${input.lastVerifiedAt.toISOString()} (${round1(ageDays)} days ago; counts for ${FRESHNESS_DAYS} days).`,
  });
  if (fresh < 1) {
    const gain = Math.floor(PI_WEIGHTS.freshness * (1 - fresh));
    if (gain >= 1) suggestions.push({ action: 'instance.reverify', element: 'instance', gain });
  }

  if (j === null || jScore < 100) {
    const gain = Math.floor((PI_WEIGHTS.jurisdiction * (100 - jScore)) / 100);
    if (gain >= 1) suggestions.push({ action: 'instance.protective_jurisdiction', element: 'instance', gain });
  }

  const score = clamp(Math.round(jurisdiction + checks + charter + freshness), 0, 100);
  return { score, level: levelForScore(score), factors, suggestions, modelVersion: INSTANCE_PI_MODEL_VERSION };
}

/** `tls.certificate.san` -> `instance.pass_check.tls_certificate_san` (a dotted name the wire format accepts). */
function suggestionAction(checkId: string): string {
  const slug =
    checkId
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '')
      .slice(0, 40) || 'check';
  return `instance.pass_check.${/^[a-z]/.test(slug) ? slug : `c${slug}`}`;
}

function describeMisses(checks: readonly InstancePiCheck[]): string {
  const misses = checks.filter((c) => c.status !== 'pass' && c.status !== 'info').map((c) => `${c.id} ${c.status}`);
  return misses.length === 0 ? '.' : `; not passing: ${misses.join(', ')}.`;
}

function clamp(n: number, min: number, max: number): number {
  return Number.isFinite(n) ? Math.min(max, Math.max(min, n)) : min;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

function truncate(text: string): string {
  return text.length <= 1000 ? text : `${text.slice(0, 997)}...`;
}
