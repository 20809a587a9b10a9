import type { FastifyPluginAsync } from 'fastify';
import { simpleParser } from 'mailparser';
import { Type } from 'typebox';
import { principalOf } from '../api/access.ts';
import { problemResponses } from '../api/problem.ts';
import { IdParams } from '../api/schemas.ts';
import { isAppError } from '../shared/errors.ts';
import { PARSE_LIMITS } from '../mail/message.parser.ts';
import type { MessageService } from './message.service.ts';

const HtmlBodyDto = Type.Object(
  {
    html: Type.Union([Type.String(), Type.Null()], {
      description:
        'The HTML part as the sender wrote it, unsanitised: a client must sanitise it and never render it in its own origin (null: none, or the message is encrypted end to end).',
    }),
    truncated: Type.Boolean({ description: 'Cut at the parser limit.' }),
  },
  { additionalProperties: false },
);

async function htmlOf(raw: Buffer): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const mail = await Promise.race([
      simpleParser(raw, { skipImageLinks: true, skipTextLinks: true, skipTextToHtml: true, skipHtmlToText: true }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('parse timeout')), PARSE_LIMITS.parseTimeoutMs);
      }),
    ]);
    return typeof mail.html === 'string' && mail.html !== '' ? mail.html : null;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `GET /api/v1/messages/:id/html`: the HTML part of a message, for the web app to sanitise (DOMPurify) and show in a
 * sandboxed frame. Sent as JSON, never as text/html, so the instance's origin never renders mail HTML itself. A
 * message decrypted at arrival keeps its raw form encrypted: it answers null here and the app shows its text.
 */
export const messageHtmlRoutes: FastifyPluginAsync<{ messages: MessageService }> = async (app, { messages }) => {
  app.get(
    '/api/v1/messages/:id/html',
    {
      config: { access: 'user' },
      schema: {
        tags: ['messages'],
        summary: 'The HTML part of a message (unsanitised, as JSON), for a client that sanitises and sandboxes it.',
        params: IdParams,
        response: { 200: HtmlBodyDto, ...problemResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const accountId = principalOf(request).account.id;
      const id = (request.params as { id: string }).id;
      await messages.get(accountId, id);
      let raw: Buffer;
      try {
        raw = await messages.raw(accountId, id);
      } catch (e) {
        if (isAppError(e) && e.code === 'not_found') return { html: null, truncated: false };
        throw e;
      }
      const html = await htmlOf(raw);
      if (html === null) return { html: null, truncated: false };
      const truncated = html.length > PARSE_LIMITS.htmlChars;
      return { html: truncated ? html.slice(0, PARSE_LIMITS.htmlChars) : html, truncated };
    },
  );
};
