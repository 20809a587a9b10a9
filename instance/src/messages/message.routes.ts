import type { PiService } from '../privacy/pi.service.ts';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { principalOf } from '../api/access.ts';
import { problemResponses } from '../api/problem.ts';
import { IdParams } from '../api/schemas.ts';
import { SEARCH_MAX_TERMS } from '../search/search.query-parser.ts';
import { MAX_INGEST_TAGS } from './message-ingest.service.ts';
import { attachmentDisposition, safeAttachmentFilename, safeAttachmentType } from '../mail/attachment.download.ts';
import { MessageDetailDto, MessageSummaryDto, toMessageDetailDto, toMessageSummaryDto } from './message.dto.ts';
import type { MessagePatch, MessageService } from './message.service.ts';

const Tag = Type.String({ minLength: 1, maxLength: 64 });

/** Reading and changing one message, its raw form, and searching the mailbox. */
export const messageRoutes: FastifyPluginAsync<{ messages: MessageService; privacy: PiService }> = async (
  app,
  { messages, privacy },
) => {
  app.get(
    '/api/v1/messages/:id',
    {
      config: { access: 'user' },
      schema: {
        tags: ['messages'],
        summary:
          'A message: participants, flags, tags, body text, attachments, its transport, authentication and OpenPGP facts, and its Privacy Index with the full breakdown (factors and suggestions).',
        params: IdParams,
        response: { 200: MessageDetailDto, ...problemResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const m = await messages.get(principalOf(request).account.id, (request.params as { id: string }).id);
      return toMessageDetailDto(m, await messages.body(m), await privacy.messagePi(m));
    },
  );

  app.get(
    '/api/v1/messages/:id/raw',
    {
      config: { access: 'user' },
      schema: {
        tags: ['messages'],
        summary: 'The message exactly as received (message/rfc822).',
        params: IdParams,
        response: problemResponses(400, 401, 404),
      },
    },
    async (request, reply) => {
      const raw = await messages.raw(principalOf(request).account.id, (request.params as { id: string }).id);
      return reply.type('message/rfc822').header('content-disposition', 'attachment; filename="message.eml"').send(raw);
    },
  );

  app.get(
    '/api/v1/messages/:id/attachments/:index',
    {
      config: { access: 'user' },
      schema: {
        tags: ['messages'],
        summary:
          'One attachment of a message, decoded, as a download: `index` counts from 0 in the message’s `attachments`. Always `Content-Disposition: attachment` with a sanitised filename, served under `Content-Security-Policy: sandbox` and nosniff; types a browser could run (HTML, SVG, XML, JavaScript, PDF, unknown...) come as application/octet-stream.',
        params: Type.Object(
          {
            id: Type.String({ format: 'uuid' }),
            index: Type.Integer({ minimum: 0, maximum: 10_000 }),
          },
          { additionalProperties: false },
        ),
        response: problemResponses(400, 401, 404),
      },
    },
    async (request, reply) => {
      const { id, index } = request.params as { id: string; index: number };
      const a = await messages.attachment(principalOf(request).account.id, id, index);
      return reply
        .type(safeAttachmentType(a.contentType))
        .header('content-disposition', attachmentDisposition(safeAttachmentFilename(a.filename)))
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', "sandbox; default-src 'none'")
        .header('cache-control', 'private, no-store')
        .send(a.content);
    },
  );

  app.patch(
    '/api/v1/messages/:id',
    {
      config: { access: 'user' },
      schema: {
        tags: ['messages'],
        summary:
          'Mark read or unread, archive, set tags, soft-delete (`deleted: true`, purged after the retention period) or restore; mark important, junk or not junk (`importance`; junk and not junk also teach the spam filter when one is configured).',
        params: IdParams,
        body: Type.Object(
          {
            read: Type.Optional(Type.Boolean()),
            archived: Type.Optional(Type.Boolean()),
            tags: Type.Optional(Type.Array(Tag, { maxItems: MAX_INGEST_TAGS, description: 'Replaces the tags.' })),
            deleted: Type.Optional(Type.Boolean()),
            importance: Type.Optional(
              Type.Union([Type.Literal('important'), Type.Literal('junk'), Type.Literal('not-junk'), Type.Null()], {
                description:
                  'Your word on this message: `important` and `junk` override the computed importance (and move its discussion), `not-junk` makes it at least normal; null withdraws it. Junk and not junk are taught to the spam filter.',
              }),
            ),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: MessageSummaryDto, ...problemResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const m = await messages.update(
        principalOf(request).account.id,
        (request.params as { id: string }).id,
        request.body as MessagePatch,
      );
      return toMessageSummaryDto(m);
    },
  );

  app.delete(
    '/api/v1/messages/:id',
    {
      config: { access: 'user' },
      schema: {
        tags: ['messages'],
        summary: 'Purge a message for good (raw form and search entry included); its size is released from the quota.',
        params: IdParams,
        response: {
          200: Type.Object({
            id: Type.String({ format: 'uuid' }),
            purged: Type.Literal(true),
            releasedBytes: Type.Integer(),
          }),
          ...problemResponses(400, 401, 404),
        },
      },
    },
    async (request) => {
      const m = await messages.purge(principalOf(request).account.id, (request.params as { id: string }).id);
      return { id: m.id, purged: true as const, releasedBytes: m.sizeBytes };
    },
  );

  app.get(
    '/api/v1/search',
    {
      config: { access: 'user' },
      schema: {
        tags: ['messages'],
        summary: 'Search messages: free words and filters (from: to: subject: after: before: protocol: tag: pi>=).',
        querystring: Type.Object(
          {
            q: Type.String({
              minLength: 1,
              maxLength: 2000,
              description: `The search box text (at most ${SEARCH_MAX_TERMS} words or phrases).`,
            }),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
            offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000, default: 0 })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            total: Type.Integer({
              description: 'Matches in the index (deleted messages may still count until they are unindexed).',
            }),
            items: Type.Array(
              Type.Object(
                { score: Type.Number(), conversationId: Type.String({ format: 'uuid' }), message: MessageSummaryDto },
                { additionalProperties: false },
              ),
            ),
          }),
          ...problemResponses(400, 401),
        },
      },
    },
    async (request) => {
      const q = request.query as { q: string; limit: number; offset: number };
      const r = await messages.search(principalOf(request).account.id, q.q, { limit: q.limit, offset: q.offset });
      return {
        total: r.total,
        items: r.items.map((i) => ({
          score: i.score,
          conversationId: i.message.conversationId,
          message: toMessageSummaryDto(i.message),
        })),
      };
    },
  );
};
