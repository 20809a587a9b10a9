import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { principalOf } from '../api/access.ts';
import { problemResponses } from '../api/problem.ts';
import { NoContent, Password } from '../api/schemas.ts';
import { AppError } from '../shared/errors.ts';
import { AccountDto, toAccountDto } from './account.dto.ts';
import type { AccountService } from './account.service.ts';
import type { PasswordHasher } from '@caliopen/platform/crypto/password.hasher.ts';

const Code = Type.Object({ code: Type.String({ minLength: 1, maxLength: 16 }) }, { additionalProperties: false });

/** What these routes ask of the sessions domain (sessions/auth.service.ts answers): two-factor enrolment. */
export interface TwoFactorEnrolment {
  beginTotp(accountId: string): Promise<{ secret: string; otpauthUri: string }>;
  confirmTotp(accountId: string, code: string): Promise<void>;
  disableTotp(accountId: string, code: string): Promise<void>;
}

/** The logged-in user's own account: profile, password, two-factor authentication. */
export const meRoutes: FastifyPluginAsync<{
  accounts: AccountService;
  auth: TwoFactorEnrolment;
  hasher: PasswordHasher;
}> = async (app, { accounts, auth, hasher }) => {
  app.get(
    '/api/v1/me',
    {
      config: { access: 'user' },
      schema: {
        tags: ['me'],
        summary: 'The account this token belongs to.',
        response: { 200: AccountDto, ...problemResponses(401) },
      },
    },
    async (request) => toAccountDto(principalOf(request).account),
  );

  app.post(
    '/api/v1/me/password',
    {
      config: { access: 'user', rateLimit: { max: 10, timeWindow: 60_000 } },
      schema: {
        tags: ['me'],
        summary: 'Change the password; every session of the account ends, this one included.',
        body: Type.Object({ currentPassword: Password, newPassword: Password }, { additionalProperties: false }),
        response: { 204: NoContent, ...problemResponses(400, 401) },
      },
    },
    async (request, reply) => {
      const { currentPassword, newPassword } = request.body as { currentPassword: string; newPassword: string };
      const { account } = principalOf(request);
      if (!(await hasher.verify(account.passwordHash, currentPassword)))
        throw new AppError('invalid_credentials', 'The current password is wrong.');
      await accounts.setPassword(account.id, newPassword, currentPassword);
      return reply.code(204).send();
    },
  );

  app.post(
    '/api/v1/me/totp',
    {
      config: { access: 'user' },
      schema: {
        tags: ['me'],
        summary: 'Start two-factor enrolment: returns a secret and an otpauth:// URI for an authenticator app.',
        response: {
          200: Type.Object({ secret: Type.String(), otpauthUri: Type.String() }),
          ...problemResponses(401, 409),
        },
      },
    },
    async (request) => auth.beginTotp(principalOf(request).account.id),
  );

  app.post(
    '/api/v1/me/totp/confirm',
    {
      config: { access: 'user', rateLimit: { max: 10, timeWindow: 60_000 } },
      schema: {
        tags: ['me'],
        summary: 'Confirm enrolment with a first code; logins then require a code.',
        body: Code,
        response: { 204: NoContent, ...problemResponses(400, 401, 409) },
      },
    },
    async (request, reply) => {
      await auth.confirmTotp(principalOf(request).account.id, (request.body as { code: string }).code);
      return reply.code(204).send();
    },
  );

  app.post(
    '/api/v1/me/totp/disable',
    {
      config: { access: 'user', rateLimit: { max: 10, timeWindow: 60_000 } },
      schema: {
        tags: ['me'],
        summary: 'Turn two-factor authentication off (needs a current code).',
        body: Code,
        response: { 204: NoContent, ...problemResponses(400, 401, 409) },
      },
    },
    async (request, reply) => {
      await auth.disableTotp(principalOf(request).account.id, (request.body as { code: string }).code);
      return reply.code(204).send();
    },
  );
};
