import type { Logger } from 'pino';
import type { CheckRun } from './application.entity.ts';
import type { AuditService } from './audit.service.ts';
import type { RevocationService } from './revocation.service.ts';
import type { CheckService } from './check.service.ts';
import type { Exclusive } from '../shared/exclusive.ts';
import type { RegistryStorage } from '../database/registry-storage.port.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import type { Member } from './label.entity.ts';
import { PublicationBatch, type LabelService } from './label.service.ts';

export interface TickReport {
  checked: string[];
  renewed: string[];
  lapsed: string[];
  /** Emergency suspensions that ended without a revocation by consensus. */
  lifted: string[];
  blocked: string[];
  failed: string[];
}

/** Check runs that go out at once during a tick (each waits on the network, not on this process). */
const CHECK_CONCURRENCY = 8;

/**
 * What the registry does on its own, on every maintenance tick (through the queue):
 * - re-runs the checks of every member whose last run is older than the re-check interval, and of pending
 *   applications that have run before (so an applicant's fix is seen without asking again);
 * - renews a label once `renewAtFraction` of its life has passed (checks run first; renewal needs every mandatory
 *   check passing). A failing mandatory check holds the renewal back (`renewalBlocked`), and the label lapses;
 * - lifts the emergency suspensions whose time ran out without a revocation by consensus;
 * - suspends an instance whose label expired unrenewed, and renews a suspended one as soon as its checks pass again
 *   (the auditors' decision stands; a revocation does not lapse: revoked instances need a new application).
 * Checks run first, outside the publication lock; then every outcome is applied under the lock and published
 * together: one log append and one feed serial per tick.
 */
export class RenewalService {
  constructor(
    private readonly storage: RegistryStorage,
    private readonly checks: CheckService,
    private readonly labels: LabelService,
    private readonly audits: AuditService,
    private readonly revocations: RevocationService,
    private readonly exclusive: Exclusive,
    private readonly clock: Clock,
    private readonly options: { recheckIntervalMs: number; renewAtFraction: number },
    private readonly logger: Pick<Logger, 'warn' | 'info'>,
  ) {}

  async tick(): Promise<TickReport> {
    const report: TickReport = { checked: [], renewed: [], lapsed: [], lifted: [], blocked: [], failed: [] };
    report.lifted.push(...(await this.revocations.liftExpired()));
    const due = (await this.storage.members.list())
      .filter((m) => m.status !== 'revoked')
      .map((m) => ({ member: m, ...this.plan(m) }));

    // Phase 1: the checks that are due, a few at a time.
    const runs = new Map<string, CheckRun>();
    const toCheck = due.filter((d) => d.runNow);
    await eachLimited(toCheck, CHECK_CONCURRENCY, async ({ member, renewDue }) => {
      try {
        const app = await this.storage.applications.get(member.applicationId);
        if (app === null) return;
        runs.set(member.domain, await this.checks.run(app, renewDue ? 'renewal' : 'schedule'));
        report.checked.push(member.domain);
      } catch (error) {
        report.failed.push(member.domain);
        this.logger.warn({ err: error, domain: member.domain }, 'registry re-check of a member failed');
      }
    });

    // Phase 2: outcomes, under the lock, published once.
    await this.exclusive.run(async () => {
      const batch = new PublicationBatch();
      const at = this.clock();
      for (const { member, renewDue } of due) {
        try {
          await this.apply(member, runs.get(member.domain) ?? null, renewDue, at, batch, report);
        } catch (error) {
          report.failed.push(member.domain);
          this.logger.warn({ err: error, domain: member.domain }, 'registry maintenance failed for a member');
        }
      }
      await this.labels.flush(batch, at);
    });

    for (const app of await this.storage.applications.listByStatus('pending', { limit: 1000 })) {
      const latest = await this.checks.latest(app.id);
      if (latest === null || this.clock().getTime() - latest.finishedAt.getTime() < this.options.recheckIntervalMs)
        continue;
      try {
        await this.checks.run(app, 'schedule');
        report.checked.push(app.domain);
        await this.audits.decide(app.id);
      } catch (error) {
        report.failed.push(app.domain);
        this.logger.warn({ err: error, domain: app.domain }, 'registry re-check of a pending application failed');
      }
    }
    if (
      report.renewed.length +
        report.lapsed.length +
        report.lifted.length +
        report.blocked.length +
        report.failed.length >
      0
    )
      this.logger.info(report, 'registry maintenance');
    return report;
  }

  private plan(member: Member): { renewDue: boolean; runNow: boolean } {
    const now = this.clock().getTime();
    const life = member.labelExpiresAt.getTime() - member.labelIssuedAt.getTime();
    // A suspended instance renews as soon as its checks pass again; a labelled one once its renewal point passed.
    const renewDue =
      member.status === 'suspended' || now >= member.labelIssuedAt.getTime() + life * this.options.renewAtFraction;
    const recheckDue =
      member.lastCheckAt === null || now - member.lastCheckAt.getTime() >= this.options.recheckIntervalMs;
    // A renewal held back by a failing check is retried at the re-check pace, not at every tick.
    const runNow = recheckDue || (renewDue && member.status === 'labelled' && member.renewalBlocked === null);
    return { renewDue, runNow };
  }

  private async apply(
    member: Member,
    run: CheckRun | null,
    renewDue: boolean,
    at: Date,
    batch: PublicationBatch,
    report: TickReport,
  ): Promise<void> {
    if (run === null && at.getTime() < member.labelExpiresAt.getTime()) return;
    const current = await this.storage.members.get(member.domain);
    // Revoked or re-decided since the tick began: its view is stale.
    if (current === null || current.status === 'revoked' || current.applicationId !== member.applicationId) return;
    let next = current;
    if (run) {
      const failing = run.results.filter((r) => r.mandatory && r.status !== 'pass').map((r) => r.id);
      next = {
        ...current,
        lastCheckAt: run.finishedAt,
        lastPassingCheckAt: run.mandatoryPassed ? run.finishedAt : current.lastPassingCheckAt,
        renewalBlocked: failing.length > 0 ? `mandatory checks failing: ${failing.join(', ')}` : null,
        updatedAt: at,
      };
      await this.storage.members.put(next);
      // Under an emergency suspension nothing is renewed or lapsed: the auditors decide (revocation.service.ts).
      if (next.suspension) return;
      if (renewDue && run.mandatoryPassed) {
        const app = await this.storage.applications.get(member.applicationId);
        if (app !== null) {
          await this.labels.issue(app, run, 'renewed', at, batch);
          report.renewed.push(member.domain);
          return;
        }
      }
      if (!run.mandatoryPassed) report.blocked.push(member.domain);
    }
    if (next.suspension) return;
    if (next.status === 'labelled' && at.getTime() >= next.labelExpiresAt.getTime()) {
      await this.labels.lapse(next, at, batch);
      report.lapsed.push(member.domain);
    }
  }
}

async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(workers);
}
