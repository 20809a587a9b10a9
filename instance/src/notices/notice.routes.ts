import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { principalOf } from '../api/access.ts';
import { problemResponses } from '../api/problem.ts';
import { NoContent } from '../api/schemas.ts';
import type { Notice, NoticeService } from './notice.service.ts';

const DateTime = Type.String({ format: 'date-time' });

const NoticeDto = Type.Union([
  Type.Object(
    {
      id: Type.String(),
      kind: Type.Literal('standing'),
      at: Type.Union([DateTime, Type.Null()]),
      change: Type.Union([Type.Literal('stopped'), Type.Literal('resumed')], {
        description: 'stopped: federation stopped for this instance (label lost); resumed: labelled again.',
      }),
      status: Type.String({
        description: "This instance's standing after the change (revoked, suspended, expired, absent, labelled).",
      }),
      reason: Type.Union([Type.String(), Type.Null()], {
        description: "The registry's published reason, in its words.",
      }),
      dismissed: Type.Boolean(),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      id: Type.String(),
      kind: Type.Literal('delivery'),
      at: DateTime,
      messageId: Type.String({ format: 'uuid', description: 'The Sent copy.' }),
      conversationId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
      subject: Type.Union([Type.String(), Type.Null()]),
      recipients: Type.Array(
        Type.Object(
          {
            address: Type.String(),
            status: Type.String({ description: 'RFC 3463 enhanced status (5.1.1: no such mailbox).' }),
            diagnostic: Type.String({ description: 'What happened, one line (the remote server’s reply).' }),
          },
          { additionalProperties: false },
        ),
      ),
      dismissed: Type.Boolean(),
    },
    { additionalProperties: false },
  ),
]);

const toDto = (n: Notice) => ({ ...n, at: n.at === null ? null : n.at.toISOString() });

/** `GET /api/v1/notices` and dismissing one: the instance's standing and the user's failed deliveries. */
export const noticeRoutes: FastifyPluginAsync<{ notices: NoticeService }> = async (app, { notices }) => {
  app.get(
    '/api/v1/notices',
    {
      config: { access: 'user' },
      schema: {
        tags: ['notices'],
        summary:
          "What you should know that is not a message: this instance's standing at the registry when federation stopped or resumed, and your sent messages that could not be delivered (which recipient, why). Newest first; dismissed ones are flagged.",
        response: { 200: Type.Object({ items: Type.Array(NoticeDto) }), ...problemResponses(401) },
      },
    },
    async (request) => ({ items: (await notices.list(principalOf(request).account.id)).map(toDto) }),
  );

  app.post(
    '/api/v1/notices/:id/dismiss',
    {
      config: { access: 'user' },
      schema: {
        tags: ['notices'],
        summary: 'Dismiss a notice (it stays dismissed).',
        params: Type.Object(
          { id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }) },
          { additionalProperties: false },
        ),
        response: { 204: NoContent, ...problemResponses(400, 401, 404) },
      },
    },
    async (request, reply) => {
      await notices.dismiss(principalOf(request).account.id, (request.params as { id: string }).id);
      return reply.code(204).send();
    },
  );
};
