import type { VoteValue } from './audit.entity.ts';

/**
 * The registry's decision rule, pure. A label is decided when, all at once:
 * - at least K auditors approve (K = `approvalsRequired`, configuration, default 2);
 * - no objection stands (an objecting auditor may withdraw or change their vote; until then it blocks);
 * - the latest automated check run passed every mandatory check;
 * - the declaration meets every mandatory charter clause (evaluateCompliance).
 * Abstentions count for nothing either way. `blockers` says, in words, what is still missing.
 */
export interface ConsensusInput {
  votes: readonly { vote: VoteValue }[];
  approvalsRequired: number;
  /** The latest check run, or null when none ran yet. */
  checks: readonly { id: string; status: string; mandatory: boolean }[] | null;
  compliance: { mandatoryMet: boolean; clauses: readonly { id: string; mandatory: boolean; status: string }[] };
}

export interface ConsensusState {
  reached: boolean;
  approvals: number;
  objections: number;
  abstentions: number;
  approvalsRequired: number;
  blockers: string[];
}

export function decide(input: ConsensusInput): ConsensusState {
  const count = (v: VoteValue) => input.votes.filter((x) => x.vote === v).length;
  const approvals = count('approve');
  const objections = count('object');
  const abstentions = count('abstain');
  const blockers: string[] = [];
  if (approvals < input.approvalsRequired)
    blockers.push(`approvals: ${approvals} of ${input.approvalsRequired} needed`);
  if (objections > 0) blockers.push(`${objections} standing objection${objections > 1 ? 's' : ''}`);
  if (input.checks === null) {
    blockers.push('no automated check has run yet');
  } else {
    const failing = input.checks.filter((c) => c.mandatory && c.status !== 'pass').map((c) => c.id);
    if (failing.length > 0) blockers.push(`mandatory checks not passing: ${failing.join(', ')}`);
  }
  if (!input.compliance.mandatoryMet) {
    const unmet = input.compliance.clauses.filter((c) => c.mandatory && c.status !== 'met').map((c) => c.id);
    blockers.push(`mandatory charter clauses not met: ${unmet.join(', ') || '(see compliance)'}`);
  }
  return {
    reached: blockers.length === 0,
    approvals,
    objections,
    abstentions,
    approvalsRequired: input.approvalsRequired,
    blockers,
  };
}

/**
 * The same rule applied to a revocation proposal (issue 16: no auditor revokes alone): at least K approvals (the
 * proposer's included) and no standing objection. There are no checks to pass: the proposal is about conduct.
 */
export function decideRevocation(input: {
  votes: readonly { vote: VoteValue }[];
  approvalsRequired: number;
}): ConsensusState {
  return decide({
    votes: input.votes,
    approvalsRequired: input.approvalsRequired,
    checks: [],
    compliance: { mandatoryMet: true, clauses: [] },
  });
}
