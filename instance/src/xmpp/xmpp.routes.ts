import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from 'typebox';
import { principalOf } from '../api/access.ts';
import { problemResponses } from '../api/problem.ts';
import { IdParams } from '../api/schemas.ts';
import { MessageSummaryDto, toMessageSummaryDto } from '../conversations/message-summary.dto.ts';
import { LinkXmppBody, SendChatBody, toXmppAccountDto, XmppAccountDto } from './xmpp-account.dto.ts';
import type { XmppService } from './xmpp.service.ts';

/** A user's linked XMPP accounts (link: the login is tested first; list; unlink) and sending a chat message. */
export const xmppRoutes: FastifyPluginAsync<{ xmpp: XmppService }> = async (app, { xmpp }) => {
  app.post(
    '/api/v1/xmpp/accounts',
    {
      config: { access: 'user' },
      schema: {
        tags: ['xmpp'],
        summary:
          'Link an XMPP account: the instance logs in first (nothing is stored when it fails), then keeps a session open and files its chat in your conversations. The password is stored sealed and never returned.',
        body: LinkXmppBody,
        response: { 201: XmppAccountDto, ...problemResponses(400, 401, 409, 422, 502) },
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const link = await xmpp.link(p.account.id, request.body as Static<typeof LinkXmppBody>);
      return reply.code(201).send(toXmppAccountDto(link, xmpp.connected(link.id)));
    },
  );

  app.get(
    '/api/v1/xmpp/accounts',
    {
      config: { access: 'user' },
      schema: {
        tags: ['xmpp'],
        summary: 'Linked XMPP accounts, oldest first.',
        response: { 200: Type.Object({ items: Type.Array(XmppAccountDto) }), ...problemResponses(401) },
      },
    },
    async (request) => ({
      items: (await xmpp.list(principalOf(request).account.id)).map((l) => toXmppAccountDto(l, xmpp.connected(l.id))),
    }),
  );

  app.delete(
    '/api/v1/xmpp/accounts/:id',
    {
      config: { access: 'user' },
      schema: {
        tags: ['xmpp'],
        summary: 'Unlink an XMPP account (its credential is forgotten, its session closed). Chat already filed stays.',
        params: IdParams,
        response: { 200: XmppAccountDto, ...problemResponses(400, 401, 404) },
      },
    },
    async (request) =>
      toXmppAccountDto(
        await xmpp.unlink(principalOf(request).account.id, (request.params as { id: string }).id),
        false,
      ),
  );

  app.post(
    '/api/v1/xmpp/messages',
    {
      config: { access: 'user' },
      schema: {
        tags: ['xmpp'],
        summary:
          'Send a chat message over XMPP (to a JID or a contact’s XMPP address); filed in the conversation with that person once the server acknowledged it.',
        body: SendChatBody,
        response: { 201: MessageSummaryDto, ...problemResponses(400, 401, 404, 409, 422, 503) },
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const body = request.body as Static<typeof SendChatBody>;
      const message = await xmpp.send(p.account.id, {
        text: body.text,
        ...(body.to !== undefined ? { to: body.to } : {}),
        ...(body.contactId !== undefined ? { contactId: body.contactId } : {}),
        ...(body.accountId !== undefined ? { linkId: body.accountId } : {}),
      });
      return reply.code(201).send(toMessageSummaryDto(message));
    },
  );
};
