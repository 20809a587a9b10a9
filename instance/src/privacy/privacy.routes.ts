import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { principalOf } from '../api/access.ts';
import { problemResponses } from '../api/problem.ts';
import { PiBreakdownDto, PiSuggestionDto, toPiBreakdownDto } from '../pi-model/pi.dto.ts';
import { summaryOf, type PiService } from './pi.service.ts';

const RankedSuggestionDto = Type.Object(
  {
    ...PiSuggestionDto.properties,
    elementScore: Type.Integer({
      minimum: 0,
      maximum: 100,
      description: 'The current PI of the element the suggestion is about.',
    }),
  },
  { additionalProperties: false },
);

/**
 * `GET /api/v1/privacy`: the account's Privacy Index with its factors, and the ranked suggestions to raise it — the
 * account's own and those of its devices and contacts ("the gentle game" of seed 001: reward, never shame).
 */
export const privacyRoutes: FastifyPluginAsync<{ privacy: PiService }> = async (app, { privacy }) => {
  app.get(
    '/api/v1/privacy',
    {
      config: { access: 'user' },
      schema: {
        tags: ['privacy'],
        summary:
          "Your account's Privacy Index, what makes it, and the actions that would raise it (largest gain first).",
        response: {
          200: Type.Object(
            { account: PiBreakdownDto, suggestions: Type.Array(RankedSuggestionDto) },
            { additionalProperties: false },
          ),
          ...problemResponses(401),
        },
      },
    },
    async (request) => {
      const accountId = principalOf(request).account.id;
      const { account, suggestions } = await privacy.overview(accountId);
      await privacy.storeAccountPi(accountId, summaryOf(account));
      return { account: toPiBreakdownDto(account), suggestions };
    },
  );
};
