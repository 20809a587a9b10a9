import { randomUUID } from 'node:crypto';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import type { RegistryStorage } from '../database/registry-storage.port.ts';
import { RegistryError } from '../shared/errors.ts';
import type { Exclusive } from '../shared/exclusive.ts';
import type { AuditEvent, Auditor, VoteValue } from './audit.entity.ts';
import { type ConsensusState, decideRevocation } from './consensus.ts';
import type { Member } from './label.entity.ts';
import { type LabelService, PublicationBatch, systemEvent } from './label.service.ts';

export interface RevocationVote {
  auditorId: string;
  auditorName: string;
  vote: VoteValue;
  reason: string | null;
  castAt: Date;
}

export type RevocationStatus = 'open' | 'enacted' | 'closed';

/** A proposal to revoke a member, folded from its audit events. */
export interface RevocationProposal {
  id: string;
  domain: string;
  reason: string;
  proposedBy: string;
  proposedAt: Date;
  /** open: collecting votes; enacted: consensus reached, the instance was revoked; closed: revoked otherwise. */
  status: RevocationStatus;
  decidedAt: Date | null;
  votes: RevocationVote[];
  consensus: ConsensusState;
}

const MAX_REASON = 2000;

function cleanReason(reason: string | null | undefined): string | null {
  const r = reason?.trim() ?? '';
  return r === '' ? null : r.slice(0, MAX_REASON);
}

/**
 * Revocation by the association's consensus (issue 16, point 9), and the emergency suspension that may precede it.
 * - Any auditor proposes the revocation of a member with a reason (their approval counts); the others vote approve,
 *   object (with a reason) or abstain, and may change their vote. The decision rule is the one for labels: at least
 *   K approvals and no standing objection (consensus.ts). When it holds, the label is revoked at once (feed, log with
 *   the proposal's reason) and the proposal is enacted.
 * - One auditor may suspend a member in an emergency: immediate (feed status suspended, `label.suspended` in the log)
 *   but time-limited (`audit.emergencySuspensionHours`), and it opens (or joins) a revocation proposal that must
 *   confirm it. If the proposal has not been enacted when the suspension ends, the maintenance tick lifts it.
 * Proposals are event-sourced in the audit events (append-only, read by every auditor), so nothing is lost or
 * rewritten: `revocation.proposed`, `revocation.voted`, `instance.suspended`, `suspension.lifted`, `instance.revoked`.
 */
export class RevocationService {
  constructor(
    private readonly storage: RegistryStorage,
    private readonly labels: LabelService,
    private readonly exclusive: Exclusive,
    private readonly clock: Clock,
    private readonly options: { approvalsRequired: number; emergencySuspensionHours: number },
  ) {}

  get rule(): { approvalsRequired: number; emergencySuspensionHours: number } {
    return { ...this.options };
  }

  /** Every proposal ever made about `domain`, oldest first. */
  async proposalsOf(domain: string): Promise<RevocationProposal[]> {
    return this.fold(await this.storage.auditEvents.listByDomain(domain));
  }

  async openProposal(domain: string): Promise<RevocationProposal | null> {
    return (await this.proposalsOf(domain)).find((p) => p.status === 'open') ?? null;
  }

  /** Every proposal about any member, open ones first, newest first within each. */
  async list(): Promise<RevocationProposal[]> {
    const all: RevocationProposal[] = [];
    for (const m of await this.storage.members.list()) all.push(...(await this.proposalsOf(m.domain)));
    return all.sort(
      (a, b) =>
        Number(b.status === 'open') - Number(a.status === 'open') || b.proposedAt.getTime() - a.proposedAt.getTime(),
    );
  }

  /**
   * Proposes the revocation of `domain` (or, when a proposal is open, approves it): the auditor's approval counts.
   * Resolves the proposal and the member after the decision rule was applied.
   */
  async propose(
    auditor: Auditor,
    domain: string,
    reason: string,
  ): Promise<{ proposal: RevocationProposal; member: Member }> {
    const why = cleanReason(reason);
    if (why === null) throw new RegistryError('reason_required', 'A revocation proposal needs a public reason.');
    return this.exclusive.run(async () => {
      const member = await this.revocable(domain);
      const now = this.clock();
      const open = await this.openProposal(domain);
      if (open === null) {
        await this.storage.auditEvents.append(this.event(auditor, 'revocation.proposed', member, now, { reason: why }));
      } else {
        await this.storage.auditEvents.append(
          this.event(auditor, 'revocation.voted', member, now, { proposalId: open.id, vote: 'approve', reason: why }),
        );
      }
      return this.decideLocked(domain, now);
    });
  }

  /** An auditor's vote on the open proposal about `domain`; an objection needs a reason. */
  async vote(
    auditor: Auditor,
    domain: string,
    vote: VoteValue,
    reason: string | null,
  ): Promise<{ proposal: RevocationProposal; member: Member }> {
    const why = cleanReason(reason);
    if (vote === 'object' && why === null)
      throw new RegistryError('reason_required', 'An objection needs a reason the other auditors can read.');
    return this.exclusive.run(async () => {
      const member = await this.revocable(domain);
      const open = await this.openProposal(domain);
      if (open === null) throw new RegistryError('revocation_not_found');
      const now = this.clock();
      await this.storage.auditEvents.append(
        this.event(auditor, 'revocation.voted', member, now, { proposalId: open.id, vote, reason: why }),
      );
      return this.decideLocked(domain, now);
    });
  }

  /**
   * One auditor's emergency suspension: immediate and time-limited; it opens a revocation proposal (or approves the
   * open one) that must confirm it before it ends.
   */
  async suspend(
    auditor: Auditor,
    domain: string,
    reason: string,
  ): Promise<{ proposal: RevocationProposal; member: Member }> {
    const why = cleanReason(reason);
    if (why === null) throw new RegistryError('reason_required', 'An emergency suspension needs a public reason.');
    return this.exclusive.run(async () => {
      const member = await this.revocable(domain);
      if (member.suspension)
        throw new RegistryError(
          'suspension_active',
          `${domain} is already suspended until ${new Date(member.suspension.until).toISOString()}.`,
        );
      const now = this.clock();
      let open = await this.openProposal(domain);
      if (open === null) {
        await this.storage.auditEvents.append(this.event(auditor, 'revocation.proposed', member, now, { reason: why }));
        open = (await this.openProposal(domain))!;
      } else {
        await this.storage.auditEvents.append(
          this.event(auditor, 'revocation.voted', member, now, { proposalId: open.id, vote: 'approve', reason: why }),
        );
      }
      const until = now.getTime() + this.options.emergencySuspensionHours * 3600_000;
      await this.labels.suspend(
        domain,
        { reason: why, by: auditor.name, at: now.getTime(), until, proposalId: open.id },
        now,
      );
      await this.storage.auditEvents.append(
        this.event(auditor, 'instance.suspended', member, now, {
          reason: why,
          until: new Date(until).toISOString(),
          proposalId: open.id,
        }),
      );
      return this.decideLocked(domain, now);
    });
  }

  /** Lifts the emergency suspensions whose time ran out (maintenance tick); resolves the domains lifted. */
  async liftExpired(): Promise<string[]> {
    return this.exclusive.run(async () => {
      const now = this.clock();
      const lifted: string[] = [];
      const batch = new PublicationBatch();
      for (const m of await this.storage.members.list()) {
        if (m.status === 'revoked' || !m.suspension || m.suspension.until > now.getTime()) continue;
        await this.labels.liftSuspension(m, now, batch);
        await this.storage.auditEvents.append(
          systemEvent('suspension.lifted', m.domain, m.applicationId, now, {
            proposalId: m.suspension.proposalId,
            reason: 'not confirmed by a revocation before its end',
          }),
        );
        lifted.push(m.domain);
      }
      await this.labels.flush(batch, now);
      return lifted;
    });
  }

  private async revocable(domain: string): Promise<Member> {
    const member = await this.storage.members.get(domain);
    if (member === null) throw new RegistryError('instance_not_labelled', `${domain} never held a label.`);
    if (member.status === 'revoked') throw new RegistryError('instance_not_labelled', `${domain} is already revoked.`);
    return member;
  }

  private async decideLocked(domain: string, now: Date): Promise<{ proposal: RevocationProposal; member: Member }> {
    const proposal = (await this.openProposal(domain))!;
    if (!proposal.consensus.reached) return { proposal, member: (await this.storage.members.get(domain))! };
    const member = await this.labels.revoke(domain, proposal.reason, now);
    const { approvals, objections, abstentions } = proposal.consensus;
    await this.storage.auditEvents.append(
      systemEvent('instance.revoked', domain, member.applicationId, now, {
        proposalId: proposal.id,
        labelId: member.currentLabelId,
        reason: proposal.reason,
        approvals,
        objections,
        abstentions,
      }),
    );
    return { proposal: { ...proposal, status: 'enacted', decidedAt: now }, member };
  }

  /**
   * Folds a domain's events into its proposals: proposals first, then votes, then revocations, so that events
   * stored within the same millisecond (an adapter may not keep their order) fold the same way.
   */
  private fold(events: readonly AuditEvent[]): RevocationProposal[] {
    const byId = new Map<string, { p: RevocationProposal; votes: Map<string, RevocationVote> }>();
    for (const e of events) {
      if (e.action !== 'revocation.proposed' || e.auditorId === null) continue;
      const reason = String(e.detail.reason ?? '');
      const votes = new Map<string, RevocationVote>();
      votes.set(e.auditorId, {
        auditorId: e.auditorId,
        auditorName: e.auditorName ?? '',
        vote: 'approve',
        reason,
        castAt: e.at,
      });
      const p: RevocationProposal = {
        id: e.id,
        domain: e.domain,
        reason,
        proposedBy: e.auditorName ?? '',
        proposedAt: e.at,
        status: 'open',
        decidedAt: null,
        votes: [],
        consensus: decideRevocation({ votes: [], approvalsRequired: this.options.approvalsRequired }),
      };
      byId.set(e.id, { p, votes });
    }
    for (const e of events) {
      if (e.action !== 'revocation.voted' || e.auditorId === null) continue;
      byId.get(String(e.detail.proposalId))?.votes.set(e.auditorId, {
        auditorId: e.auditorId,
        auditorName: e.auditorName ?? '',
        vote: e.detail.vote as VoteValue,
        reason: (e.detail.reason as string | null) ?? null,
        castAt: e.at,
      });
    }
    for (const e of events) {
      if (e.action !== 'instance.revoked') continue;
      // Enacts its proposal; any other proposal still open about the domain is closed with it.
      for (const { p } of byId.values()) {
        if (p.status !== 'open') continue;
        if (p.id === e.detail.proposalId) p.status = 'enacted';
        else if (p.proposedAt.getTime() <= e.at.getTime()) p.status = 'closed';
        else continue;
        p.decidedAt = e.at;
      }
    }
    for (const { p, votes } of byId.values()) {
      p.votes = [...votes.values()];
      p.consensus = decideRevocation({ votes: p.votes, approvalsRequired: this.options.approvalsRequired });
    }
    return [...byId.values()].map(({ p }) => p);
  }

  private event(
    auditor: Auditor,
    action: AuditEvent['action'],
    member: Member,
    at: Date,
    detail: AuditEvent['detail'],
  ): AuditEvent {
    return {
      id: randomUUID(),
      at,
      auditorId: auditor.id,
      auditorName: auditor.name,
      action,
      domain: member.domain,
      applicationId: member.applicationId,
      detail,
    };
  }
}
