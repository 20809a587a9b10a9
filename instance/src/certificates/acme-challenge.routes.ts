import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { AcmeChallengeBoard } from './acme-challenge.board.ts';

/** RFC 8555 §8.1: a token is base64url; anything else is not ours to look up. */
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

/**
 * `GET /.well-known/acme-challenge/<token>` on the HTTP port (RFC 8555 §8.3): the key authorization of an order in
 * progress, as text/plain; 404 for any other token. Public (the CA asks, unauthenticated) and tells nothing else.
 */
export const acmeChallengeRoutes: FastifyPluginAsync<{ board: AcmeChallengeBoard }> = async (app, { board }) => {
  app.get<{ Params: { token: string } }>(
    '/.well-known/acme-challenge/:token',
    {
      config: { access: 'public' },
      schema: {
        tags: ['operations'],
        summary: 'ACME HTTP-01 challenge answer (only while this instance orders its certificate).',
        params: Type.Object({ token: Type.String({ maxLength: 256 }) }),
      },
    },
    async (request, reply) => {
      const { token } = request.params;
      const answer = TOKEN.test(token) ? board.answer(token) : null;
      if (answer === null) return reply.code(404).type('text/plain').send('no such challenge\n');
      return reply.header('cache-control', 'no-store').type('text/plain').send(answer);
    },
  );
};
