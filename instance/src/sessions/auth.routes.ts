import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from 'typebox';
import { AccountDto, toAccountDto } from '../accounts/account.dto.ts';
import { DeviceDto, toDeviceDto } from '../devices/device.dto.ts';
import { principalOf } from '../api/access.ts';
import { problemResponses } from '../api/problem.ts';
import { NoContent, Password } from '../api/schemas.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { isAppError } from '../shared/errors.ts';
import type { AuthService } from './auth.service.ts';

const LoginBody = Type.Object(
  {
    username: Type.String({
      minLength: 1,
      maxLength: 320,
      description: 'The username, or the full address on this instance (`alice@example.org`).',
    }),
    password: Password,
    totp: Type.Optional(
      Type.String({ maxLength: 16, description: 'Current two-factor code, when the account uses one.' }),
    ),
    deviceId: Type.Optional(
      Type.String({ format: 'uuid', description: 'The device id of an earlier login from this device.' }),
    ),
    deviceName: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  },
  { additionalProperties: false },
);

const LoginReply = Type.Object({
  token: Type.String({ description: 'Bearer token; send it as `Authorization: Bearer <token>`.' }),
  tokenType: Type.Literal('Bearer'),
  expiresAt: Type.String({ format: 'date-time' }),
  account: AccountDto,
  device: DeviceDto,
});

export const authRoutes: FastifyPluginAsync<{
  auth: AuthService;
  metrics: Metrics;
  loginRateLimitPerMinute: number;
}> = async (app, { auth, metrics, loginRateLimitPerMinute }) => {
  app.post(
    '/api/v1/auth/login',
    {
      config: { access: 'public', rateLimit: { max: loginRateLimitPerMinute, timeWindow: 60_000 } },
      schema: {
        tags: ['auth'],
        summary: 'Log in with a password (and a two-factor code when enabled); records the device.',
        body: LoginBody,
        response: { 200: LoginReply, ...problemResponses(400, 401, 403, 429) },
      },
    },
    async (request) => {
      const body = request.body as Static<typeof LoginBody>;
      try {
        const r = await auth.login({
          ...body,
          ...(request.headers['user-agent'] ? { userAgent: request.headers['user-agent'] } : {}),
        });
        metrics.logins.inc({ outcome: 'ok' });
        request.log.info({ accountId: r.account.id, deviceId: r.device.id }, 'login');
        return {
          token: r.token,
          tokenType: 'Bearer' as const,
          expiresAt: r.session.expiresAt.toISOString(),
          account: toAccountDto(r.account),
          device: toDeviceDto(r.device, r.device.id),
        };
      } catch (e) {
        metrics.logins.inc({ outcome: isAppError(e) ? e.code : 'error' });
        throw e;
      }
    },
  );

  app.post(
    '/api/v1/auth/logout',
    {
      config: { access: 'user' },
      schema: {
        tags: ['auth'],
        summary: 'End this session (the token stops working).',
        response: { 204: NoContent, ...problemResponses(401) },
      },
    },
    async (request, reply) => {
      await auth.logout(principalOf(request));
      return reply.code(204).send();
    },
  );
};
