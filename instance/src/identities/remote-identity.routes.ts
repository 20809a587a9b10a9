import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from 'typebox';
import { principalOf } from '../api/access.ts';
import { problemResponses } from '../api/problem.ts';
import { IdParams } from '../api/schemas.ts';
import { CreateIdentityBody, IdentityDto, toIdentityDto, UpdateIdentityBody } from './remote-identity.dto.ts';
import type { RemoteIdentityService } from './remote-identity.service.ts';

/** A user's remote mailboxes (IMAP): add one (its login is tested first), list, see, delete. */
export const remoteIdentityRoutes: FastifyPluginAsync<{ identities: RemoteIdentityService }> = async (
  app,
  { identities },
) => {
  app.post(
    '/api/v1/identities',
    {
      config: { access: 'user' },
      schema: {
        tags: ['identities'],
        summary:
          'Add a remote IMAP mailbox. The login is tested first; the password is stored sealed and never returned.',
        body: CreateIdentityBody,
        response: { 201: IdentityDto, ...problemResponses(400, 401, 409, 422, 502) },
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const identity = await identities.create(p.account.id, request.body as Static<typeof CreateIdentityBody>);
      return reply.code(201).send(toIdentityDto(identity));
    },
  );

  app.get(
    '/api/v1/identities',
    {
      config: { access: 'user' },
      schema: {
        tags: ['identities'],
        summary: 'Remote mailboxes of this account, oldest first.',
        response: { 200: Type.Object({ items: Type.Array(IdentityDto) }), ...problemResponses(401) },
      },
    },
    async (request) => ({ items: (await identities.list(principalOf(request).account.id)).map(toIdentityDto) }),
  );

  app.get(
    '/api/v1/identities/:id',
    {
      config: { access: 'user' },
      schema: {
        tags: ['identities'],
        params: IdParams,
        response: { 200: IdentityDto, ...problemResponses(400, 401, 404) },
      },
    },
    async (request) =>
      toIdentityDto(await identities.get(principalOf(request).account.id, (request.params as { id: string }).id)),
  );

  app.patch(
    '/api/v1/identities/:id',
    {
      // A new password is tried against the provider: as many sign-ins as the send-as route allows.
      config: { access: 'user', rateLimit: { max: 10, timeWindow: 60_000 } },
      schema: {
        tags: ['identities'],
        summary:
          'Change the password (tried first: nothing changes when the login fails) or the name of a remote mailbox. Its sync positions are kept.',
        params: IdParams,
        body: UpdateIdentityBody,
        response: { 200: IdentityDto, ...problemResponses(400, 401, 404, 422, 502) },
      },
    },
    async (request) =>
      toIdentityDto(
        await identities.update(
          principalOf(request).account.id,
          (request.params as { id: string }).id,
          request.body as Static<typeof UpdateIdentityBody>,
        ),
      ),
  );

  app.delete(
    '/api/v1/identities/:id',
    {
      config: { access: 'user' },
      schema: {
        tags: ['identities'],
        summary: 'Forget a remote mailbox (its credential and sync positions). Mail already imported stays.',
        params: IdParams,
        response: { 200: IdentityDto, ...problemResponses(400, 401, 404) },
      },
    },
    async (request) =>
      toIdentityDto(await identities.delete(principalOf(request).account.id, (request.params as { id: string }).id)),
  );
};
