import { randomUUID } from 'node:crypto';
import type { Application, CheckRun } from './application.entity.ts';
import type { CheckService } from './check.service.ts';
import { complianceOf, systemEvent, type LabelService } from './label.service.ts';
import { RegistryError } from '../shared/errors.ts';
import type { Exclusive } from '../shared/exclusive.ts';
import type { RegistryStorage } from '../database/registry-storage.port.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import type { AuditEvent, Auditor, Vote, VoteValue } from './audit.entity.ts';
import { decide, type ConsensusState } from './consensus.ts';

export interface ApplicationReview {
  application: Application;
  latestCheck: CheckRun | null;
  votes: Vote[];
  compliance: ReturnType<typeof complianceOf>;
  consensus: ConsensusState;
}

/**
 * Audits by consensus: auditors vote on pending applications; every vote, change and withdrawal is an audit event
 * (revocations: revocation.service.ts). After every vote and every check run the decision rule (consensus.ts) is applied; when it holds, the
 * label is issued at once, the application approved, and the domain's earlier approved application closed.
 */
export class AuditService {
  constructor(
    private readonly storage: RegistryStorage,
    private readonly labels: LabelService,
    private readonly checks: CheckService,
    private readonly exclusive: Exclusive,
    private readonly clock: Clock,
    private readonly approvalsRequired: number,
  ) {}

  async review(app: Application): Promise<ApplicationReview> {
    const [latestCheck, votes] = await Promise.all([
      this.checks.latest(app.id),
      this.storage.votes.listByApplication(app.id),
    ]);
    const compliance = complianceOf(app, latestCheck);
    const consensus = decide({
      votes,
      approvalsRequired: this.approvalsRequired,
      checks: latestCheck?.results ?? null,
      compliance,
    });
    return { application: app, latestCheck, votes, compliance, consensus };
  }

  async reviewById(applicationId: string): Promise<ApplicationReview> {
    const app = await this.storage.applications.get(applicationId);
    if (app === null) throw new RegistryError('not_found', 'No such application.');
    return this.review(app);
  }

  async queue(status: Application['status'], limit: number): Promise<ApplicationReview[]> {
    const apps = await this.storage.applications.listByStatus(status, { limit });
    return Promise.all(apps.map((a) => this.review(a)));
  }

  async vote(
    auditor: Auditor,
    applicationId: string,
    vote: VoteValue,
    reason: string | null,
  ): Promise<ApplicationReview> {
    if (vote === 'object' && (reason === null || reason.trim() === ''))
      throw new RegistryError(
        'reason_required',
        'An objection needs a reason the applicant and the other auditors can read.',
      );
    return this.exclusive.run(async () => {
      const app = await this.pending(applicationId);
      const now = this.clock();
      const cast: Vote = {
        applicationId,
        auditorId: auditor.id,
        auditorName: auditor.name,
        vote,
        reason: reason?.trim() || null,
        castAt: now,
      };
      const previous = await this.storage.votes.put(cast);
      await this.storage.auditEvents.append(
        this.event(auditor, previous ? 'vote.changed' : 'vote.cast', app, now, {
          vote,
          reason: cast.reason,
          ...(previous ? { previousVote: previous.vote } : {}),
        }),
      );
      return this.decideLocked(app, now);
    });
  }

  async withdraw(auditor: Auditor, applicationId: string): Promise<ApplicationReview> {
    return this.exclusive.run(async () => {
      const app = await this.pending(applicationId);
      const now = this.clock();
      const removed = await this.storage.votes.delete(applicationId, auditor.id);
      if (removed === null) throw new RegistryError('vote_not_found');
      await this.storage.auditEvents.append(
        this.event(auditor, 'vote.withdrawn', app, now, { previousVote: removed.vote }),
      );
      return this.decideLocked(app, now);
    });
  }

  /** Applies the decision rule to a pending application (after a check run); issues the label when it holds. */
  async decide(applicationId: string): Promise<ApplicationReview | null> {
    return this.exclusive.run(async () => {
      const app = await this.storage.applications.get(applicationId);
      if (app === null || app.status !== 'pending') return null;
      return this.decideLocked(app, this.clock());
    });
  }

  async events(options: { limit: number; before?: Date }): Promise<AuditEvent[]> {
    return this.storage.auditEvents.list(options);
  }

  private async pending(applicationId: string): Promise<Application> {
    const app = await this.storage.applications.get(applicationId);
    if (app === null) throw new RegistryError('not_found', 'No such application.');
    if (app.status !== 'pending') throw new RegistryError('application_closed', `This application is ${app.status}.`);
    return app;
  }

  private async decideLocked(app: Application, now: Date): Promise<ApplicationReview> {
    const review = await this.review(app);
    if (!review.consensus.reached || review.latestCheck === null) return review;
    const { approvals, objections, abstentions } = review.consensus;
    await this.labels.issue(app, review.latestCheck, 'issued', now);
    await this.storage.auditEvents.append(
      systemEvent('decision.reached', app.domain, app.id, now, { approvals, objections, abstentions }),
    );
    for (const earlier of await this.storage.applications.listByDomain(app.domain)) {
      if (earlier.id !== app.id && earlier.status === 'approved')
        await this.storage.applications.setStatus(earlier.id, 'closed', now, `superseded by application ${app.id}`);
    }
    await this.storage.applications.setStatus(app.id, 'approved', now);
    return { ...review, application: { ...app, status: 'approved', updatedAt: now } };
  }

  private event(
    auditor: Auditor,
    action: AuditEvent['action'],
    app: Application,
    at: Date,
    detail: AuditEvent['detail'],
  ): AuditEvent {
    return {
      id: randomUUID(),
      at,
      auditorId: auditor.id,
      auditorName: auditor.name,
      action,
      domain: app.domain,
      applicationId: app.id,
      detail,
    };
  }
}
