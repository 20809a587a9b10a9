import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { principalOf } from '../api/access.ts';
import { problemResponses } from '../api/problem.ts';
import type { ComposeInput, ComposeService } from './compose.service.ts';

const Recipient = Type.Object(
  {
    address: Type.Optional(Type.String({ minLength: 1, maxLength: 320, description: 'local@domain' })),
    name: Type.Optional(Type.String({ maxLength: 200, description: 'display name (no control characters)' })),
    contactId: Type.Optional(
      Type.String({ format: 'uuid', description: 'one of your contacts: its first email address is used' }),
    ),
  },
  { additionalProperties: false, description: 'Either `address` (with an optional `name`) or `contactId`.' },
);

/** The schema's bounds are generous; the instance's limits (recipients, attachment bytes) are checked in code. */
const Recipients = Type.Array(Recipient, { maxItems: 10_000 });

/** Attachments in one message, at most. */
export const MAX_ATTACHMENTS = 100;

const ComposeLimits = Type.Object(
  {
    maxAttachmentBytes: Type.Integer({ description: 'The attachments of one message together, decoded, at most.' }),
    maxAttachments: Type.Integer({ description: 'Attachments in one message, at most.' }),
  },
  { additionalProperties: false },
);

const ComposeBody = Type.Object(
  {
    from: Type.Optional(
      Type.String({
        minLength: 3,
        maxLength: 254,
        description:
          'Your address (default), or an imported address you may send as (PUT /api/v1/identities/{id}/send-as): the message is then relayed through that provider (no server-side OpenPGP, no federation route).',
      }),
    ),
    to: Type.Optional(Recipients),
    cc: Type.Optional(Recipients),
    bcc: Type.Optional(Recipients),
    subject: Type.Optional(Type.String({ maxLength: 998 })),
    text: Type.Optional(Type.String({ maxLength: 4 * 1024 * 1024 })),
    html: Type.Optional(Type.String({ maxLength: 8 * 1024 * 1024 })),
    attachments: Type.Optional(
      Type.Array(
        Type.Object(
          {
            filename: Type.String({ minLength: 1, maxLength: 255 }),
            contentType: Type.String({ minLength: 3, maxLength: 200 }),
            content: Type.String({ description: 'base64' }),
          },
          { additionalProperties: false },
        ),
        { maxItems: MAX_ATTACHMENTS },
      ),
    ),
    inReplyTo: Type.Optional(
      Type.String({ format: 'uuid', description: 'id of one of your messages this one answers' }),
    ),
    route: Type.Optional(
      Type.Union([Type.Literal('auto'), Type.Literal('email'), Type.Literal('federation')], {
        description:
          'How remote recipients are reached: `auto` (default) the most private route open for each (the federation to a labelled member instance, else email); `email` by email even where the federation is open; `federation` only over the federation (route_unavailable otherwise, naming who and why).',
      }),
    ),
    emailFallback: Type.Optional(
      Type.Boolean({
        description:
          'If the federation closes before the message is delivered over it (a label lapses), send it by email rather than return it to you. Default: the instance policy (off unless the operator set federation.emailFallback).',
      }),
    ),
    encryption: Type.Optional(
      Type.Enum(['auto', 'require', 'none'], {
        description:
          'End-to-end encryption (OpenPGP): `auto` (default) when every recipient’s key is known (or found by WKD/DNS) and you have a key; `require`: refuse (encryption_unavailable) otherwise; `none`: never.',
      }),
    ),
    sign: Type.Optional(
      Type.Boolean({ description: 'Sign with your OpenPGP key (default: when the server can use your key).' }),
    ),
    encrypted: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 12 * 1024 * 1024,
        description:
          'For a key kept on your device (client mode): the message already encrypted (and signed) there, one armoured OpenPGP message whose content is the MIME entity to deliver, protected headers inside. Sent as it is in a multipart/encrypted envelope (RFC 3156), the subject hidden ("..."); give no `text`, `html`, `attachments`, `sign` nor `encryption` with it. The instance cannot read it, nor tell whether it is signed (`signed` is then false).',
      }),
    ),
  },
  { additionalProperties: false },
);

const SendResponse = Type.Object({
  id: Type.String({ description: 'the stored Sent copy' }),
  conversationId: Type.String(),
  messageId: Type.String({ description: 'the Message-ID header' }),
  recipients: Type.Array(
    Type.Object({
      address: Type.String(),
      kind: Type.Union([Type.Literal('to'), Type.Literal('cc'), Type.Literal('bcc')]),
      route: Type.Union([Type.Literal('local'), Type.Literal('smtp'), Type.Literal('federation')]),
      status: Type.Union([Type.Literal('delivered'), Type.Literal('queued'), Type.Literal('failed')]),
      detail: Type.Optional(Type.String()),
      encrypted: Type.Boolean({ description: 'It went to this recipient encrypted end to end.' }),
    }),
  ),
  encrypted: Type.Boolean({ description: 'Encrypted end to end (OpenPGP, to every recipient’s key and yours).' }),
  signed: Type.Boolean({ description: 'Signed with your OpenPGP key.' }),
});

/**
 * `POST /api/v1/messages`: send a message. The JSON body may be as large as the attachment limit allows (base64
 * inflates by 4/3) plus room for the text and HTML bodies.
 */
export const composeRoutes: FastifyPluginAsync<{ compose: ComposeService; maxAttachmentBytes: number }> = async (
  app,
  { compose, maxAttachmentBytes },
) => {
  app.post(
    '/api/v1/messages',
    {
      config: { access: 'user' },
      bodyLimit: Math.ceil((maxAttachmentBytes * 4) / 3) + 13 * 1024 * 1024,
      schema: {
        tags: ['messages'],
        summary:
          'Send a message: signed with the instance DKIM key, stored in your Sent conversation, delivered locally or queued for SMTP.',
        body: ComposeBody,
        response: { 202: SendResponse, ...problemResponses(400, 401, 403, 404, 413, 422, 502, 507) },
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const result = await compose.send(p.account, request.body as ComposeInput);
      return reply.code(202).send(result);
    },
  );

  app.get(
    '/api/v1/messages/limits',
    {
      config: { access: 'user' },
      schema: {
        tags: ['messages'],
        summary:
          'What this instance accepts in one message you send (attachment bytes and count), for an app to refuse a file before sending it.',
        response: { 200: ComposeLimits, ...problemResponses(401) },
      },
    },
    async () => ({ maxAttachmentBytes, maxAttachments: MAX_ATTACHMENTS }),
  );
};
