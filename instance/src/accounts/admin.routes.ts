import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { principalOf } from '../api/access.ts';
import { problemResponses } from '../api/problem.ts';
import { IdParams, NoContent, Password, Username } from '../api/schemas.ts';
import { AccountDto, toAccountDto } from './account.dto.ts';
import type { AccountService } from './account.service.ts';
import type { Operator } from './account.events.ts';
import type { FastifyRequest } from 'fastify';

/** The administrator making the request, as the admin journal names them. */
function operatorOf(request: FastifyRequest): Operator {
  const { account } = principalOf(request);
  return { kind: 'admin', accountId: account.id, username: account.username };
}

const Role = Type.Union([Type.Literal('user'), Type.Literal('admin')]);

/** The instance operator's account management. */
export const adminRoutes: FastifyPluginAsync<{ accounts: AccountService }> = async (app, { accounts }) => {
  app.post(
    '/api/v1/admin/users',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Create an account.',
        body: Type.Object(
          {
            username: Username,
            password: Password,
            displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            role: Type.Optional(Role),
            quotaBytes: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
          },
          { additionalProperties: false },
        ),
        response: { 201: AccountDto, ...problemResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const account = await accounts.create(
        request.body as Parameters<AccountService['create']>[0],
        operatorOf(request),
      );
      request.log.info({ accountId: account.id }, 'account created');
      return reply.code(201).send(toAccountDto(account));
    },
  );

  app.get(
    '/api/v1/admin/users',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Accounts by username, paged.',
        querystring: Type.Object(
          {
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
            after: Type.Optional(
              Type.String({ maxLength: 64, description: 'Username to continue after (the previous page’s `next`).' }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ items: Type.Array(AccountDto), next: Type.Union([Type.String(), Type.Null()]) }),
          ...problemResponses(400, 401, 403),
        },
      },
    },
    async (request) => {
      const q = request.query as { limit: number; after?: string };
      const items = await accounts.list({ limit: q.limit, ...(q.after ? { afterUsername: q.after } : {}) });
      return { items: items.map(toAccountDto), next: items.length === q.limit ? items.at(-1)!.username : null };
    },
  );

  app.get(
    '/api/v1/admin/users/:id',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        params: IdParams,
        response: { 200: AccountDto, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => toAccountDto(await accounts.get((request.params as { id: string }).id)),
  );

  app.patch(
    '/api/v1/admin/users/:id',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Change an account: display name, role, quota, disabled (disabling ends its sessions).',
        params: IdParams,
        body: Type.Object(
          {
            displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            role: Type.Optional(Role),
            quotaBytes: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
            disabled: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: AccountDto, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) =>
      toAccountDto(
        await accounts.update((request.params as { id: string }).id, request.body as object, operatorOf(request)),
      ),
  );

  app.post(
    '/api/v1/admin/users/:id/password',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Set a new password for an account; its sessions end.',
        params: IdParams,
        body: Type.Object({ password: Password }, { additionalProperties: false }),
        response: { 204: NoContent, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      await accounts.setPassword(
        (request.params as { id: string }).id,
        (request.body as { password: string }).password,
        undefined,
        operatorOf(request),
      );
      return reply.code(204).send();
    },
  );
};
