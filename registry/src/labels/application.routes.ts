import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from 'typebox';
import type { AuditService, ApplicationReview } from './audit.service.ts';
import type { CheckService } from './check.service.ts';
import { applicantApplication } from './registry.access.ts';
import type { LabelRecord, Member } from './label.entity.ts';
import type { LabelService } from './label.service.ts';
import type { RegistryStorage } from '../database/registry-storage.port.ts';
import { challengeInstructions, type ApplicationService } from './application.service.ts';
import type { Application, CheckRun } from './application.entity.ts';
import { MAX_DECLARATION_JWS_LENGTH } from './declaration-jws.ts';

const Jwk = Type.Object(
  { kty: Type.String({ maxLength: 8 }), crv: Type.String({ maxLength: 16 }), x: Type.String({ maxLength: 64 }) },
  { additionalProperties: false, description: 'A public OKP JWK (kty, crv, x only: private members are refused).' },
);

export const ApplicationBody = Type.Object(
  {
    domain: Type.String({ minLength: 1, maxLength: 253 }),
    endpoints: Type.Object(
      {
        https: Type.String({
          minLength: 1,
          maxLength: 2048,
          description: 'HTTPS base URL of the instance, on its domain.',
        }),
        federation: Type.Optional(
          Type.String({
            minLength: 1,
            maxLength: 2048,
            description: 'Federation endpoint (default: the HTTPS base URL).',
          }),
        ),
        smtp: Type.Optional(
          Type.String({
            minLength: 1,
            maxLength: 260,
            description: 'Mail exchanger host[:port], when the instance does email.',
          }),
        ),
      },
      { additionalProperties: false },
    ),
    keys: Type.Object({ signing: Jwk, encryption: Jwk }, { additionalProperties: false }),
    certificatePem: Type.String({ minLength: 1, maxLength: 32 * 1024 }),
    declaration: Type.String({
      minLength: 1,
      maxLength: MAX_DECLARATION_JWS_LENGTH,
      description: 'Compact JWS of { declaration, nonce, iat } (typ caliopen-declaration+jws).',
    }),
    listed: Type.Optional(
      Type.Boolean({ description: 'false: in the signed feed for peers, hidden from the public directory.' }),
    ),
  },
  { additionalProperties: false },
);

export const ApplicationIdParams = Type.Object(
  { id: Type.String({ format: 'uuid' }) },
  { additionalProperties: false },
);

export function checkRunView(run: CheckRun | null) {
  return run === null
    ? null
    : {
        id: run.id,
        trigger: run.trigger,
        startedAt: run.startedAt.toISOString(),
        finishedAt: run.finishedAt.toISOString(),
        mandatoryPassed: run.mandatoryPassed,
        results: run.results,
      };
}

export function labelView(label: LabelRecord | null, member: Member | null) {
  if (label === null) return null;
  const status =
    label.revokedAt !== null ? 'revoked' : member?.currentLabelId === label.id ? member.status : 'superseded';
  return {
    id: label.id,
    kind: label.kind,
    status,
    issuedAt: label.issuedAt.toISOString(),
    expiresAt: label.expiresAt.toISOString(),
    revokedAt: label.revokedAt?.toISOString() ?? null,
    revocationReason: label.revocationReason,
    jws: label.jws,
  };
}

export interface ApplicantViewOptions {
  /** The association's choice (audit.applicantsSeeAuditorNames): show who cast each vote. */
  showAuditorNames: boolean;
  /** labels.renewAtFraction: when renewal starts in a label's life. */
  renewAtFraction: number;
}

const DEFAULT_VIEW: ApplicantViewOptions = { showAuditorNames: false, renewAtFraction: 0.5 };

/**
 * What the applicant sees: status, checks, the declaration it signed, each vote (with its reason; the auditor's name
 * only when the association chose so), the decision rule's blockers, the label and its renewal dates.
 */
export function applicantView(
  review: ApplicationReview,
  label: LabelRecord | null,
  member: Member | null,
  options: ApplicantViewOptions = DEFAULT_VIEW,
) {
  const app: Application = review.application;
  const own = member !== null && member.applicationId === app.id ? member : null;
  const renewal =
    own === null
      ? null
      : {
          labelIssuedAt: own.labelIssuedAt.toISOString(),
          labelExpiresAt: own.labelExpiresAt.toISOString(),
          renewsFrom: new Date(
            own.labelIssuedAt.getTime() +
              (own.labelExpiresAt.getTime() - own.labelIssuedAt.getTime()) * options.renewAtFraction,
          ).toISOString(),
          renewalBlocked: own.renewalBlocked,
          lastCheckAt: own.lastCheckAt?.toISOString() ?? null,
          lastPassingCheckAt: own.lastPassingCheckAt?.toISOString() ?? null,
          standing: own.status,
          suspension: own.suspension
            ? { reason: own.suspension.reason, until: new Date(own.suspension.until).toISOString() }
            : null,
          revokedAt: own.revokedAt?.toISOString() ?? null,
          revocationReason: own.revocationReason,
        };
  return {
    id: app.id,
    domain: app.domain,
    status: app.status,
    closedReason: app.closedReason,
    listed: app.listed,
    charterVersion: app.charterVersion,
    createdAt: app.createdAt.toISOString(),
    challenge: challengeInstructions(app),
    checks: checkRunView(review.latestCheck),
    compliance: review.compliance,
    votes: {
      approvals: review.consensus.approvals,
      objections: review.consensus.objections,
      abstentions: review.consensus.abstentions,
      approvalsRequired: review.consensus.approvalsRequired,
      objectionReasons: review.votes.filter((v) => v.vote === 'object').map((v) => v.reason ?? ''),
      cast: review.votes.map((v) => ({
        auditor: options.showAuditorNames ? v.auditorName : null,
        vote: v.vote,
        reason: v.reason,
        castAt: v.castAt.toISOString(),
      })),
      auditorNamesShown: options.showAuditorNames,
    },
    declaration: app.declaration,
    declarationJws: app.declarationJws,
    keyThumbprints: app.keyThumbprints,
    certFingerprint: app.certFingerprint,
    endpoints: app.endpoints,
    renewal,
    decision: {
      reached: review.consensus.reached || app.status === 'approved',
      blockers: app.status === 'pending' ? review.consensus.blockers : [],
    },
    label: labelView(label, member),
  };
}

async function currentLabelOf(
  storage: RegistryStorage,
  app: Application,
): Promise<{ label: LabelRecord | null; member: Member | null }> {
  const member = await storage.members.get(app.domain);
  const labels = await storage.labels.listByDomain(app.domain);
  return { label: labels.find((l) => l.applicationId === app.id) ?? null, member };
}

export const applicationRoutes: FastifyPluginAsync<{
  applications: ApplicationService;
  audits: AuditService;
  checks: CheckService;
  storage: RegistryStorage;
  /** Renews the label at once when a labelled instance's new certificate passes the checks. */
  labels: LabelService;
  rateLimitPerMinute: number;
  view?: ApplicantViewOptions;
}> = async (app, { applications, audits, checks, storage, labels, rateLimitPerMinute, view = DEFAULT_VIEW }) => {
  app.post(
    '/v1/applications',
    {
      config: { access: 'public', rateLimit: { max: rateLimitPerMinute, timeWindow: 60_000 } },
      schema: {
        tags: ['applications'],
        summary: 'Apply for the label: domain, endpoints, public keys, certificate and the signed charter declaration.',
        description:
          'Answers the application id, the applicant bearer token (shown once), the domain-control challenge, and `followPath`: the page of the registry’s site where the applicant follows the application (the token travels in the URL fragment, which browsers never send to a server).',
        body: ApplicationBody,
      },
    },
    async (request, reply) => {
      const { application, token, challenge } = await applications.submit(
        request.body as Static<typeof ApplicationBody>,
      );
      request.log.info({ applicationId: application.id, domain: application.domain }, 'application received');
      return reply.code(201).send({
        id: application.id,
        domain: application.domain,
        status: application.status,
        token,
        tokenType: 'Bearer',
        followPath: `/applications/${application.id}#token=${token}`,
        challenge,
        next: `Publish the challenge (DNS TXT ${challenge.dns.name} or HTTPS ${challenge.https.url}), then POST /v1/applications/${application.id}/verify.`,
      });
    },
  );

  app.get(
    '/v1/applications/:id',
    {
      config: { access: 'user' },
      schema: {
        tags: ['applications'],
        summary: 'The applicant follows its application: status, checks, vote summary, label.',
        params: ApplicationIdParams,
      },
    },
    async (request) => {
      const own = applicantApplication(request, (request.params as Static<typeof ApplicationIdParams>).id);
      const fresh = await applications.get(own.id);
      const { label, member } = await currentLabelOf(storage, fresh);
      return applicantView(await audits.review(fresh), label, member, view);
    },
  );

  app.post(
    '/v1/applications/:id/verify',
    {
      config: { access: 'user', rateLimit: { max: rateLimitPerMinute, timeWindow: 60_000 } },
      schema: {
        tags: ['applications'],
        summary: 'Run the automated checks now (after publishing the challenge or fixing a failure).',
        params: ApplicationIdParams,
      },
    },
    async (request) => {
      const own = applicantApplication(request, (request.params as Static<typeof ApplicationIdParams>).id);
      const fresh = await applications.get(own.id);
      const run = await checks.run(fresh, 'applicant');
      if (fresh.status === 'pending') await audits.decide(fresh.id);
      const after = await applications.get(own.id);
      const { label, member } = await currentLabelOf(storage, after);
      return { run: checkRunView(run), application: applicantView(await audits.review(after), label, member, view) };
    },
  );

  app.put(
    '/v1/applications/:id/certificate',
    {
      config: { access: 'user', rateLimit: { max: rateLimitPerMinute, timeWindow: 60_000 } },
      schema: {
        tags: ['applications'],
        summary: 'Replace the declared certificate (the instance renewed it), then run the checks again.',
        description:
          'For a pending or approved application. The checks judge the new certificate like the first: the endpoint must present it and the signed descriptor name its digest. A labelled instance whose mandatory checks pass gets a renewed label carrying the new certificate digest at once (a new feed serial).',
        params: ApplicationIdParams,
        body: Type.Object(
          { certificatePem: Type.String({ minLength: 1, maxLength: 32 * 1024 }) },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const own = applicantApplication(request, (request.params as Static<typeof ApplicationIdParams>).id);
      const replaced = await applications.replaceCertificate(
        await applications.get(own.id),
        (request.body as { certificatePem: string }).certificatePem,
      );
      const run = await checks.run(replaced, 'applicant');
      const member = await storage.members.get(replaced.domain);
      const relabel =
        member !== null &&
        member.applicationId === replaced.id &&
        member.status === 'labelled' &&
        !member.suspension &&
        member.entry.certFingerprint !== replaced.certFingerprint &&
        run.mandatoryPassed;
      if (relabel) await labels.issue(replaced, run, 'renewed', run.finishedAt);
      request.log.info(
        { applicationId: replaced.id, domain: replaced.domain, relabelled: relabel },
        'declared certificate replaced',
      );
      const after = await applications.get(own.id);
      const { label, member: now } = await currentLabelOf(storage, after);
      return { run: checkRunView(run), application: applicantView(await audits.review(after), label, now, view) };
    },
  );
};
