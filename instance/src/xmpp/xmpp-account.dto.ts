import { Type, type Static } from 'typebox';
import type { XmppAccount } from './xmpp-account.entity.ts';

/** A host name (letters, digits, dots, dashes) or an IP literal (IPv6 in brackets or bare). */
const Host = Type.String({
  minLength: 1,
  maxLength: 253,
  pattern:
    '^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\\.?|\\[?[0-9A-Fa-f:.]+\\]?)$',
});

export const LinkXmppBody = Type.Object(
  {
    jid: Type.String({
      minLength: 3,
      maxLength: 320,
      pattern: '^[^\\s\\u0000-\\u001f\\u007f]+$',
      description: 'local@domain',
    }),
    password: Type.String({ minLength: 1, maxLength: 1024, pattern: '^[^\\r\\n\\u0000]+$' }),
    host: Type.Optional(Host),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    label: Type.Optional(Type.String({ maxLength: 100 })),
  },
  {
    additionalProperties: false,
    description:
      'Without `host`, the instance connects to the JID’s domain on port 5222. STARTTLS is required and the certificate must be valid for the JID’s domain.',
  },
);

export const XmppAccountDto = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    jid: Type.String(),
    label: Type.String(),
    host: Type.Union([Type.String(), Type.Null()]),
    port: Type.Union([Type.Integer(), Type.Null()]),
    connected: Type.Boolean({ description: 'The instance’s session of this account is connected now.' }),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

export function toXmppAccountDto(l: XmppAccount, connected: boolean): Static<typeof XmppAccountDto> {
  return {
    id: l.id,
    jid: l.jid,
    label: l.label,
    host: l.host,
    port: l.port,
    connected,
    createdAt: l.createdAt.toISOString(),
  };
}

export const SendChatBody = Type.Object(
  {
    to: Type.Optional(Type.String({ minLength: 3, maxLength: 320, description: 'a bare JID' })),
    contactId: Type.Optional(Type.String({ format: 'uuid', description: 'one of your contacts: its XMPP address' })),
    text: Type.String({ minLength: 1, maxLength: 400_000 }),
    accountId: Type.Optional(
      Type.String({ format: 'uuid', description: 'which linked XMPP account sends it (default: the first connected)' }),
    ),
  },
  { additionalProperties: false, description: 'Either `to` or `contactId`.' },
);
