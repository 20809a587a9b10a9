import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from 'typebox';
import { principalOf } from '../api/access.ts';
import { problemResponses } from '../api/problem.ts';
import { PiBreakdownDto, toPiBreakdownDto } from '../pi-model/pi.dto.ts';
import type { RouteOption, RoutePreview, RoutePreviewService } from './route-preview.service.ts';

const RouteNames = Type.Enum(['federation', 'openpgp-email', 'local', 'tls-email', 'email', 'xmpp'], {
  description:
    'federation (labelled peer instance), openpgp-email (end-to-end encrypted), local (inside this instance), tls-email, email (plain), xmpp (a chat reply from your linked XMPP account to the contact’s JID: POST /api/v1/xmpp/messages; never `chosen`, which is what a composed mail would take).',
});

const RouteDto = Type.Object(
  {
    route: RouteNames,
    rank: Type.Integer({ description: 'Higher is more private; routes are listed highest first.' }),
    status: Type.Enum(['available', 'unavailable', 'unknown'], {
      description: '`unknown`: it may work, nothing tells yet (TLS with a domain never delivered to).',
    }),
    available: Type.Boolean(),
    reason: Type.String({ description: 'Why the route is (not) available, in words.' }),
    encrypted: Type.Boolean({ description: 'The content is encrypted end to end on this route.' }),
    key: Type.Union([
      Type.Object(
        {
          fingerprint: Type.String(),
          source: Type.Enum(['local', 'autocrypt', 'attached', 'wkd', 'dns', 'dnssec', 'federation'], {
            description: 'How the key is known (local: an account of this instance).',
          }),
          verified: Type.Boolean({ description: 'You compared its fingerprint.' }),
          armored: Type.String({
            description: 'The public key, armoured: what a client that encrypts on your device encrypts to.',
          }),
        },
        { additionalProperties: false },
      ),
      Type.Null(),
    ]),
    pi: PiBreakdownDto,
  },
  { additionalProperties: false },
);

const PreviewDto = Type.Object(
  {
    to: Type.String(),
    routes: Type.Array(RouteDto),
    chosen: Type.Union([RouteNames, Type.Null()], {
      description: 'The most private available route: what sending now would use.',
    }),
    encrypted: Type.Boolean({ description: 'Whether a message sent now would be encrypted end to end.' }),
  },
  { additionalProperties: false },
);

const PreviewQuery = Type.Object(
  { to: Type.String({ minLength: 3, maxLength: 320, description: 'The recipient address, local@domain.' }) },
  { additionalProperties: false },
);

function toRouteDto(r: RouteOption): Static<typeof RouteDto> {
  return {
    route: r.route,
    rank: r.rank,
    status: r.status,
    available: r.available,
    reason: r.reason,
    encrypted: r.encrypted,
    key: r.key,
    pi: toPiBreakdownDto(r.pi),
  };
}

function toPreviewDto(p: RoutePreview): Static<typeof PreviewDto> {
  return { to: p.to, routes: p.routes.map(toRouteDto), chosen: p.chosen, encrypted: p.encrypted };
}

/**
 * `GET /api/v1/routes?to=ADDRESS`: the routes to that recipient, most private first, whether each is available and
 * the Privacy Index a message sent that way would get, and the route sending now would take. Looking it up may query
 * the recipient's Web Key Directory and DNS for a key (cached), and files what it finds with the recipient's contact.
 * An address its member instance says it does not have (the recipient check, SPEC.md §12.1) is refused: 404
 * `recipient_unknown`, before anything is written.
 */
export const routePreviewRoutes: FastifyPluginAsync<{ routes: RoutePreviewService }> = async (app, { routes }) => {
  app.get(
    '/api/v1/routes',
    {
      config: { access: 'user' },
      schema: {
        tags: ['messages'],
        summary:
          'The routes to a recipient (OpenPGP email, TLS email, plain email...), the Privacy Index each gives, and the one sending would use.',
        querystring: PreviewQuery,
        response: { 200: PreviewDto, ...problemResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const { to } = request.query as Static<typeof PreviewQuery>;
      return toPreviewDto(await routes.preview(principalOf(request).account, to));
    },
  );
};
