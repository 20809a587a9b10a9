import { Type, type Static } from 'typebox';
import type { PrivacyIndex } from '@caliopen/federation-protocol';
import type { StoredPi } from '../mail/message.entity.ts';

/** The PI as the API shows it in lists: score, level and the model that computed it. */
export const PiSummaryDto = Type.Object(
  {
    score: Type.Integer({ minimum: 0, maximum: 100 }),
    level: Type.String({ description: 'exposed, basic, guarded, protected, private or sealed.' }),
    modelVersion: Type.String(),
  },
  { additionalProperties: false },
);

export const PiFactorDto = Type.Object(
  {
    id: Type.String({ description: 'Stable dotted identifier, e.g. transport.tls, e2e.openpgp, cap.plaintext.' }),
    contribution: Type.Integer({
      description: 'Points it added (negative for caps); the contributions add up to the score.',
    }),
    evidence: Type.String({ description: 'The verified fact it rests on, in words.' }),
  },
  { additionalProperties: false },
);

export const PiSuggestionDto = Type.Object(
  {
    action: Type.String({
      description: 'Stable dotted identifier of the action, e.g. contact.add_public_key, account.enable_totp.',
    }),
    element: Type.String({ description: 'What it is about: account, contact:<id or address>, device:<id>.' }),
    gain: Type.Integer({ minimum: 1, description: 'Points the element would gain, as the model computes it.' }),
  },
  { additionalProperties: false },
);

/** The full PI: score, level, the factors that make it and the suggestions that would raise it. */
export const PiBreakdownDto = Type.Object(
  { ...PiSummaryDto.properties, factors: Type.Array(PiFactorDto), suggestions: Type.Array(PiSuggestionDto) },
  { additionalProperties: false },
);

export function toPiSummaryDto(pi: StoredPi | null): Static<typeof PiSummaryDto> | null {
  return pi === null ? null : { score: pi.score, level: pi.level, modelVersion: pi.modelVersion };
}

export function toPiBreakdownDto(pi: PrivacyIndex): Static<typeof PiBreakdownDto> {
  return {
    score: pi.score,
    level: pi.level,
    modelVersion: pi.modelVersion,
    factors: pi.factors.map((f) => ({ id: f.id, contribution: f.contribution, evidence: f.evidence })),
    suggestions: pi.suggestions.map((s) => ({ action: s.action, element: s.element, gain: s.gain })),
  };
}
