import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from 'typebox';
import { principalOf } from '../api/access.ts';
import { problemResponses } from '../api/problem.ts';
import { CorrespondentKeyDto, toCorrespondentKeyDto } from './contact-key.routes.ts';
import type { KeyAlert, KeyAlertService } from './key-alert.service.ts';

const KeyAlertDto = Type.Object(
  {
    address: Type.String({ description: 'The email address two keys claim.' }),
    contact: Type.Union(
      [
        Type.Object(
          { id: Type.String({ format: 'uuid' }), displayName: Type.String() },
          { additionalProperties: false },
        ),
        Type.Null(),
      ],
      {
        description:
          'The contact holding the address (null when none does: add the address to a contact to resolve the alert).',
      },
    ),
    pinned: Type.Union([CorrespondentKeyDto, Type.Null()], {
      description:
        'The key pinned for the address on first use, still the one used; null when none is active any more.',
    }),
    // The different key that appeared (its source says where from): never used until you decide.
    conflicting: CorrespondentKeyDto,
    raisedAt: Type.String({
      format: 'date-time',
      description: 'When the different key (`conflicting`) was first seen.',
    }),
  },
  { additionalProperties: false },
);

const AlertsQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 600, description: 'The previous page’s `next`.' })),
  },
  { additionalProperties: false },
);

function toKeyAlertDto(a: KeyAlert): Static<typeof KeyAlertDto> {
  return {
    address: a.address,
    contact: a.contact === null ? null : { id: a.contact.id, displayName: a.contact.displayName },
    pinned: a.pinned === null ? null : toCorrespondentKeyDto(a.pinned),
    conflicting: toCorrespondentKeyDto(a.conflicting),
    raisedAt: a.conflicting.firstSeenAt.toISOString(),
  };
}

/** `GET /api/v1/keys/alerts`: the account's unresolved trust-on-first-use conflicts. */
export const keyAlertRoutes: FastifyPluginAsync<{ alerts: KeyAlertService }> = async (app, { alerts }) => {
  app.get(
    '/api/v1/keys/alerts',
    {
      config: { access: 'user' },
      schema: {
        tags: ['contacts', 'keys'],
        summary:
          'Key alerts, newest first: a correspondent’s address for which a different key appeared after one was pinned (trust on first use). Compare both fingerprints (fingerprintGrouped, read aloud) with the person, then POST /api/v1/contacts/:id/keys/:fingerprint/verify with the right one (the other is set aside), or …/reject the new one. Until then the new key is never used and the contact’s Privacy Index is capped (cap.key_conflict).',
        querystring: AlertsQuery,
        response: {
          200: Type.Object(
            {
              items: Type.Array(KeyAlertDto),
              next: Type.Union([Type.String(), Type.Null()], {
                description: 'Cursor of the next page, null on the last.',
              }),
            },
            { additionalProperties: false },
          ),
          ...problemResponses(400, 401),
        },
      },
    },
    async (request) => {
      const q = request.query as { limit: number; cursor?: string };
      const page = await alerts.list(principalOf(request).account.id, {
        limit: q.limit,
        ...(q.cursor ? { cursor: q.cursor } : {}),
      });
      return { items: page.items.map(toKeyAlertDto), next: page.next };
    },
  );
};
