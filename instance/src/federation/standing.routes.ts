import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { problemResponses } from '../api/problem.ts';
import { PiBreakdownDto, toPiBreakdownDto } from '../pi-model/pi.dto.ts';
import { AppError } from '../shared/errors.ts';
import type { PeerDirectory } from './peer-directory.ts';
import { explainStanding } from './standing.ts';

const iso = (seconds: number | null) => (seconds === null ? null : new Date(seconds * 1000).toISOString());

const FederationStatusDto = Type.Object(
  {
    enabled: Type.Boolean({ description: 'Whether this instance follows a registry (federation.registryUrl).' }),
    domain: Type.String(),
    registry: Type.Union([Type.String(), Type.Null()], {
      description: 'The registry whose signed feed this instance syncs.',
    }),
    standing: Type.Object(
      {
        status: Type.Union(
          ['not_synced', 'absent', 'labelled', 'expired', 'suspended', 'revoked'].map((s) => Type.Literal(s)),
          {
            description: "This instance's entry in the registry's verified feed.",
          },
        ),
        labelValid: Type.Boolean(),
        instancePi: Type.Union([Type.Integer(), Type.Null()]),
        labelExpiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
        feedSerial: Type.Union([Type.Integer(), Type.Null()]),
      },
      { additionalProperties: false },
    ),
    /** Whether mail to labelled member instances goes over the federation now. */
    federationRoutes: Type.Union([Type.Literal('open'), Type.Literal('closed')]),
    explanation: Type.String({ description: 'Why, in one sentence, and what happens to mail meanwhile.' }),
    directory: Type.Union([
      Type.Object(
        {
          lastSyncAt: Type.Union([Type.String(), Type.Null()]),
          lastAttemptAt: Type.Union([Type.String(), Type.Null()]),
          members: Type.Integer({ description: 'Instances the feed lists.' }),
          lastError: Type.Union([
            Type.Object(
              { code: Type.String(), message: Type.String(), at: Type.String() },
              { additionalProperties: false },
            ),
            Type.Null(),
          ]),
          forkDetected: Type.Boolean({
            description: "The registry's log forked: its feed is refused and the last good one kept.",
          }),
          stale: Type.Boolean({
            description:
              'The newest verified feed was signed more than 72 h ago (the registry out of reach, or its feed withheld): no member instance is trusted from it until a fresh one arrives (docs/adr/0017).',
          }),
          feedIssuedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
            description: 'When the newest verified feed was signed: its freshness.',
          }),
          registryKeySequence: Type.Integer({
            minimum: 0,
            description: 'Registry key rotations followed from the pinned key set (SPEC.md §3).',
          }),
          ownEntryMismatch: Type.Union([Type.Array(Type.String()), Type.Null()], {
            description:
              "The feed's entry for this instance lists keys or a certificate that are not its own (which fields): peers trust those, not this instance's.",
          }),
        },
        { additionalProperties: false },
      ),
      Type.Null(),
    ]),
  },
  { additionalProperties: false },
);

const PeerDto = Type.Object(
  {
    domain: Type.String(),
    entry: Type.Union(
      [
        Type.Object(
          {
            standing: Type.Union(
              ['labelled', 'expired', 'suspended', 'revoked'].map((s) => Type.Literal(s)),
              {
                description: 'The label as the verified feed says now (expired: labelled, but past its expiry).',
              },
            ),
            labelValid: Type.Boolean(),
            labelId: Type.String(),
            issuer: Type.Union([Type.String(), Type.Null()], { description: 'The registry that issued the label.' }),
            labelExpiresAt: Type.String({ format: 'date-time' }),
            instancePi: PiBreakdownDto,
            revocation: Type.Union([
              Type.Object(
                {
                  reason: Type.Union([Type.String(), Type.Null()]),
                  at: Type.Union([Type.String(), Type.Null()]),
                },
                { additionalProperties: false },
              ),
              Type.Null(),
            ]),
            feedSerial: Type.Union([Type.Integer(), Type.Null()]),
          },
          { additionalProperties: false },
        ),
        Type.Null(),
      ],
      { description: 'null: the feed does not list this domain (not a member instance), or federation is off.' },
    ),
  },
  { additionalProperties: false },
);

const DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * `GET /api/v1/federation`: this instance's standing at the registry and the state of its peer directory, for its
 * users (why their mail to member instances goes, or no longer goes, over the federation). The feed is public: this
 * says nothing a user could not learn from it, and nothing about other users.
 */
export const federationStatusRoutes: FastifyPluginAsync<{
  domain: string;
  directory: () => PeerDirectory | null;
}> = async (app, { domain, directory }) => {
  app.get(
    '/api/v1/federation',
    {
      config: { access: 'user' },
      schema: {
        tags: ['federation'],
        summary:
          "This instance's standing at the registry: whether mail to member instances goes over the federation, and why.",
        response: { 200: FederationStatusDto, ...problemResponses(401) },
      },
    },
    async () => {
      const peers = directory();
      if (peers === null) {
        return {
          enabled: false,
          domain,
          registry: null,
          standing: {
            status: 'absent' as const,
            labelValid: false,
            instancePi: null,
            labelExpiresAt: null,
            feedSerial: null,
          },
          federationRoutes: 'closed' as const,
          explanation: `${domain} does not follow a registry (federation.registryUrl is not set): mail goes by email.`,
          directory: null,
        };
      }
      const own = peers.standing();
      const status = peers.status();
      return {
        enabled: true,
        domain,
        registry: status.registryUrl,
        standing: {
          status: own.status,
          labelValid: own.labelValid,
          instancePi: own.instancePi,
          labelExpiresAt: iso(own.labelExpiresAt),
          feedSerial: own.serial,
        },
        federationRoutes: own.labelValid && !status.stale ? ('open' as const) : ('closed' as const),
        explanation: `${
          status.stale
            ? `The registry's feed was last signed ${iso(status.feedIssuedAt)}, more than 72 h ago (the registry out of reach, or its feed withheld): no member instance is trusted from it until a fresh one arrives, and mail to them waits or goes by email as each sender chose. `
            : ''
        }${
          status.ownEntryMismatch === null
            ? explainStanding(domain, own, status.ownRevocation?.reason ?? null)
            : `The registry's feed lists ${status.ownEntryMismatch.fields.join(', ')} for ${domain} that are not this instance's own: member instances will refuse its deliveries until the operator has the entry corrected. ${explainStanding(domain, own, status.ownRevocation?.reason ?? null)}`
        }`,
        directory: {
          lastSyncAt: status.lastSyncAt,
          lastAttemptAt: status.lastAttemptAt,
          members: status.instances,
          lastError: status.lastError,
          forkDetected: status.fork !== null,
          stale: status.stale,
          feedIssuedAt: iso(status.feedIssuedAt),
          registryKeySequence: status.registryKeys.sequence,
          ownEntryMismatch: status.ownEntryMismatch === null ? null : [...status.ownEntryMismatch.fields],
        },
      };
    },
  );

  /**
   * `GET /api/v1/federation/peers/:domain`: what the registry's verified feed says of a correspondent's instance — its
   * label (issuer, expiry, standing, the reason the registry published for a revocation) and its instance PI with the
   * breakdown — for the trust card. Answered from the feed held here; only a revoked peer's reason is read from the
   * registry's public record, once per feed.
   */
  app.get<{ Params: { domain: string } }>(
    '/api/v1/federation/peers/:domain',
    {
      config: { access: 'user' },
      schema: {
        tags: ['federation'],
        summary: "A member instance's label, standing and instance PI, as the registry's feed says.",
        params: Type.Object({ domain: Type.String({ minLength: 1, maxLength: 253 }) }),
        response: { 200: PeerDto, ...problemResponses(400, 401) },
      },
    },
    async (request) => {
      const domain = request.params.domain.toLowerCase();
      if (!DOMAIN.test(domain)) throw new AppError('validation_failed', 'domain is not a domain name.');
      const peers = directory();
      const peer = peers?.peer(domain) ?? null;
      if (peers === null || peer === null) return { domain, entry: null };
      const expired = peer.status === 'labelled' && !peer.labelValid;
      return {
        domain: peer.domain,
        entry: {
          standing: expired ? ('expired' as const) : peer.status,
          labelValid: peer.labelValid,
          labelId: peer.labelId,
          issuer: peers.registryName(),
          labelExpiresAt: iso(peer.labelExpiresAt)!,
          instancePi: toPiBreakdownDto(peer.pi),
          revocation: peer.status === 'revoked' ? await peers.fetchRevocation(peer.domain) : null,
          feedSerial: peers.status().serial,
        },
      };
    },
  );
};
