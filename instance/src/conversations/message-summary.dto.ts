import { Type, type Static, type TSchema } from 'typebox';
import { importanceLevelOf } from '../mail/importance.model.ts';
import type { Message, Participant } from '../mail/message.entity.ts';
import { PiSummaryDto, toPiSummaryDto } from '../pi-model/pi.dto.ts';

/**
 * A message as lists show it (a discussion's messages, search results). Here, below messages/, because the
 * conversation routes list messages too; messages/message.dto.ts re-exports it beside the detail (issue 11).
 */

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const DateTime = Type.String({ format: 'date-time' });
const iso = (d: Date | null) => (d === null ? null : d.toISOString());

export const ParticipantDto = Type.Object(
  {
    protocol: Type.String(),
    address: Type.String({ description: 'Normalised address ("" when the message had none that could be read).' }),
    name: Nullable(Type.String()),
    contactId: Nullable(
      Type.String({ description: 'The contact this address resolved to when the message was filed.' }),
    ),
  },
  { additionalProperties: false },
);

/** The importance level's name, from junk to important (mail/importance.model.ts). */
export const ImportanceLevelDto = Type.Union(
  [Type.Literal('junk'), Type.Literal('low'), Type.Literal('normal'), Type.Literal('high'), Type.Literal('important')],
  { description: 'How much it matters, from junk to important (separate from the Privacy Index).' },
);

export const MessageSummaryDto = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    conversationId: Type.String({ format: 'uuid' }),
    protocol: Type.String(),
    direction: Type.Union([Type.Literal('inbound'), Type.Literal('outbound')]),
    from: ParticipantDto,
    to: Type.Array(ParticipantDto),
    cc: Type.Array(ParticipantDto),
    subject: Type.String(),
    snippet: Type.String(),
    sentAt: Nullable(DateTime),
    receivedAt: DateTime,
    sizeBytes: Type.Integer(),
    threadKey: Type.String({
      description: 'Subject without Re:/Fwd: prefixes, case-folded: the per-subject thread it belongs to.',
    }),
    tags: Type.Array(Type.String()),
    read: Type.Boolean(),
    archived: Type.Boolean(),
    deletedAt: Nullable(DateTime),
    importance: ImportanceLevelDto,
    pi: Nullable(PiSummaryDto),
  },
  { additionalProperties: false },
);

export function toParticipantDto(p: Participant): Static<typeof ParticipantDto> {
  return { protocol: p.protocol, address: p.address, name: p.name, contactId: p.contactId };
}

export function toMessageSummaryDto(m: Message): Static<typeof MessageSummaryDto> {
  return {
    id: m.id,
    conversationId: m.conversationId,
    protocol: m.protocol,
    direction: m.direction,
    from: toParticipantDto(m.from),
    to: m.to.map(toParticipantDto),
    cc: m.cc.map(toParticipantDto),
    subject: m.subject,
    snippet: m.snippet,
    sentAt: iso(m.sentAt),
    receivedAt: m.receivedAt.toISOString(),
    sizeBytes: m.sizeBytes,
    threadKey: m.threadKey ?? '',
    tags: m.tags,
    read: m.read,
    archived: m.archived,
    deletedAt: iso(m.deletedAt),
    importance: importanceLevelOf(m.importance),
    pi: toPiSummaryDto(m.pi),
  };
}
