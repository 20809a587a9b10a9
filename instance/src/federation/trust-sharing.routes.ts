import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import { principalOf } from '../api/access.ts';
import { problemResponses } from '../api/problem.ts';
import type { TrustSharingRepository } from './trust-sharing.repository.ts';

const SharingDto = Type.Object(
  {
    shareTrust: Type.Boolean({
      description:
        'Whether labelled member instances may read your account Privacy Index (its score and level only), to show it to their users who correspond with you. Off by default.',
    }),
  },
  { additionalProperties: false },
);

/**
 * `GET` and `PUT /api/v1/privacy/sharing`: the user's trust-sharing choice (SPEC.md §13, `GET /federation/v1/trust/:local`
 * answers peers only when it is on). Default off.
 */
export const trustSharingRoutes: FastifyPluginAsync<{ sharing: TrustSharingRepository; clock: Clock }> = async (
  app,
  { sharing, clock },
) => {
  app.get(
    '/api/v1/privacy/sharing',
    {
      config: { access: 'user' },
      schema: {
        tags: ['privacy'],
        summary: 'Whether labelled member instances may read your account Privacy Index.',
        response: { 200: SharingDto, ...problemResponses(401) },
      },
    },
    async (request) => ({ shareTrust: await sharing.sharesTrust(principalOf(request).account.id) }),
  );

  app.put<{ Body: { shareTrust: boolean } }>(
    '/api/v1/privacy/sharing',
    {
      config: { access: 'user' },
      schema: {
        tags: ['privacy'],
        summary: 'Allow or stop labelled member instances reading your account Privacy Index (score and level only).',
        body: SharingDto,
        response: { 200: SharingDto, ...problemResponses(400, 401) },
      },
    },
    async (request) => {
      const accountId = principalOf(request).account.id;
      await sharing.setSharesTrust(accountId, request.body.shareTrust, clock());
      return { shareTrust: await sharing.sharesTrust(accountId) };
    },
  );
};
