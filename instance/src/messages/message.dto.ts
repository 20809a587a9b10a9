import { Type, type Static, type TSchema } from 'typebox';
import { MessageSummaryDto, toMessageSummaryDto } from '../conversations/message-summary.dto.ts';
export {
  AuthenticationFactsDto,
  MessageFactsDto,
  OpenPgpFactsDto,
  TransportFactsDto,
  toMessageFactsDto,
} from '../conversations/message-facts.dto.ts';
import { importanceSectionOf } from './importance.service.ts';
import type { Message } from '../mail/message.entity.ts';
import type { PrivacyIndex } from '@caliopen/federation-protocol';
import { PiBreakdownDto, toPiBreakdownDto } from '../pi-model/pi.dto.ts';
import { MessageFactsDto, toMessageFactsDto } from '../conversations/message-facts.dto.ts';
import type { MessageBody } from './message.service.ts';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const DateTime = Type.String({ format: 'date-time' });

export {
  ImportanceLevelDto,
  MessageSummaryDto,
  ParticipantDto,
  toMessageSummaryDto,
  toParticipantDto,
} from '../conversations/message-summary.dto.ts';

const DeliveryDto = Type.Object(
  {
    domain: Type.String(),
    via: Type.String({ description: 'federation, smtp or local' }),
    tls: Nullable(Type.Object({ version: Type.String(), cipher: Type.String() }, { additionalProperties: false })),
    peer: Nullable(Type.String({ description: 'host:port that accepted it.' })),
    at: DateTime,
    receipt: Nullable(
      Type.String({
        description:
          "Federation: the recipient instance's signed receipt (compact JWS), verified before it was recorded.",
      }),
    ),
  },
  { additionalProperties: false },
);

export const MessageDetailDto = Type.Object(
  {
    ...MessageSummaryDto.properties,
    pi: PiBreakdownDto,
    externalId: Nullable(Type.String({ description: 'The Message-ID header, as <id>.' })),
    importanceReasons: Type.Array(
      Type.Object({ id: Type.String(), evidence: Type.String() }, { additionalProperties: false }),
      {
        description: 'Why the message has its importance level (the signals that counted, your feedback included).',
      },
    ),
    facts: MessageFactsDto,
    deliveries: Type.Array(DeliveryDto, {
      description:
        'Sent copies: how each recipient domain was reached (empty until a delivery is recorded, and for received messages).',
    }),
    mime: Type.Object(
      {
        parsed: Type.Boolean({ description: 'false when the MIME structure could not be read in full.' }),
        problem: Nullable(Type.String()),
      },
      { additionalProperties: false },
    ),
    body: Type.Object(
      {
        text: Type.String({ description: 'Plain text (the text part, or the HTML part converted to text).' }),
        textTruncated: Type.Boolean(),
        hasHtml: Type.Boolean({ description: 'The message has an HTML part (the raw form holds it).' }),
      },
      { additionalProperties: false },
    ),
    attachments: Type.Array(
      Type.Object(
        { filename: Nullable(Type.String()), contentType: Type.String(), size: Type.Integer() },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const obj = (v: unknown): Record<string, unknown> | null =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;

export function toMessageDetailDto(m: Message, body: MessageBody, pi: PrivacyIndex): Static<typeof MessageDetailDto> {
  const mime = obj(m.facts.mime) ?? {};
  return {
    ...toMessageSummaryDto(m),
    pi: toPiBreakdownDto(pi),
    externalId: m.externalId,
    importanceReasons: importanceSectionOf(m.facts).reasons,
    facts: toMessageFactsDto(m.facts),
    deliveries: deliveriesDto(m.facts.delivery),
    mime: { parsed: mime.parsed !== false, problem: str(mime.problem) },
    body: { text: body.text, textTruncated: body.textTruncated, hasHtml: body.hasHtml },
    attachments: body.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, size: a.size })),
  };
}

function deliveriesDto(v: unknown): Static<typeof DeliveryDto>[] {
  if (!Array.isArray(v)) return [];
  return v.flatMap((entry) => {
    const o = obj(entry);
    const domain = str(o?.domain);
    const at = str(o?.at);
    if (o === null || domain === null || at === null) return [];
    const tls = obj(o.tls);
    const version = str(tls?.version);
    const cipher = str(tls?.cipher);
    return [
      {
        domain,
        via: str(o.via) ?? 'unknown',
        tls: version !== null && cipher !== null ? { version, cipher } : null,
        peer: str(o.peer),
        at,
        receipt: str(o.receipt),
      },
    ];
  });
}
