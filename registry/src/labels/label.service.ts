import { randomUUID } from 'node:crypto';
import { evaluateCompliance, jurisdiction } from '@caliopen/charter';
import {
  INSTANCE_KEY_OVERLAP_SECONDS,
  MAX_PREVIOUS_SIGNING_KEYS,
  issueLabel,
  summarizePi,
  type FeedInstance,
  type PrivacyIndex,
} from '@caliopen/federation-protocol';
import type { Application, CheckRun } from './application.entity.ts';
import type { AuditEvent } from './audit.entity.ts';
import type { LogEntry } from '../log/log.entity.ts';
import type { TransparencyLogService } from '../log/transparency-log.service.ts';
import { computeInstancePi } from '../pi/instance-pi.ts';
import { RegistryError } from '../shared/errors.ts';
import type { RegistryStorage } from '../database/registry-storage.port.ts';
import type { EmergencySuspension, LabelRecord, Member } from './label.entity.ts';
import type { RegistryKeyService } from '../keys/registry-keys.service.ts';

const DAY = 24 * 3600;
const seconds = (d: Date) => Math.floor(d.getTime() / 1000);

export function complianceOf(app: Application, run: CheckRun | null) {
  const checks = (run?.results ?? []).map((r) => ({
    id: r.id,
    status: r.status,
    mandatory: r.mandatory,
    evidence: r.evidence,
  }));
  return evaluateCompliance(app.declaration, checks);
}

/** The instance PI of an application's instance from its latest check run. */
export function instancePiOf(
  app: Application,
  run: CheckRun | null,
  lastVerifiedAt: Date | null,
  now: Date,
): PrivacyIndex {
  const compliance = complianceOf(app, run);
  const j = jurisdiction(app.declaration.jurisdiction);
  return computeInstancePi({
    jurisdiction: j === null ? null : { code: j.code, name: j.name, score: j.score },
    checks: run?.results ?? [],
    compliance: { points: compliance.points, maxPoints: compliance.maxPoints, mandatoryMet: compliance.mandatoryMet },
    lastVerifiedAt,
    now,
  });
}

/**
 * What labelling asks of the feed (feed/feed.service.ts answers): publish a new serial listing the domains changed.
 * Named here so that labels do not import the feed, whose routes show labels (issue 11).
 */
export interface FeedPublisher {
  publish(changedDomains: readonly string[], now: Date): Promise<unknown>;
}

/**
 * What a group of label changes will append to the log and publish in the feed. Changes made with a batch are
 * stored at once (labels, members, events) and made public together by `flush`: one log append (one signed
 * checkpoint) and one feed serial, however many instances changed, so a maintenance tick renewing thousands of
 * labels publishes one feed, not thousands.
 */
export class PublicationBatch {
  readonly entries: LogEntry[] = [];
  readonly domains = new Set<string>();

  get empty(): boolean {
    return this.entries.length === 0 && this.domains.size === 0;
  }
}

/**
 * Labels: issue (on a decision), renew (while mandatory checks pass), lapse (a label that expired unrenewed
 * suspends its instance) and revoke (an auditor's act, immediate). Each one updates the member, appends to the
 * transparency log (then a signed checkpoint) and publishes a new feed serial — at once, or when the batch it was
 * given is flushed. Callers hold the publication lock.
 */
export class LabelService {
  constructor(
    private readonly storage: RegistryStorage,
    private readonly keys: RegistryKeyService,
    private readonly log: TransparencyLogService,
    private readonly feed: FeedPublisher,
    private readonly options: { origin: string; lifetimeDays: number },
  ) {}

  /** Issues (or renews) the label of `app`'s instance from its latest check run. */
  async issue(
    app: Application,
    run: CheckRun,
    kind: LabelRecord['kind'],
    now: Date,
    batch?: PublicationBatch,
  ): Promise<Member> {
    const previous = await this.storage.members.get(app.domain);
    const lastPassingCheckAt = run.mandatoryPassed ? run.finishedAt : (previous?.lastPassingCheckAt ?? null);
    const pi = instancePiOf(app, run, lastPassingCheckAt ?? now, now);
    const issuedAt = seconds(now);
    const { jws, claims } = await issueLabel(
      {
        issuer: this.options.origin,
        domain: app.domain,
        issuedAt,
        expiresAt: issuedAt + this.options.lifetimeDays * DAY,
        charterVersion: app.charterVersion,
        instanceKeys: { signing: app.keyThumbprints.signing, encryption: app.keyThumbprints.encryption },
        certFingerprint: app.certFingerprint,
        pi: summarizePi(pi),
      },
      await this.keys.signingKey(now),
    );
    await this.storage.labels.add({
      id: claims.id,
      domain: app.domain,
      applicationId: app.id,
      kind,
      jws,
      issuedAt: new Date(claims.issuedAt * 1000),
      expiresAt: new Date(claims.expiresAt * 1000),
      piScore: pi.score,
      revokedAt: null,
      revocationReason: null,
    });
    const entry: FeedInstance = {
      domain: app.domain,
      endpoints: { federation: app.endpoints.federation, https: app.endpoints.https },
      keys: withPreviousSigning(app.keys, previous?.status === 'revoked' ? undefined : previous?.entry, issuedAt),
      certFingerprint: app.certFingerprint,
      labelId: claims.id,
      labelExpiresAt: claims.expiresAt,
      label: jws,
      pi,
      status: 'labelled',
      listed: app.listed,
      // Bound to its log leaf when the feed is published (FeedService.publish).
      logIndex: previous?.entry.logIndex ?? 0,
    };
    const member: Member = {
      domain: app.domain,
      applicationId: app.id,
      status: 'labelled',
      listed: app.listed,
      currentLabelId: claims.id,
      labelIssuedAt: new Date(claims.issuedAt * 1000),
      labelExpiresAt: new Date(claims.expiresAt * 1000),
      entry,
      pi,
      renewalBlocked: null,
      lastCheckAt: run.finishedAt,
      lastPassingCheckAt,
      decidedAt: kind === 'issued' ? now : (previous?.decidedAt ?? now),
      updatedAt: now,
      revokedAt: null,
      revocationReason: null,
      suspension: previous?.suspension ?? null,
    };
    await this.storage.members.put(member);
    const summary = summarizePi(pi);
    const entries: LogEntry[] = [
      {
        type: kind === 'issued' ? 'label.issued' : 'label.renewed',
        domain: app.domain,
        labelId: claims.id,
        pi: summary,
        at: issuedAt,
      },
    ];
    if (previous && previous.pi.score !== pi.score)
      entries.push({ type: 'pi.changed', domain: app.domain, pi: summary, at: issuedAt });
    await this.storage.auditEvents.append(
      systemEvent(kind === 'issued' ? 'label.issued' : 'label.renewed', app.domain, app.id, now, {
        labelId: claims.id,
        piScore: pi.score,
      }),
    );
    await this.publishOrDefer(entries, app.domain, now, batch);
    return member;
  }

  /** A label that expired unrenewed: the instance is suspended until its checks pass again. */
  async lapse(member: Member, now: Date, batch?: PublicationBatch): Promise<Member> {
    const reason = member.renewalBlocked ?? 'the label expired before it could be renewed';
    const next: Member = {
      ...member,
      status: 'suspended',
      entry: { ...member.entry, status: 'suspended' },
      updatedAt: now,
    };
    await this.storage.members.put(next);
    await this.storage.auditEvents.append(
      systemEvent('label.lapsed', member.domain, member.applicationId, now, { labelId: member.currentLabelId, reason }),
    );
    await this.publishOrDefer(
      [{ type: 'label.lapsed', domain: member.domain, labelId: member.currentLabelId, reason, at: seconds(now) }],
      member.domain,
      now,
      batch,
    );
    return next;
  }

  /**
   * Revokes the instance's label at once: in the feed (status revoked, with the label id) and in the log. Called when
   * the auditors' consensus on a revocation proposal is reached (revocation.service.ts).
   */
  async revoke(domain: string, reason: string, now: Date, batch?: PublicationBatch): Promise<Member> {
    const member = await this.storage.members.get(domain);
    if (member === null || member.status === 'revoked') {
      throw new RegistryError(
        'instance_not_labelled',
        member === null ? `${domain} never held a label.` : `${domain} is already revoked.`,
      );
    }
    const next: Member = {
      ...member,
      status: 'revoked',
      entry: { ...member.entry, status: 'revoked' },
      revokedAt: now,
      revocationReason: reason,
      suspension: null,
      updatedAt: now,
    };
    await this.storage.labels.markRevoked(member.currentLabelId, now, reason);
    await this.storage.members.put(next);
    await this.storage.applications.setStatus(member.applicationId, 'closed', now, 'instance revoked');
    await this.publishOrDefer(
      [{ type: 'label.revoked', domain, labelId: member.currentLabelId, reason, at: seconds(now) }],
      domain,
      now,
      batch,
    );
    return next;
  }

  /**
   * An auditor's emergency suspension: the instance is suspended at once (feed status, `label.suspended` in the log
   * with the reason) until `suspension.until`, unless the auditors revoke it by consensus before then.
   */
  async suspend(domain: string, suspension: EmergencySuspension, now: Date): Promise<Member> {
    const member = await this.storage.members.get(domain);
    if (member === null || member.status === 'revoked')
      throw new RegistryError(
        'instance_not_labelled',
        member === null ? `${domain} never held a label.` : `${domain} is already revoked.`,
      );
    if (member.suspension)
      throw new RegistryError(
        'suspension_active',
        `${domain} is already suspended until ${new Date(member.suspension.until).toISOString()}.`,
      );
    const next: Member = {
      ...member,
      status: 'suspended',
      entry: { ...member.entry, status: 'suspended' },
      suspension,
      updatedAt: now,
    };
    await this.storage.members.put(next);
    await this.publishOrDefer(
      [
        {
          type: 'label.suspended',
          domain,
          labelId: member.currentLabelId,
          reason: suspension.reason,
          at: seconds(now),
        },
      ],
      domain,
      now,
      undefined,
    );
    return next;
  }

  /**
   * An emergency suspension that was not confirmed by a revocation before its end: lifted. The instance is labelled
   * again if its label is still valid (`label.reinstated` in the log); otherwise it stays suspended as a lapsed
   * label, and renewal takes it back once its checks pass.
   */
  async liftSuspension(member: Member, now: Date, batch?: PublicationBatch): Promise<Member> {
    const valid = now.getTime() < member.labelExpiresAt.getTime();
    const status = valid ? 'labelled' : 'suspended';
    const next: Member = { ...member, status, entry: { ...member.entry, status }, suspension: null, updatedAt: now };
    await this.storage.members.put(next);
    const reason = 'emergency suspension ended without a revocation by consensus';
    await this.publishOrDefer(
      [
        valid
          ? {
              type: 'label.reinstated',
              domain: member.domain,
              labelId: member.currentLabelId,
              reason,
              at: seconds(now),
            }
          : { type: 'label.lapsed', domain: member.domain, labelId: member.currentLabelId, reason, at: seconds(now) },
      ],
      member.domain,
      now,
      batch,
    );
    return next;
  }

  /** Makes a batch public: one log append with its signed checkpoint, then one feed serial. */
  async flush(batch: PublicationBatch, now: Date): Promise<void> {
    if (batch.empty) return;
    if (batch.entries.length > 0) await this.log.append(batch.entries.splice(0), now);
    await this.feed.publish([...batch.domains], now);
    batch.domains.clear();
  }

  private async publishOrDefer(
    entries: LogEntry[],
    domain: string,
    now: Date,
    batch: PublicationBatch | undefined,
  ): Promise<void> {
    const target = batch ?? new PublicationBatch();
    target.entries.push(...entries);
    target.domains.add(domain);
    if (batch === undefined) await this.flush(target, now);
  }
}

export function systemEvent(
  action: AuditEvent['action'],
  domain: string,
  applicationId: string | null,
  at: Date,
  detail: AuditEvent['detail'],
): AuditEvent {
  return { id: randomUUID(), at, auditorId: null, auditorName: null, action, domain, applicationId, detail };
}

/**
 * The keys of a new entry (SPEC.md §3, "Instance key rotation"): the application's, plus the signing keys the
 * instance used before that are still in their overlap. A signing key replaced now stays accepted for
 * INSTANCE_KEY_OVERLAP_SECONDS, so what the instance signed just before (queued deliveries, receipts) still verifies;
 * a revoked instance's old keys are not carried over.
 */
export function withPreviousSigning(
  keys: FeedInstance['keys'],
  previous: FeedInstance | undefined,
  now: number,
): FeedInstance['keys'] {
  const carried = (previous?.keys.previousSigning ?? []).filter((k) => k.notAfter > now && k.jwk.x !== keys.signing.x);
  if (previous !== undefined && previous.keys.signing.x !== keys.signing.x) {
    carried.unshift({ jwk: previous.keys.signing, notAfter: now + INSTANCE_KEY_OVERLAP_SECONDS });
  }
  const kept = carried.slice(0, MAX_PREVIOUS_SIGNING_KEYS);
  return kept.length === 0
    ? { signing: keys.signing, encryption: keys.encryption }
    : { signing: keys.signing, encryption: keys.encryption, previousSigning: kept };
}
