import type { FastifyPluginAsync } from 'fastify';
import { decodeHTML } from 'entities';
import { simpleParser } from 'mailparser';
import { Type } from 'typebox';
import { principalOf } from '../api/access.ts';
import { problemResponses } from '../api/problem.ts';
import { IdParams } from '../api/schemas.ts';
import { AppError, isAppError } from '../shared/errors.ts';
import { PARSE_LIMITS } from '../mail/message.parser.ts';
import type { MessageService } from './message.service.ts';
import { fetchRemoteImage, parseRemoteImageUrl, type RemoteImageOptions } from './remote-image.fetcher.undici.ts';

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

const RemoteImageQuery = Type.Object(
  { url: Type.String({ minLength: 1, maxLength: 4096, description: 'The image URL, as it appears in the message.' }) },
  { additionalProperties: false },
);

/**
 * Whether `url` appears in the message's HTML (attribute values and style text as a browser reads them: entities
 * decoded). A protocol-relative URL in the mail (`//host/x`) is asked for with its scheme.
 */
export function urlAppearsIn(html: string, url: string): boolean {
  const decoded = decodeHTML(html);
  const candidates = [url];
  const relative = /^https?:(\/\/.*)$/i.exec(url);
  if (relative) candidates.push(relative[1]!);
  // A whole URL, not the start or the middle of a longer one: delimited as in an attribute, a srcset or a url().
  const edge = /[\s"'(),<>=]/;
  const whole = (text: string, c: string) => {
    for (let i = text.indexOf(c); i >= 0; i = text.indexOf(c, i + 1)) {
      const before = i === 0 ? ' ' : text[i - 1]!;
      const after = i + c.length >= text.length ? ' ' : text[i + c.length]!;
      if (edge.test(before) && edge.test(after)) return true;
    }
    return false;
  };
  return candidates.some((c) => whole(decoded, c) || whole(html, c));
}

/**
 * `GET /api/v1/messages/:id/html`: the HTML part of a message, for the web app to sanitise (DOMPurify) and show in a
 * sandboxed frame. Sent as JSON, never as text/html, so the instance's origin never renders mail HTML itself. A
 * message decrypted at arrival keeps its raw form encrypted: it answers null here and the app shows its text.
 */
export const messageHtmlRoutes: FastifyPluginAsync<{
  messages: MessageService;
  remoteImages: Omit<RemoteImageOptions, 'lookup'>;
}> = async (app, { messages, remoteImages }) => {
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

  /**
   * `GET /api/v1/messages/:id/remote-image?url=`: a remote image of one of the user's messages, fetched by the
   * instance (see remote-image.fetcher.undici.ts), so that the reader's address never reaches the sender and the
   * app's policy can keep images to its own origin. Only URLs that appear in that message's HTML are fetched; the
   * answer is sent as an inert image of the instance's origin (nosniff, no script, no framing).
   */
  app.get(
    '/api/v1/messages/:id/remote-image',
    {
      config: { access: 'user' },
      schema: {
        tags: ['messages'],
        summary: 'A remote image of a message, fetched by the instance on the reader’s behalf (raster images only).',
        params: IdParams,
        querystring: RemoteImageQuery,
        response: { ...problemResponses(400, 401, 403, 404, 502, 504) },
      },
    },
    async (request, reply) => {
      const accountId = principalOf(request).account.id;
      const id = (request.params as { id: string }).id;
      const { url } = request.query as { url: string };
      parseRemoteImageUrl(url);
      await messages.get(accountId, id);
      let raw: Buffer;
      try {
        raw = await messages.raw(accountId, id);
      } catch (e) {
        if (isAppError(e) && e.code === 'not_found')
          throw new AppError('remote_image_not_in_message', 'This message has no HTML readable here.');
        throw e;
      }
      const html = await htmlOf(raw);
      if (html === null || !urlAppearsIn(html, url))
        throw new AppError('remote_image_not_in_message', 'This URL does not appear in the message.');
      const image = await fetchRemoteImage(url, remoteImages);
      return reply
        .header('content-type', image.contentType)
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', "default-src 'none'; sandbox")
        .header('cross-origin-resource-policy', 'same-origin')
        .header('content-disposition', 'inline; filename="image"')
        .header('referrer-policy', 'no-referrer')
        .send(image.bytes);
    },
  );
};
