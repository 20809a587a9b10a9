import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { principalOf } from '../api/access.ts';
import { problemResponses } from '../api/problem.ts';
import { IdParams, NoContent } from '../api/schemas.ts';
import { Host } from './remote-identity.dto.ts';
import type { SendAsInput, SendAsService, SendAsView } from './send-as.service.ts';

const Tls = Type.Union([Type.Literal('implicit'), Type.Literal('starttls')], {
  description:
    '`implicit`: TLS from the first byte (port 465); `starttls`: upgraded with STARTTLS (port 587), refused if the server does not offer it. Never in clear.',
});

const SendAsBody = Type.Object(
  {
    address: Type.String({ minLength: 3, maxLength: 254, description: 'the From address of this mailbox' }),
    host: Host,
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    tls: Tls,
    username: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 320,
        pattern: '^[^\\r\\n\\u0000]+$',
        description: "default: the identity's IMAP username",
      }),
    ),
    password: Type.String({ minLength: 1, maxLength: 1024, pattern: '^[^\\r\\n\\u0000]+$' }),
  },
  { additionalProperties: false },
);

const SendAsDto = Type.Object({
  identityId: Type.String(),
  address: Type.String(),
  host: Type.String(),
  port: Type.Integer(),
  tls: Tls,
  username: Type.String(),
  updatedAt: Type.String({ format: 'date-time' }),
});

const toDto = (v: SendAsView) => ({ ...v, updatedAt: v.updatedAt.toISOString() });

/**
 * `/api/v1/identities/:id/send-as`: the provider's SMTP submission server and credentials of an imported mailbox, so
 * that mail from its address (from a mail app through submission) is relayed through the provider.
 */
export const sendAsRoutes: FastifyPluginAsync<{ sendAs: SendAsService }> = async (app, { sendAs }) => {
  app.put(
    '/api/v1/identities/:id/send-as',
    {
      config: { access: 'user', rateLimit: { max: 10, timeWindow: 60_000 } },
      schema: {
        tags: ['identities'],
        summary:
          "Send as this imported address: its provider's submission server and credentials. The sign-in is tried first; the password is stored sealed and never returned.",
        params: IdParams,
        body: SendAsBody,
        response: { 200: SendAsDto, ...problemResponses(400, 401, 404, 422, 502) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      const { id } = request.params as { id: string };
      return toDto(await sendAs.set(p.account.id, id, request.body as SendAsInput));
    },
  );

  app.get(
    '/api/v1/send-as',
    {
      config: { access: 'user' },
      schema: {
        tags: ['identities'],
        summary:
          'The imported addresses this account can send as, each with its submission server (never the password): what compose offers as From.',
        response: { 200: Type.Object({ items: Type.Array(SendAsDto) }), ...problemResponses(401) },
      },
    },
    async (request) => ({ items: (await sendAs.list(principalOf(request).account.id)).map(toDto) }),
  );

  app.get(
    '/api/v1/identities/:id/send-as',
    {
      config: { access: 'user' },
      schema: {
        tags: ['identities'],
        summary: 'The submission server this imported address is sent through (never the password).',
        params: IdParams,
        response: { 200: SendAsDto, ...problemResponses(400, 401, 404) },
      },
    },
    async (request) => toDto(await sendAs.get(principalOf(request).account.id, (request.params as { id: string }).id)),
  );

  app.delete(
    '/api/v1/identities/:id/send-as',
    {
      config: { access: 'user' },
      schema: {
        tags: ['identities'],
        summary: 'Stop sending as this imported address; its credentials are forgotten.',
        params: IdParams,
        response: { 204: NoContent, ...problemResponses(400, 401, 404) },
      },
    },
    async (request, reply) => {
      await sendAs.remove(principalOf(request).account.id, (request.params as { id: string }).id);
      return reply.code(204).send();
    },
  );
};
