import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { problemResponses } from '../api/problem.ts';
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
        federationRoutes: own.labelValid ? ('open' as const) : ('closed' as const),
        explanation:
          status.ownEntryMismatch === null
            ? explainStanding(domain, own, status.ownRevocation?.reason ?? null)
            : `The registry's feed lists ${status.ownEntryMismatch.fields.join(', ')} for ${domain} that are not this instance's own: member instances will refuse its deliveries until the operator has the entry corrected. ${explainStanding(domain, own, status.ownRevocation?.reason ?? null)}`,
        directory: {
          lastSyncAt: status.lastSyncAt,
          lastAttemptAt: status.lastAttemptAt,
          members: status.instances,
          lastError: status.lastError,
          forkDetected: status.fork !== null,
          ownEntryMismatch: status.ownEntryMismatch === null ? null : [...status.ownEntryMismatch.fields],
        },
      };
    },
  );
};
