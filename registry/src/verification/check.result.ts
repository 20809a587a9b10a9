import type { CheckResult, CheckStatus, VerificationOptions, VerificationTarget } from './check.types.ts';

/**
 * What every check module shares: the spec of a check (id, weight, mandatory), builders that turn an observation
 * into a `CheckResult`, and the `CheckGroup` shape `runChecks` drives. A group is a set of checks that share one
 * probe (one TLS handshake, one descriptor fetch, one set of DNS lookups) and so run and time out together.
 */

/** internet.nl-style weights: core, important, nice to have. */
export const WEIGHT = { core: 10, important: 5, niceToHave: 2 } as const;

export interface CheckSpec {
  readonly id: string;
  /** Points a pass earns. */
  readonly weight: number;
  readonly mandatory: boolean;
  /** What it verifies, in a few words (README, evidence of a check that could not run). */
  readonly title: string;
}

export interface CheckContext {
  readonly target: VerificationTarget;
  readonly options: VerificationOptions;
  /** Aborted when the group's time is up: network work listens to it and stops. */
  readonly signal: AbortSignal;
  /** When the group's time is up (epoch ms). */
  readonly deadline: number;
}

export interface CheckGroup {
  readonly name: string;
  /** The checks the group reports for this target, in order (some depend on the target, e.g. `doesEmail`). */
  specs(target: VerificationTarget): CheckSpec[];
  run(context: CheckContext): Promise<CheckResult[]>;
}

export function checkResult(
  spec: CheckSpec,
  status: CheckStatus,
  evidence: string,
  now: Date,
  points = 0,
): CheckResult {
  return {
    id: spec.id,
    status,
    points: status === 'pass' ? spec.weight : Math.max(0, Math.min(points, spec.weight)),
    maxPoints: spec.weight,
    mandatory: spec.mandatory,
    evidence: boundedEvidence(evidence),
    checkedAt: now.toISOString(),
  };
}

/** Longest evidence kept: it is published, and parts of it come from the instance. */
export const MAX_EVIDENCE_LENGTH = 1000;

/** Evidence is one line of text: control characters become `?`, and it is cut at MAX_EVIDENCE_LENGTH. */
function boundedEvidence(evidence: string): string {
  const oneLine = evidence.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?');
  return oneLine.length > MAX_EVIDENCE_LENGTH ? `${oneLine.slice(0, MAX_EVIDENCE_LENGTH - 1)}…` : oneLine;
}

export const pass = (spec: CheckSpec, evidence: string, now: Date): CheckResult =>
  checkResult(spec, 'pass', evidence, now);
export const fail = (spec: CheckSpec, evidence: string, now: Date): CheckResult =>
  checkResult(spec, 'fail', evidence, now);
/** Partial credit: something works but not fully (TLS 1.2, DMARC p=none, TLSA without DNSSEC) or could not be verified. */
export const notice = (spec: CheckSpec, evidence: string, now: Date, points = 0): CheckResult =>
  checkResult(spec, 'notice', evidence, now, points);

/** A check that does not apply: it earns nothing and weighs nothing. */
export function info(spec: CheckSpec, evidence: string, now: Date): CheckResult {
  return { ...checkResult(spec, 'info', evidence, now), maxPoints: 0 };
}

/**
 * What a missing record yields: a fail for what is core or important, a notice for what is nice to have
 * (internet.nl's FAIL and NOTICE), with the record to publish in the evidence.
 */
export function missing(spec: CheckSpec, evidence: string, now: Date): CheckResult {
  return spec.weight <= WEIGHT.niceToHave ? notice(spec, evidence, now) : fail(spec, evidence, now);
}

/** The message of anything thrown, for evidence. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** The per-check (per-group) budget of `runChecks` when `options.timeoutMs` is not given. */
export const DEFAULT_CHECK_TIMEOUT_MS = 15_000;

/**
 * The time a network operation of a group may take when it starts now: what is left of the group's budget minus a
 * fifth of that budget, so that an endpoint that does not answer is reported by the operation, with what it was
 * waiting for, before `runChecks` gives up on the group.
 */
export function budgetMs(context: CheckContext): number {
  const margin = (context.options.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS) * 0.2;
  return Math.max(1, Math.floor(context.deadline - Date.now() - margin));
}

/** A value from the instance, printable, quoted and cut, for evidence. */
export function quote(value: string, max = 120): string {
  const printable = value.replace(/[^\x20-\x7e]/g, '?');
  return JSON.stringify(printable.length > max ? `${printable.slice(0, max)}…` : printable);
}
