import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { principalOf } from '../api/access.ts';
import { problemResponses } from '../api/problem.ts';
import { AppError } from '../shared/errors.ts';
import { JOURNAL_ACTIONS, type JournalAction, type JournalEntry } from './journal.entity.ts';
import type { JournalQuery } from './journal.repository.ts';
import type { AdminJournalService } from './journal.service.ts';

const Actor = Type.Union([
  Type.Object(
    { kind: Type.Literal('admin'), accountId: Type.String(), username: Type.String() },
    { additionalProperties: false },
  ),
  Type.Object({ kind: Type.Literal('cli') }, { additionalProperties: false }),
]);

export const JournalEntryDto = Type.Object(
  {
    v: Type.Literal(1),
    seq: Type.Integer({ minimum: 1, description: 'Position in the journal (1, 2, 3...; never reused).' }),
    at: Type.String({ format: 'date-time' }),
    actor: Actor,
    action: Type.Union(JOURNAL_ACTIONS.map((a) => Type.Literal(a))),
    subject: Type.Union([
      Type.Object({ accountId: Type.String(), username: Type.String() }, { additionalProperties: false }),
      Type.Null(),
    ]),
    details: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()])),
    prevHash: Type.String({ description: 'SHA-256 (hex) of the entry before (64 zeros for the first).' }),
    hash: Type.String({ description: 'SHA-256 (hex) of this entry’s canonical JSON without `hash`.' }),
  },
  { additionalProperties: false },
);

const Page = Type.Object(
  { items: Type.Array(JournalEntryDto), next: Type.Union([Type.Integer(), Type.Null()]) },
  { additionalProperties: false },
);

const paging = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  before: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 2 ** 31 - 1,
      description: 'Continue below this seq (the previous page’s `next`).',
    }),
  ),
};

const AdminQuery = Type.Object(
  {
    ...paging,
    action: Type.Optional(Type.Union(JOURNAL_ACTIONS.map((a) => Type.Literal(a)))),
    actor: Type.Optional(Type.String({ format: 'uuid', description: 'The administrator’s account id.' })),
    subject: Type.Optional(Type.String({ format: 'uuid', description: 'The account the action concerns.' })),
    since: Type.Optional(Type.String({ format: 'date-time' })),
    until: Type.Optional(Type.String({ format: 'date-time' })),
    format: Type.Optional(
      Type.Union([Type.Literal('json'), Type.Literal('jsonl')], {
        description: 'jsonl: every matching entry (no paging), one JSON object a line, for auditors.',
      }),
    ),
  },
  { additionalProperties: false },
);

type AdminQueryT = {
  limit: number;
  before?: number;
  action?: JournalAction;
  actor?: string;
  subject?: string;
  since?: string;
  until?: string;
  format?: 'json' | 'jsonl';
};

function filtersOf(q: AdminQueryT): Omit<JournalQuery, 'limit'> {
  const since = q.since !== undefined ? new Date(q.since) : undefined;
  const until = q.until !== undefined ? new Date(q.until) : undefined;
  if (since && until && since.getTime() > until.getTime())
    throw new AppError('journal_filter_invalid', '`since` is after `until`.');
  return {
    ...(q.before !== undefined ? { beforeSeq: q.before } : {}),
    ...(q.action !== undefined ? { action: q.action } : {}),
    ...(q.actor !== undefined ? { actorId: q.actor } : {}),
    ...(q.subject !== undefined ? { subjectId: q.subject } : {}),
    ...(since ? { since } : {}),
    ...(until ? { until } : {}),
  };
}

/**
 * The admin actions journal: GET /api/v1/admin/journal (administrators: every entry, filters, paging, a JSON Lines
 * export, the chain's verification) and GET /api/v1/me/journal (a user: the entries about their own account). There
 * is no route to change or remove an entry.
 */
export const journalRoutes: FastifyPluginAsync<{ journal: AdminJournalService }> = async (app, { journal }) => {
  app.get(
    '/api/v1/admin/journal',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'The admin actions journal, newest first (format=jsonl: every matching entry as JSON Lines).',
        querystring: AdminQuery,
        response: { 200: Page, ...problemResponses(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const q = request.query as AdminQueryT;
      const filters = filtersOf(q);
      if (q.format === 'jsonl') {
        const { beforeSeq: _ignored, ...rest } = filters;
        const lines = async function* () {
          for await (const e of journal.all(rest)) yield `${JSON.stringify(e)}\n`;
        };
        reply.type('application/jsonl; charset=utf-8');
        reply.header('content-disposition', 'attachment; filename="admin-journal.jsonl"');
        return reply.send(Readable.from(lines()));
      }
      return journal.list({ limit: q.limit, ...filters });
    },
  );

  app.get(
    '/api/v1/admin/journal/verify',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Walks the whole journal and checks its hash chain (an edited, removed or reordered entry shows).',
        response: {
          200: Type.Object(
            {
              ok: Type.Boolean(),
              entries: Type.Integer({ description: 'Entries checked and found sound.' }),
              head: Type.Optional(Type.String({ description: 'Hash of the newest entry, to note down and compare.' })),
              seq: Type.Optional(Type.Integer({ description: 'The first entry that fails.' })),
              problem: Type.Optional(Type.String()),
            },
            { additionalProperties: false },
          ),
          ...problemResponses(401, 403),
        },
      },
    },
    async () => journal.verify(),
  );

  app.get(
    '/api/v1/me/journal',
    {
      config: { access: 'user' },
      schema: {
        tags: ['me'],
        summary: 'What the instance’s operators did to your account, newest first.',
        querystring: Type.Object(paging, { additionalProperties: false }),
        response: { 200: Page, ...problemResponses(400, 401) },
      },
    },
    async (request) => {
      const q = request.query as { limit: number; before?: number };
      const { account } = principalOf(request);
      const page = await journal.list({
        limit: q.limit,
        subjectId: account.id,
        ...(q.before !== undefined ? { beforeSeq: q.before } : {}),
      });
      return page satisfies { items: JournalEntry[] };
    },
  );
};
