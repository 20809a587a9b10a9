import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { FeedInstance } from '@caliopen/federation-protocol';
import { test } from 'vitest';
import { Exclusive } from '../shared/exclusive.ts';
import { unitRegistry } from '../testing/unit-registry.ts';
import type { Auditor } from './audit.entity.ts';
import type { Member } from './label.entity.ts';
import { LabelService } from './label.service.ts';
import { RevocationService } from './revocation.service.ts';

const code = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
};

const auditor = (name: string): Auditor => ({
  id: randomUUID(),
  name,
  passwordHash: 'x',
  disabled: false,
  createdAt: new Date(0),
});

function member(domain: string, now: Date): Member {
  const expires = new Date(now.getTime() + 7 * 86_400_000);
  return {
    domain,
    applicationId: randomUUID(),
    status: 'labelled',
    listed: true,
    currentLabelId: randomUUID(),
    labelIssuedAt: now,
    labelExpiresAt: expires,
    entry: { domain, status: 'labelled' } as unknown as FeedInstance,
    pi: { score: 90 } as Member['pi'],
    renewalBlocked: null,
    lastCheckAt: now,
    lastPassingCheckAt: now,
    decidedAt: now,
    updatedAt: now,
    revokedAt: null,
    revocationReason: null,
  };
}

async function setup(approvalsRequired = 2) {
  let now = new Date('2026-03-01T00:00:00.000Z');
  const r = await unitRegistry(now);
  const published: string[][] = [];
  const labels = new LabelService(
    r.storage,
    r.keys,
    r.log,
    { publish: async (domains) => published.push([...domains]) },
    { origin: 'registry.unit.test', lifetimeDays: 7 },
  );
  const revocations = new RevocationService(r.storage, labels, new Exclusive(), () => now, {
    approvalsRequired,
    emergencySuspensionHours: 72,
  });
  await r.storage.members.put(member('alpha.test', now));
  await r.storage.members.put(member('beta.test', now));
  const logTypes = async () => {
    const { treeSize } = await r.log.latestCheckpoint(now);
    return (await r.log.entries(0, treeSize)).map((e) => (e.entry as { type: string }).type);
  };
  return {
    r,
    revocations,
    published,
    logTypes,
    advance: (ms: number) => {
      now = new Date(now.getTime() + ms);
    },
  };
}

test('no auditor revokes alone: a proposal takes effect when K approve with no standing objection', async () => {
  const { r, revocations, logTypes } = await setup(2);
  const [alice, bob, carol] = [auditor('alice'), auditor('bob'), auditor('carol')];
  try {
    assert.equal(await code(revocations.propose(alice, 'alpha.test', '   ')), 'reason_required');
    assert.equal(await code(revocations.vote(bob, 'alpha.test', 'approve', null)), 'revocation_not_found');
    assert.equal(await code(revocations.propose(alice, 'nobody.test', 'x')), 'instance_not_labelled');

    const first = await revocations.propose(alice, 'alpha.test', 'Sold address books.');
    assert.equal(first.member.status, 'labelled', 'one auditor alone does not revoke');
    assert.equal(first.proposal.consensus.approvals, 1);
    assert.deepEqual(first.proposal.consensus.blockers, ['approvals: 1 of 2 needed']);

    // An objection blocks, even with K approvals; it needs a reason.
    assert.equal(await code(revocations.vote(carol, 'alpha.test', 'object', ' ')), 'reason_required');
    await revocations.vote(carol, 'alpha.test', 'object', 'Evidence not shown yet.');
    const blocked = await revocations.vote(bob, 'alpha.test', 'approve', null);
    assert.equal(blocked.member.status, 'labelled');
    assert.equal(blocked.proposal.consensus.objections, 1);

    // The objector changes their vote: consensus, revoked at once with the proposal's reason.
    const done = await revocations.vote(carol, 'alpha.test', 'abstain', 'Seen the evidence.');
    assert.equal(done.member.status, 'revoked');
    assert.equal(done.member.revocationReason, 'Sold address books.');
    assert.equal(done.proposal.status, 'enacted');
    assert.equal((await r.storage.members.get('alpha.test'))?.status, 'revoked');
    assert.ok((await logTypes()).includes('label.revoked'));
    assert.equal(await code(revocations.vote(bob, 'alpha.test', 'approve', null)), 'instance_not_labelled');

    const [listed] = await revocations.list();
    assert.equal(listed?.status, 'enacted');
    assert.deepEqual(
      listed?.votes.map((v) => [v.auditorName, v.vote]),
      [
        ['alice', 'approve'],
        ['carol', 'abstain'],
        ['bob', 'approve'],
      ],
    );
    const actions = (await r.storage.auditEvents.listByDomain('alpha.test')).map((e) => e.action);
    assert.deepEqual(actions, [
      'revocation.proposed',
      'revocation.voted',
      'revocation.voted',
      'revocation.voted',
      'instance.revoked',
    ]);
  } finally {
    await r.close();
  }
});

test('an emergency suspension is immediate, time-limited, and lifted unless a revocation confirms it', async () => {
  const { r, revocations, logTypes, advance } = await setup(2);
  const [alice, bob] = [auditor('alice'), auditor('bob')];
  try {
    const s = await revocations.suspend(alice, 'beta.test', 'Compromised: serving another key.');
    assert.equal(s.member.status, 'suspended');
    assert.equal(s.member.entry.status, 'suspended', 'the feed says suspended at once');
    assert.equal(s.proposal.status, 'open', 'the suspension opened a revocation proposal');
    assert.ok((await logTypes()).includes('label.suspended'));
    assert.equal(await code(revocations.suspend(bob, 'beta.test', 'again')), 'suspension_active');

    advance(71 * 3600_000);
    assert.deepEqual(await revocations.liftExpired(), [], 'not before its end');
    advance(2 * 3600_000);
    assert.deepEqual(await revocations.liftExpired(), ['beta.test']);
    const lifted = await r.storage.members.get('beta.test');
    assert.equal(lifted?.status, 'labelled', 'not confirmed: the label is in force again');
    assert.equal(lifted?.suspension, null);
    assert.ok((await logTypes()).includes('label.reinstated'));

    // The proposal stays open; a second auditor's approval (here by suspending too) reaches consensus: revoked.
    assert.equal((await revocations.openProposal('beta.test'))?.consensus.approvals, 1);
    const confirmed = await revocations.suspend(bob, 'beta.test', 'Compromised again.');
    assert.equal(confirmed.member.status, 'revoked');
    assert.equal(confirmed.member.revocationReason, 'Compromised: serving another key.');
    assert.equal(confirmed.member.suspension, null);
    advance(100 * 3600_000);
    assert.deepEqual(await revocations.liftExpired(), [], 'a revocation is never lifted');
  } finally {
    await r.close();
  }
});
