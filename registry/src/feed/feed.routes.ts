import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from 'typebox';
import { checkRunView, labelView } from '../labels/application.routes.ts';
import type { CheckService } from '../labels/check.service.ts';
import type { RegistryKeyService } from '../keys/registry-keys.service.ts';
import { RegistryError } from '../shared/errors.ts';
import type { RegistryStorage } from '../database/registry-storage.port.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import type { FeedService } from './feed.service.ts';

export const FEED_MEDIA_TYPE = 'application/vnd.caliopen.feed';
export const FEED_DELTA_MEDIA_TYPE = 'application/vnd.caliopen.feed-delta';

const IndexQuery = Type.Object(
  { since: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })) },
  { additionalProperties: false },
);
const DomainParams = Type.Object(
  { domain: Type.String({ minLength: 1, maxLength: 253, pattern: '^[a-z0-9.-]+$' }) },
  { additionalProperties: false },
);
const NoQuery = Type.Object({}, { additionalProperties: false });

/** The public face of the registry: the signed feed and its deltas, the key set, instance records, the directory. */
export const feedRoutes: FastifyPluginAsync<{
  feed: FeedService;
  keys: RegistryKeyService;
  storage: RegistryStorage;
  checks: CheckService;
  clock: Clock;
}> = async (app, { feed, keys, storage, checks, clock }) => {
  app.get(
    '/v1/index',
    {
      config: { access: 'public' },
      schema: {
        tags: ['feed'],
        summary:
          'The signed feed of every labelled, suspended or revoked instance; `?since=SERIAL` for a signed delta.',
        description: `Full feed: ${FEED_MEDIA_TYPE}, with ETag (If-None-Match answers 304). Delta: ${FEED_DELTA_MEDIA_TYPE}; 304 when SERIAL is current.`,
        querystring: IndexQuery,
      },
    },
    async (request, reply) => {
      const { since } = request.query as Static<typeof IndexQuery>;
      reply.header('cache-control', 'no-cache');
      if (since !== undefined) {
        const delta = await feed.delta(since, clock());
        if (delta === null) return reply.code(304).send();
        reply.header('x-feed-serial', String(delta.current.serial));
        return reply
          .type(FEED_DELTA_MEDIA_TYPE)
          .send(Buffer.from(delta.envelope.buffer, delta.envelope.byteOffset, delta.envelope.byteLength));
      }
      const current = await feed.current(clock());
      reply.header('etag', current.etag);
      reply.header('x-feed-serial', String(current.serial));
      const inm = request.headers['if-none-match'];
      if (typeof inm === 'string' && inm.split(',').some((t) => t.trim() === current.etag || t.trim() === '*'))
        return reply.code(304).send();
      return reply
        .type(FEED_MEDIA_TYPE)
        .send(Buffer.from(current.envelope.buffer, current.envelope.byteOffset, current.envelope.byteLength));
    },
  );

  app.get(
    '/v1/keys',
    {
      config: { access: 'public' },
      schema: {
        tags: ['feed'],
        summary: 'The registry key set peers pin: Ed25519 JWKs with their validity windows.',
        querystring: NoQuery,
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'max-age=300');
      return keys.document();
    },
  );

  app.get(
    '/v1/keys/statements',
    {
      config: { access: 'public' },
      schema: {
        tags: ['feed'],
        summary:
          'The key rotation statements, in order: each the key set from then on, signed by a key of the set before it (SPEC.md §3). Peers follow them from the set they pinned.',
        querystring: NoQuery,
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'max-age=300');
      return { statements: await keys.statements() };
    },
  );

  app.get(
    '/v1/instances/:domain',
    {
      config: { access: 'public' },
      schema: {
        tags: ['feed'],
        summary: 'The public record of an instance: status, label history, PI breakdown, checks, audit counts.',
        params: DomainParams,
      },
    },
    async (request) => {
      const { domain } = request.params as Static<typeof DomainParams>;
      const member = await storage.members.get(domain);
      if (member === null) throw new RegistryError('not_found', `${domain} holds no label and never did.`);
      const [labels, events, run, app] = await Promise.all([
        storage.labels.listByDomain(domain),
        storage.auditEvents.listByDomain(domain),
        checks.latest(member.applicationId),
        storage.applications.get(member.applicationId),
      ]);
      const counts: Record<string, number> = {};
      for (const e of events) counts[e.action] = (counts[e.action] ?? 0) + 1;
      return {
        domain,
        status: member.status,
        listed: member.listed,
        charterVersion: app?.charterVersion ?? null,
        endpoints: member.entry.endpoints,
        keys: member.entry.keys,
        certFingerprint: member.entry.certFingerprint,
        label: labelView(labels.find((l) => l.id === member.currentLabelId) ?? null, member),
        labelHistory: labels.map((l) => {
          const { jws: _jws, ...rest } = labelView(l, member)!;
          return rest;
        }),
        revocation:
          member.status === 'revoked'
            ? {
                labelId: member.currentLabelId,
                at: member.revokedAt?.toISOString() ?? null,
                reason: member.revocationReason,
              }
            : null,
        renewalBlocked: member.renewalBlocked,
        pi: member.pi,
        checks: checkRunView(run),
        lastCheckAt: member.lastCheckAt?.toISOString() ?? null,
        audit: {
          counts,
          note: 'Counts of auditor actions and registry decisions on this instance; names are visible to association members only.',
        },
      };
    },
  );

  app.get(
    '/v1/directory',
    {
      config: { access: 'public' },
      schema: {
        tags: ['feed'],
        summary: 'The public directory: labelled instances that chose to be listed.',
        querystring: NoQuery,
      },
    },
    async () => {
      const members = await storage.members.list();
      return {
        instances: members
          .filter((m) => m.listed && m.status === 'labelled')
          .map((m) => ({
            domain: m.domain,
            status: m.status,
            pi: { score: m.pi.score, level: m.pi.level },
            labelExpiresAt: m.labelExpiresAt.toISOString(),
          })),
      };
    },
  );
};
