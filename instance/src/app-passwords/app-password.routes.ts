import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { principalOf } from '../api/access.ts';
import { problemResponses } from '../api/problem.ts';
import { NoContent } from '../api/schemas.ts';
import type { AppPasswordService, AppPasswordView } from './app-password.service.ts';

const AppPasswordDto = Type.Object({
  id: Type.String(),
  label: Type.String({ description: 'which mail app it is for' }),
  createdAt: Type.String({ format: 'date-time' }),
  lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'last sign-in of a mail app with it (null: never used)',
  }),
});

const toDto = (p: AppPasswordView) => ({
  id: p.id,
  label: p.label,
  createdAt: p.createdAt.toISOString(),
  lastUsedAt: p.lastUsedAt?.toISOString() ?? null,
});

/**
 * `/api/v1/me/app-passwords`: passwords for mail apps (SMTP submission), made by the instance and shown once. An
 * account with two-factor authentication signs mail apps in with these only.
 */
export const appPasswordRoutes: FastifyPluginAsync<{ appPasswords: AppPasswordService }> = async (
  app,
  { appPasswords },
) => {
  app.get(
    '/api/v1/me/app-passwords',
    {
      config: { access: 'user' },
      schema: {
        tags: ['me'],
        summary: 'Your app passwords (never the passwords themselves).',
        response: { 200: Type.Object({ items: Type.Array(AppPasswordDto) }), ...problemResponses(401) },
      },
    },
    async (request) => ({ items: (await appPasswords.list(principalOf(request).account.id)).map(toDto) }),
  );

  app.post(
    '/api/v1/me/app-passwords',
    {
      config: { access: 'user', rateLimit: { max: 10, timeWindow: 60_000 } },
      schema: {
        tags: ['me'],
        summary:
          'Make a password for one mail app; it is in this answer only (the instance keeps its hash). Up to 20 per account.',
        body: Type.Object(
          { label: Type.String({ minLength: 1, maxLength: 64, description: 'e.g. "Thunderbird on my laptop"' }) },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Intersect([AppPasswordDto, Type.Object({ password: Type.String() })]),
          ...problemResponses(400, 401, 409),
        },
      },
    },
    async (request, reply) => {
      const made = await appPasswords.create(
        principalOf(request).account.id,
        (request.body as { label: string }).label,
      );
      return reply.code(201).send({ ...toDto(made), password: made.password });
    },
  );

  app.delete(
    '/api/v1/me/app-passwords/:id',
    {
      config: { access: 'user' },
      schema: {
        tags: ['me'],
        summary: 'Revoke an app password: the mail app using it can no longer sign in.',
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        response: { 204: NoContent, ...problemResponses(401, 404) },
      },
    },
    async (request, reply) => {
      await appPasswords.revoke(principalOf(request).account.id, (request.params as { id: string }).id);
      return reply.code(204).send();
    },
  );
};
