import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from 'typebox';
import { ApplicationIdParams, checkRunView } from './application.routes.ts';
import { challengeInstructions } from './application.service.ts';
import { auditorOf } from './registry.access.ts';
import { RegistryError } from '../shared/errors.ts';
import type { AuditEvent } from './audit.entity.ts';
import type { ApplicationReview, AuditService } from './audit.service.ts';
import type { AuditorService } from './auditor.service.ts';

const LoginBody = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 1024 }) },
  { additionalProperties: false },
);
const VoteBody = Type.Object(
  {
    vote: Type.Union([Type.Literal('approve'), Type.Literal('object'), Type.Literal('abstain')]),
    reason: Type.Optional(
      Type.String({
        maxLength: 2000,
        description: 'Required for an objection; shown to the applicant without your name.',
      }),
    ),
  },
  { additionalProperties: false },
);
const RevokeBody = Type.Object(
  { reason: Type.String({ minLength: 1, maxLength: 2000 }) },
  { additionalProperties: false },
);
const DomainParams = Type.Object(
  { domain: Type.String({ minLength: 1, maxLength: 253, pattern: '^[a-z0-9.-]+$' }) },
  { additionalProperties: false },
);
const QueueQuery = Type.Object(
  {
    status: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('approved'), Type.Literal('closed')])),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
  },
  { additionalProperties: false },
);
const EventsQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    before: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);

/** What auditors review: the whole application (declaration included), its checks, compliance, votes with names. */
export function auditorView(review: ApplicationReview) {
  const a = review.application;
  return {
    id: a.id,
    domain: a.domain,
    status: a.status,
    closedReason: a.closedReason,
    createdAt: a.createdAt.toISOString(),
    listed: a.listed,
    endpoints: a.endpoints,
    keys: a.keys,
    keyThumbprints: a.keyThumbprints,
    certFingerprint: a.certFingerprint,
    certificatePem: a.certificatePem,
    charterVersion: a.charterVersion,
    declaration: a.declaration,
    declarationJws: a.declarationJws,
    challenge: challengeInstructions(a),
    checks: checkRunView(review.latestCheck),
    compliance: review.compliance,
    votes: review.votes.map((v) => ({
      auditor: v.auditorName,
      vote: v.vote,
      reason: v.reason,
      castAt: v.castAt.toISOString(),
    })),
    consensus: review.consensus,
  };
}

export function eventView(e: AuditEvent) {
  return {
    id: e.id,
    at: e.at.toISOString(),
    auditor: e.auditorName,
    action: e.action,
    domain: e.domain,
    applicationId: e.applicationId,
    detail: e.detail,
  };
}

export const auditRoutes: FastifyPluginAsync<{
  audits: AuditService;
  auditors: AuditorService;
  loginRateLimitPerMinute: number;
}> = async (app, { audits, auditors, loginRateLimitPerMinute }) => {
  app.post(
    '/v1/auth/login',
    {
      config: { access: 'public', rateLimit: { max: loginRateLimitPerMinute, timeWindow: 60_000 } },
      schema: { tags: ['auditors'], summary: 'Auditor login: answers a bearer token.', body: LoginBody },
    },
    async (request) => {
      const { name, password } = request.body as Static<typeof LoginBody>;
      const { token, session, auditor } = await auditors.login(name, password);
      request.log.info({ auditorId: auditor.id }, 'auditor login');
      return {
        token,
        tokenType: 'Bearer',
        expiresAt: session.expiresAt.toISOString(),
        auditor: { id: auditor.id, name: auditor.name },
      };
    },
  );

  app.post(
    '/v1/auth/logout',
    { config: { access: 'admin' }, schema: { tags: ['auditors'], summary: 'End this auditor session.' } },
    async (request, reply) => {
      await auditors.logout(auditorOf(request).session.id);
      return reply.code(204).send();
    },
  );

  app.get(
    '/v1/audit/applications',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['audit'],
        summary: 'The review queue (pending by default), with checks, declarations and votes.',
        querystring: QueueQuery,
      },
    },
    async (request) => {
      const q = request.query as Static<typeof QueueQuery>;
      return { applications: (await audits.queue(q.status ?? 'pending', q.limit ?? 100)).map(auditorView) };
    },
  );

  app.get(
    '/v1/audit/applications/:id',
    {
      config: { access: 'admin' },
      schema: { tags: ['audit'], summary: 'One application, as auditors review it.', params: ApplicationIdParams },
    },
    async (request) => {
      const review = await audits.reviewById((request.params as Static<typeof ApplicationIdParams>).id);
      return auditorView(review);
    },
  );

  app.post(
    '/v1/audit/applications/:id/votes',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['audit'],
        summary: 'Cast or change your vote (approve, object with a reason, abstain).',
        params: ApplicationIdParams,
        body: VoteBody,
      },
    },
    async (request) => {
      const { id } = request.params as Static<typeof ApplicationIdParams>;
      const { vote, reason } = request.body as Static<typeof VoteBody>;
      const { auditor } = auditorOf(request);
      const review = await audits.vote(auditor, id, vote, reason ?? null);
      request.log.info({ auditorId: auditor.id, applicationId: id, vote }, 'vote');
      return auditorView(review);
    },
  );

  app.delete(
    '/v1/audit/applications/:id/votes',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['audit'],
        summary: 'Withdraw your vote (an objection stops blocking).',
        params: ApplicationIdParams,
      },
    },
    async (request) => {
      const { id } = request.params as Static<typeof ApplicationIdParams>;
      return auditorView(await audits.withdraw(auditorOf(request).auditor, id));
    },
  );

  app.get(
    '/v1/audit/events',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['audit'],
        summary: 'Every auditor action and registry decision, newest first (members only).',
        querystring: EventsQuery,
      },
    },
    async (request) => {
      const q = request.query as Static<typeof EventsQuery>;
      const before = q.before === undefined ? undefined : new Date(q.before);
      if (before !== undefined && Number.isNaN(before.getTime()))
        throw new RegistryError('validation_failed', 'before is not a date-time.');
      const events = await audits.events({ limit: q.limit ?? 100, ...(before ? { before } : {}) });
      return { events: events.map(eventView) };
    },
  );

  app.post(
    '/v1/audit/instances/:domain/revoke',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['audit'],
        summary: 'Revoke an instance label now: in the feed and the log at once, with a public reason.',
        params: DomainParams,
        body: RevokeBody,
      },
    },
    async (request) => {
      const { domain } = request.params as Static<typeof DomainParams>;
      const { reason } = request.body as Static<typeof RevokeBody>;
      const { auditor } = auditorOf(request);
      const member = await audits.revoke(auditor, domain, reason);
      request.log.info({ auditorId: auditor.id, domain }, 'instance revoked');
      return {
        domain: member.domain,
        status: member.status,
        labelId: member.currentLabelId,
        revokedAt: member.revokedAt?.toISOString() ?? null,
        reason: member.revocationReason,
      };
    },
  );
};
