import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from 'typebox';
import { principalOf } from '../api/access.ts';
import { problemResponses } from '../api/problem.ts';
import { IdParams } from '../api/schemas.ts';
import { importanceLevelOf } from '../mail/importance.model.ts';
import { ImportanceLevelDto, MessageSummaryDto, toMessageSummaryDto } from './message-summary.dto.ts';
import { PiSummaryDto, toPiSummaryDto } from '../pi-model/pi.dto.ts';
import { MessageFactsDto, toMessageFactsDto } from './message-facts.dto.ts';
import type { Conversation } from './conversation.entity.ts';
import type { ConversationService, DiscussionSort, ThreadSummary } from './conversation.service.ts';

export const DiscussionDto = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    kind: Type.Union([Type.Literal('people'), Type.Literal('list')], {
      description: 'people: defined by who you talk with; list: a mailing list (List-Id).',
    }),
    title: Type.String(),
    participants: Type.Array(
      Type.Object(
        {
          contactId: Type.Union([Type.String(), Type.Null()]),
          address: Type.String(),
          name: Type.Union([Type.String(), Type.Null()]),
        },
        { additionalProperties: false },
      ),
      { description: 'The other participants (never the account itself); for a list, the list.' },
    ),
    lastMessageAt: Type.String({ format: 'date-time' }),
    messageCount: Type.Integer({ description: 'Messages not deleted.' }),
    unreadCount: Type.Integer(),
    importance: ImportanceLevelDto,
    pi: Type.Union([PiSummaryDto, Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
    senderFacts: Type.Optional(
      Type.Union([MessageFactsDto, Type.Null()], {
        description:
          'Only with `include=trust` on the list: the verified facts of the newest received message among the discussion’s 10 newest (null when there is none: only messages you sent). The app derives the correspondent’s trust level from them.',
      }),
    ),
  },
  { additionalProperties: false },
);

const ThreadDto = Type.Object(
  {
    threadKey: Type.String(),
    subject: Type.String(),
    messageCount: Type.Integer(),
    unreadCount: Type.Integer(),
    lastMessageAt: Type.String({ format: 'date-time' }),
    messageIds: Type.Array(Type.String({ format: 'uuid' }), { description: 'Newest first, at most 50.' }),
  },
  { additionalProperties: false },
);

export function toDiscussionDto(c: Conversation): Static<typeof DiscussionDto> {
  return {
    id: c.id,
    kind: c.kind,
    title: c.title,
    participants: c.participants.map((p) => ({ contactId: p.contactId, address: p.address, name: p.name })),
    lastMessageAt: c.lastMessageAt.toISOString(),
    messageCount: c.messageCount,
    unreadCount: c.unreadCount,
    importance: importanceLevelOf(c.importance),
    pi: toPiSummaryDto(c.pi),
    createdAt: c.createdAt.toISOString(),
  };
}

const toThreadDto = (t: ThreadSummary): Static<typeof ThreadDto> => ({
  ...t,
  lastMessageAt: t.lastMessageAt.toISOString(),
});

const Limit = Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 }));
const Cursor = Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'The previous page’s `next`.' }));
const PageOf = <T extends Parameters<typeof Type.Array>[0]>(item: T) =>
  Type.Object({ items: Type.Array(item), next: Type.Union([Type.String(), Type.Null()]) });

/**
 * Discussions (conversations defined by who you talk with) and their messages. The per-subject thread view is a
 * secondary view: `GET /api/v1/discussions/:id/threads` lists the threads, and `?thread=<threadKey>` on the
 * messages route narrows the messages to one of them.
 */
export const conversationRoutes: FastifyPluginAsync<{ conversations: ConversationService }> = async (
  app,
  { conversations },
) => {
  app.get(
    '/api/v1/discussions',
    {
      config: { access: 'user' },
      schema: {
        tags: ['discussions'],
        summary:
          'Discussions with at least one message, most recently active first, or most important first (`sort=importance`).',
        querystring: Type.Object(
          {
            limit: Limit,
            cursor: Cursor,
            include: Type.Optional(
              Type.Literal('trust', {
                description:
                  '`trust`: each discussion also carries `senderFacts`, what the correspondent’s trust level is derived from.',
              }),
            ),
            sort: Type.Optional(
              Type.Union([Type.Literal('date'), Type.Literal('importance')], {
                default: 'date',
                description:
                  '`date`: most recently active first. `importance`: most important first (the highest importance among each discussion’s 20 newest messages), then most recently active. A cursor works only with the sort that gave it.',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: PageOf(DiscussionDto), ...problemResponses(400, 401) },
      },
    },
    async (request) => {
      const q = request.query as { limit: number; cursor?: string; sort?: DiscussionSort; include?: 'trust' };
      const accountId = principalOf(request).account.id;
      const page = await conversations.list(accountId, {
        limit: q.limit,
        sort: q.sort ?? 'date',
        ...(q.cursor ? { cursor: q.cursor } : {}),
      });
      if (q.include !== 'trust') return { items: page.items.map(toDiscussionDto), next: page.next };
      const received = await conversations.latestReceived(accountId, page.items);
      return {
        items: page.items.map((c) => {
          const m = received.get(c.id) ?? null;
          return { ...toDiscussionDto(c), senderFacts: m === null ? null : toMessageFactsDto(m.facts) };
        }),
        next: page.next,
      };
    },
  );

  app.get(
    '/api/v1/discussions/:id',
    {
      config: { access: 'user' },
      schema: {
        tags: ['discussions'],
        params: IdParams,
        querystring: Type.Object(
          {
            include: Type.Optional(
              Type.Literal('trust', {
                description: '`trust`: the discussion also carries `senderFacts`, as in the list.',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: DiscussionDto, ...problemResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const accountId = principalOf(request).account.id;
      const c = await conversations.get(accountId, (request.params as { id: string }).id);
      if ((request.query as { include?: 'trust' }).include !== 'trust') return toDiscussionDto(c);
      const m = (await conversations.latestReceived(accountId, [c])).get(c.id) ?? null;
      return { ...toDiscussionDto(c), senderFacts: m === null ? null : toMessageFactsDto(m.facts) };
    },
  );

  app.get(
    '/api/v1/discussions/:id/messages',
    {
      config: { access: 'user' },
      schema: {
        tags: ['discussions'],
        summary: 'Messages of a discussion, newest first.',
        params: IdParams,
        querystring: Type.Object(
          {
            limit: Limit,
            cursor: Cursor,
            includeDeleted: Type.Optional(
              Type.Boolean({ default: false, description: 'Include soft-deleted messages (the trash).' }),
            ),
            thread: Type.Optional(
              Type.String({ maxLength: 200, description: 'Only the messages of this thread (a `threadKey`).' }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: PageOf(MessageSummaryDto), ...problemResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const q = request.query as { limit: number; cursor?: string; includeDeleted: boolean; thread?: string };
      const page = await conversations.listMessages(
        principalOf(request).account.id,
        (request.params as { id: string }).id,
        {
          limit: q.limit,
          includeDeleted: q.includeDeleted,
          ...(q.cursor ? { cursor: q.cursor } : {}),
          ...(q.thread !== undefined ? { thread: q.thread } : {}),
        },
      );
      return { items: page.items.map(toMessageSummaryDto), next: page.next };
    },
  );

  app.get(
    '/api/v1/discussions/:id/threads',
    {
      config: { access: 'user' },
      schema: {
        tags: ['discussions'],
        summary: 'The per-subject thread view of a discussion: its messages grouped by subject (Re:/Fwd: ignored).',
        params: IdParams,
        response: {
          200: Type.Object({
            items: Type.Array(ThreadDto),
            truncated: Type.Boolean({ description: 'true when only the newest 2000 messages were grouped.' }),
          }),
          ...problemResponses(400, 401, 404),
        },
      },
    },
    async (request) => {
      const r = await conversations.threads(principalOf(request).account.id, (request.params as { id: string }).id);
      return { items: r.items.map(toThreadDto), truncated: r.truncated };
    },
  );
};
