import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from 'typebox';
import { ApplicationIdParams, checkRunView } from './application.routes.ts';
import { challengeInstructions } from './application.service.ts';
import { AUDITOR_COOKIE, auditorOf } from './registry.access.ts';
import type { RegistryStorage } from '../database/registry-storage.port.ts';
import type { RegistryKeyService } from '../keys/registry-keys.service.ts';
import type { CheckService } from './check.service.ts';
import type { Member } from './label.entity.ts';
import type { RevocationProposal, RevocationService } from './revocation.service.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import { RegistryError } from '../shared/errors.ts';
import type { AuditEvent } from './audit.entity.ts';
import type { ApplicationReview, AuditService } from './audit.service.ts';
import type { AuditorService } from './auditor.service.ts';

const LoginBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
    cookie: Type.Optional(
      Type.Boolean({
        description:
          'true (the console in a browser): the session goes in an HttpOnly SameSite=Strict cookie, not in the answer.',
      }),
    ),
  },
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
const NoQuery = Type.Object({}, { additionalProperties: false });
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

export function proposalView(p: RevocationProposal) {
  return {
    id: p.id,
    domain: p.domain,
    reason: p.reason,
    proposedBy: p.proposedBy,
    proposedAt: p.proposedAt.toISOString(),
    status: p.status,
    decidedAt: p.decidedAt?.toISOString() ?? null,
    votes: p.votes.map((v) => ({
      auditor: v.auditorName,
      vote: v.vote,
      reason: v.reason,
      castAt: v.castAt.toISOString(),
    })),
    consensus: p.consensus,
  };
}

function memberStanding(member: Member, proposal: RevocationProposal | null) {
  return {
    domain: member.domain,
    status: member.status,
    labelId: member.currentLabelId,
    revokedAt: member.revokedAt?.toISOString() ?? null,
    reason: member.revocationReason,
    suspension: member.suspension
      ? {
          reason: member.suspension.reason,
          by: member.suspension.by,
          at: new Date(member.suspension.at).toISOString(),
          until: new Date(member.suspension.until).toISOString(),
          proposalId: member.suspension.proposalId,
        }
      : null,
    proposal: proposal === null ? null : proposalView(proposal),
  };
}

/** The console's session cookie (see registry.access.ts); `Secure` whenever the request came over HTTPS. */
function sessionCookie(value: string, maxAgeSeconds: number, secure: boolean): string {
  return [
    `${AUDITOR_COOKIE}=${value}`,
    'Path=/v1',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${maxAgeSeconds}`,
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}

export const auditRoutes: FastifyPluginAsync<{
  audits: AuditService;
  auditors: AuditorService;
  revocations: RevocationService;
  checks: CheckService;
  keys: RegistryKeyService;
  storage: RegistryStorage;
  clock: Clock;
  loginRateLimitPerMinute: number;
}> = async (app, { audits, auditors, revocations, checks, keys, storage, clock, loginRateLimitPerMinute }) => {
  app.post(
    '/v1/auth/login',
    {
      config: { access: 'public', rateLimit: { max: loginRateLimitPerMinute, timeWindow: 60_000 } },
      schema: {
        tags: ['auditors'],
        summary: 'Auditor login: answers a bearer token, or sets the console’s HttpOnly session cookie.',
        body: LoginBody,
      },
    },
    async (request, reply) => {
      const { name, password, cookie } = request.body as Static<typeof LoginBody>;
      const { token, session, auditor } = await auditors.login(name, password);
      request.log.info({ auditorId: auditor.id }, 'auditor login');
      const who = { id: auditor.id, name: auditor.name };
      if (cookie === true) {
        const maxAge = Math.max(1, Math.floor((session.expiresAt.getTime() - session.createdAt.getTime()) / 1000));
        reply.header('set-cookie', sessionCookie(token, maxAge, request.protocol === 'https'));
        return { session: 'cookie', expiresAt: session.expiresAt.toISOString(), auditor: who };
      }
      return { token, tokenType: 'Bearer', expiresAt: session.expiresAt.toISOString(), auditor: who };
    },
  );

  app.post(
    '/v1/auth/logout',
    { config: { access: 'admin' }, schema: { tags: ['auditors'], summary: 'End this auditor session.' } },
    async (request, reply) => {
      await auditors.logout(auditorOf(request).session.id);
      reply.header('set-cookie', sessionCookie('', 0, request.protocol === 'https'));
      return reply.code(204).send();
    },
  );

  app.get(
    '/v1/auth/session',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['auditors'],
        summary: 'Who this auditor session is, and when it ends (the console asks on load).',
        querystring: NoQuery,
      },
    },
    async (request) => {
      const { auditor, session } = auditorOf(request);
      return { auditor: { id: auditor.id, name: auditor.name }, expiresAt: session.expiresAt.toISOString() };
    },
  );

  app.get(
    '/v1/audit/rule',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['audit'],
        summary: 'The decision rule in force: approvals needed, objections, emergency suspension length.',
        querystring: NoQuery,
      },
    },
    async () => {
      const rule = revocations.rule;
      return {
        approvalsRequired: rule.approvalsRequired,
        standingObjectionBlocks: true,
        mandatoryChecksMustPass: true,
        emergencySuspensionHours: rule.emergencySuspensionHours,
      };
    },
  );

  app.get(
    '/v1/audit/members',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['audit'],
        summary: 'Every member with its standing, re-check failures, latest checks, suspension and open proposal.',
        querystring: NoQuery,
      },
    },
    async () => {
      const members = await storage.members.list();
      return {
        members: await Promise.all(
          members.map(async (m) => ({
            ...memberStanding(m, await revocations.openProposal(m.domain)),
            listed: m.listed,
            labelIssuedAt: m.labelIssuedAt.toISOString(),
            labelExpiresAt: m.labelExpiresAt.toISOString(),
            renewalBlocked: m.renewalBlocked,
            lastCheckAt: m.lastCheckAt?.toISOString() ?? null,
            lastPassingCheckAt: m.lastPassingCheckAt?.toISOString() ?? null,
            checks: checkRunView(await checks.latest(m.applicationId)),
          })),
        ),
      };
    },
  );

  app.get(
    '/v1/audit/revocations',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['audit'],
        summary: 'Revocation proposals (open first) with their votes and consensus.',
        querystring: NoQuery,
      },
    },
    async () => ({ proposals: (await revocations.list()).map(proposalView) }),
  );

  app.get(
    '/v1/audit/keys',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['audit'],
        summary: 'The registry keys: which one signs now, validity windows, and when to rotate.',
        querystring: NoQuery,
      },
    },
    async () => {
      const now = clock();
      const records = await keys.records();
      let signingKid: string | null = null;
      try {
        signingKid = (await keys.signingKey(now)).kid;
      } catch {
        signingKid = null;
      }
      const at = Math.floor(now.getTime() / 1000);
      return {
        now: now.toISOString(),
        signingKid,
        keys: records.map((r) => ({
          kid: r.kid,
          createdAt: r.createdAt.toISOString(),
          notBefore: new Date(r.notBefore * 1000).toISOString(),
          notAfter: new Date(r.notAfter * 1000).toISOString(),
          status: r.kid === signingKid ? 'signing' : at < r.notBefore ? 'next' : at >= r.notAfter ? 'retired' : 'valid',
        })),
      };
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
        summary: 'Propose the revocation of an instance (or approve the open proposal): it takes effect by consensus.',
        description:
          'Your approval counts. When K auditors approve with no standing objection the label is revoked at once, in the feed and the log with the public reason (200, status revoked); until then 202 with the proposal.',
        params: DomainParams,
        body: RevokeBody,
      },
    },
    async (request, reply) => {
      const { domain } = request.params as Static<typeof DomainParams>;
      const { reason } = request.body as Static<typeof RevokeBody>;
      const { auditor } = auditorOf(request);
      const { proposal, member } = await revocations.propose(auditor, domain, reason);
      request.log.info({ auditorId: auditor.id, domain, proposalId: proposal.id }, 'revocation proposed or approved');
      return reply.code(member.status === 'revoked' ? 200 : 202).send(memberStanding(member, proposal));
    },
  );

  app.post(
    '/v1/audit/instances/:domain/revocation/votes',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['audit'],
        summary:
          'Vote on the open revocation proposal (approve, object with a reason, abstain); voting again changes it.',
        params: DomainParams,
        body: VoteBody,
      },
    },
    async (request, reply) => {
      const { domain } = request.params as Static<typeof DomainParams>;
      const { vote, reason } = request.body as Static<typeof VoteBody>;
      const { auditor } = auditorOf(request);
      const { proposal, member } = await revocations.vote(auditor, domain, vote, reason ?? null);
      request.log.info({ auditorId: auditor.id, domain, vote }, 'revocation vote');
      return reply.code(member.status === 'revoked' ? 200 : 202).send(memberStanding(member, proposal));
    },
  );

  app.post(
    '/v1/audit/instances/:domain/suspend',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['audit'],
        summary: 'Emergency suspension by one auditor: immediate, time-limited, confirmed only by a revocation.',
        description:
          'The instance is suspended at once (feed and log, with the public reason) for audit.emergencySuspensionHours; a revocation proposal is opened (or approved) that must reach consensus before then, or the suspension is lifted.',
        params: DomainParams,
        body: RevokeBody,
      },
    },
    async (request) => {
      const { domain } = request.params as Static<typeof DomainParams>;
      const { reason } = request.body as Static<typeof RevokeBody>;
      const { auditor } = auditorOf(request);
      const { proposal, member } = await revocations.suspend(auditor, domain, reason);
      request.log.info({ auditorId: auditor.id, domain }, 'emergency suspension');
      return memberStanding(member, proposal);
    },
  );
};
