import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { principalOf } from '../api/access.ts';
import { problemResponses } from '../api/problem.ts';
import { NoContent, Password } from '../api/schemas.ts';
import type { AccountDeletionService } from './account-deletion.service.ts';
import type { PendingDeletion } from './account-deletion.repository.ts';

const DateTime = Type.String({ format: 'date-time' });
const Pending = Type.Object({ pending: Type.Literal(true), requestedAt: DateTime, dueAt: DateTime });
const NotPending = Type.Object({ pending: Type.Literal(false) });

const toDto = (d: PendingDeletion) => ({
  pending: true as const,
  requestedAt: d.requestedAt.toISOString(),
  dueAt: d.dueAt.toISOString(),
});

/**
 * `/api/v1/account/deletion`: the signed-in user asks for the deletion of their account (password, and two-factor
 * code if enabled), sees it pending, cancels it; `/api/v1/admin/account-deletions`: the pending ones.
 */
export const accountDeletionRoutes: FastifyPluginAsync<{
  deletions: AccountDeletionService;
  usernameOf: (accountId: string) => Promise<string | null>;
  /** Each request checks a password: limited as logins are (auth.loginRateLimitPerMinute per client address). */
  passwordChecksPerMinute: number;
}> = async (app, { deletions, usernameOf, passwordChecksPerMinute }) => {
  app.post(
    '/api/v1/account/deletion',
    {
      config: { access: 'user', rateLimit: { max: passwordChecksPerMinute, timeWindow: 60_000 } },
      schema: {
        tags: ['account'],
        summary:
          'Ask for the deletion of your account: every session ends now; after the grace period everything of the account is removed. Sign in again meanwhile to cancel.',
        body: Type.Object(
          { password: Password, totp: Type.Optional(Type.String({ minLength: 1, maxLength: 16 })) },
          { additionalProperties: false },
        ),
        response: { 202: Pending, ...problemResponses(400, 401, 409, 429) },
      },
    },
    async (request, reply) => {
      const { password, totp } = request.body as { password: string; totp?: string };
      const deletion = await deletions.request(principalOf(request).account.id, {
        password,
        ...(totp !== undefined ? { totp } : {}),
      });
      return reply.code(202).send(toDto(deletion));
    },
  );

  app.get(
    '/api/v1/account/deletion',
    {
      config: { access: 'user' },
      schema: {
        tags: ['account'],
        summary: 'Whether the deletion of your account is pending, and when it will happen.',
        response: { 200: Type.Union([Pending, NotPending]), ...problemResponses(401) },
      },
    },
    async (request) => {
      const d = await deletions.status(principalOf(request).account.id);
      return d ? toDto(d) : { pending: false as const };
    },
  );

  app.delete(
    '/api/v1/account/deletion',
    {
      config: { access: 'user' },
      schema: {
        tags: ['account'],
        summary: 'Cancel the pending deletion of your account.',
        response: { 204: NoContent, ...problemResponses(401, 409) },
      },
    },
    async (request, reply) => {
      await deletions.cancel(principalOf(request).account.id);
      return reply.code(204).send();
    },
  );

  app.get(
    '/api/v1/admin/account-deletions',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'The account deletions waiting for their grace period, soonest first.',
        response: {
          200: Type.Array(
            Type.Object({ accountId: Type.String(), username: Type.String(), requestedAt: DateTime, dueAt: DateTime }),
          ),
          ...problemResponses(401, 403),
        },
      },
    },
    async () => {
      const out = [];
      for (const d of await deletions.list()) {
        const username = await usernameOf(d.accountId);
        if (username === null) continue;
        out.push({
          accountId: d.accountId,
          username,
          requestedAt: d.requestedAt.toISOString(),
          dueAt: d.dueAt.toISOString(),
        });
      }
      return out;
    },
  );
};
