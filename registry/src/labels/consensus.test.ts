import assert from 'node:assert/strict';
import { test } from 'vitest';
import type { VoteValue } from './audit.entity.ts';
import { decide } from './consensus.ts';

const votes = (...v: VoteValue[]) => v.map((vote) => ({ vote }));
const passing = [
  { id: 'tls.certificate.san', status: 'pass', mandatory: true },
  { id: 'dns.mta_sts', status: 'fail', mandatory: false },
];
const compliant = { mandatoryMet: true, clauses: [{ id: 'no-resale', mandatory: true, status: 'met' }] };

test('K approvals, no objection, mandatory checks and clauses met: decided', () => {
  const s = decide({
    votes: votes('approve', 'approve', 'abstain'),
    approvalsRequired: 2,
    checks: passing,
    compliance: compliant,
  });
  assert.deepEqual(s, {
    reached: true,
    approvals: 2,
    objections: 0,
    abstentions: 1,
    approvalsRequired: 2,
    blockers: [],
  });
});

test('one approval short, or abstentions instead of approvals: not decided', () => {
  assert.deepEqual(
    decide({
      votes: votes('approve', 'abstain', 'abstain'),
      approvalsRequired: 2,
      checks: passing,
      compliance: compliant,
    }).blockers,
    ['approvals: 1 of 2 needed'],
  );
  assert.equal(
    decide({ votes: votes('approve'), approvalsRequired: 1, checks: passing, compliance: compliant }).reached,
    true,
  );
});

test('a single standing objection blocks whatever the approvals', () => {
  const s = decide({
    votes: votes('approve', 'approve', 'approve', 'object'),
    approvalsRequired: 2,
    checks: passing,
    compliance: compliant,
  });
  assert.equal(s.reached, false);
  assert.deepEqual(s.blockers, ['1 standing objection']);
});

test('checks and charter gate the decision: none run, a mandatory check failing, a mandatory clause unmet', () => {
  const approved = votes('approve', 'approve');
  assert.deepEqual(decide({ votes: approved, approvalsRequired: 2, checks: null, compliance: compliant }).blockers, [
    'no automated check has run yet',
  ]);
  const failing = [
    { id: 'domain.control', status: 'fail', mandatory: true },
    { id: 'tls.certificate.san', status: 'notice', mandatory: true },
  ];
  assert.deepEqual(decide({ votes: approved, approvalsRequired: 2, checks: failing, compliance: compliant }).blockers, [
    'mandatory checks not passing: domain.control, tls.certificate.san',
  ]);
  const unmet = {
    mandatoryMet: false,
    clauses: [
      { id: 'no-resale', mandatory: true, status: 'unmet' },
      { id: 'retention', mandatory: false, status: 'unmet' },
    ],
  };
  assert.deepEqual(decide({ votes: approved, approvalsRequired: 2, checks: passing, compliance: unmet }).blockers, [
    'mandatory charter clauses not met: no-resale',
  ]);
});
