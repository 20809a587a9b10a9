import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from 'typebox';
import { principalOf } from '../api/access.ts';
import { problemResponses } from '../api/problem.ts';
import { IdParams } from '../api/schemas.ts';
import { PiBreakdownDto, PiSummaryDto, toPiBreakdownDto, toPiSummaryDto } from '../pi-model/pi.dto.ts';
import type { PrivacyIndex } from '@caliopen/federation-protocol';
import type { Contact } from './contact.entity.ts';
import { MAX_IDENTITIES, MAX_NOTES, type ContactInput, type ContactService } from './contact.service.ts';
import { VCARD_LIMITS } from './contact.vcard.ts';

export const ContactDto = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    displayName: Type.String(),
    identities: Type.Array(
      Type.Object(
        { protocol: Type.String(), address: Type.String(), label: Type.Union([Type.String(), Type.Null()]) },
        { additionalProperties: false },
      ),
    ),
    notes: Type.String(),
    automatic: Type.Boolean({ description: 'Created from correspondence, not (yet) edited by the user.' }),
    pi: Type.Union([PiSummaryDto, Type.Null()], {
      description: "The contact's Privacy Index (null until first computed, moments after it appears).",
    }),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

export function toContactDto(c: Contact): Static<typeof ContactDto> {
  return {
    id: c.id,
    displayName: c.displayName,
    identities: c.identities.map((i) => ({ protocol: i.protocol, address: i.address, label: i.label })),
    notes: c.notes,
    automatic: c.automatic,
    pi: toPiSummaryDto(c.pi),
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
  };
}

const IdentityInputSchema = Type.Object(
  {
    protocol: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9-]{0,31}$', default: 'email' })),
    address: Type.String({ minLength: 1, maxLength: 320 }),
    label: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
  },
  { additionalProperties: false },
);

const contactFields = {
  displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  identities: Type.Optional(Type.Array(IdentityInputSchema, { maxItems: MAX_IDENTITIES })),
  notes: Type.Optional(Type.String({ maxLength: MAX_NOTES })),
};

const ImportReportDto = Type.Object({
  created: Type.Integer(),
  updated: Type.Integer(),
  skipped: Type.Array(
    Type.Object(
      { line: Type.Integer(), name: Type.Union([Type.String(), Type.Null()]), reason: Type.String() },
      { additionalProperties: false },
    ),
  ),
});

const VCARD_TYPES = ['text/vcard', 'text/x-vcard', 'text/directory'];

/** The address book: contacts with several identities, merge, vCard export and import. */
export const ContactDetailDto = Type.Object(
  { ...ContactDto.properties, pi: PiBreakdownDto },
  { additionalProperties: false },
);

/**
 * What these routes ask of the Privacy Index engine (privacy/pi.service.ts answers): a contact's PI, and its
 * recomputation when the contact changes. Named here so that contacts do not import the engine, which reads them.
 */
export interface ContactPrivacy {
  contactPi(contact: Contact): Promise<PrivacyIndex>;
  refreshContact(accountId: string, contactId: string): Promise<void>;
  enqueue(job: { kind: 'contact'; accountId: string; contactId: string }): Promise<void>;
}

export const contactRoutes: FastifyPluginAsync<{ contacts: ContactService; privacy: ContactPrivacy }> = async (
  app,
  { contacts, privacy },
) => {
  /** A contact's identities or standing changed: its PI now, its messages' and the account's through the queue. */
  const rescore = async (accountId: string, c: Contact): Promise<Contact> => {
    await privacy.refreshContact(accountId, c.id);
    await privacy.enqueue({ kind: 'contact', accountId, contactId: c.id });
    return (await contacts.get(accountId, c.id)) ?? c;
  };
  const params = (request: { params: unknown }) => (request.params as { id: string }).id;

  app.get(
    '/api/v1/contacts',
    {
      config: { access: 'user' },
      schema: {
        tags: ['contacts'],
        summary: 'Contacts by display name, paged.',
        querystring: Type.Object(
          {
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
            cursor: Type.Optional(
              Type.String({ minLength: 1, maxLength: 1200, description: 'The previous page’s `next`.' }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ items: Type.Array(ContactDto), next: Type.Union([Type.String(), Type.Null()]) }),
          ...problemResponses(400, 401),
        },
      },
    },
    async (request) => {
      const q = request.query as { limit: number; cursor?: string };
      const page = await contacts.list(principalOf(request).account.id, {
        limit: q.limit,
        ...(q.cursor ? { cursor: q.cursor } : {}),
      });
      return { items: page.items.map(toContactDto), next: page.next };
    },
  );

  app.post(
    '/api/v1/contacts',
    {
      config: { access: 'user' },
      schema: {
        tags: ['contacts'],
        summary: 'Create a contact (addresses are normalised; one already held by another contact is refused).',
        body: Type.Object(contactFields, { additionalProperties: false }),
        response: { 201: ContactDto, ...problemResponses(400, 401, 409) },
      },
    },
    async (request, reply) => {
      const accountId = principalOf(request).account.id;
      const c = await contacts.create(accountId, request.body as ContactInput);
      return reply.code(201).send(toContactDto(await rescore(accountId, c)));
    },
  );

  app.post(
    '/api/v1/contacts/merge',
    {
      config: { access: 'user' },
      schema: {
        tags: ['contacts'],
        summary:
          'Merge contacts into one: identities move to the target, the sources go, their discussions merge into the target’s.',
        body: Type.Object(
          {
            target: Type.String({ format: 'uuid' }),
            sources: Type.Array(Type.String({ format: 'uuid' }), { minItems: 1, maxItems: 50 }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            contact: ContactDto,
            conversationsMerged: Type.Integer({
              description: 'Discussions that involved a source and were re-keyed or merged.',
            }),
            messagesMoved: Type.Integer(),
          }),
          ...problemResponses(400, 401, 404, 409),
        },
      },
    },
    async (request) => {
      const { target, sources } = request.body as { target: string; sources: string[] };
      const r = await contacts.merge(principalOf(request).account.id, target, sources);
      return { contact: toContactDto(r.contact), conversationsMerged: r.conversations, messagesMoved: r.messagesMoved };
    },
  );

  app.get(
    '/api/v1/contacts/export.vcf',
    {
      config: { access: 'user' },
      schema: {
        tags: ['contacts'],
        summary: 'Every contact as a vCard 4.0 file (text/vcard).',
        response: problemResponses(401),
      },
    },
    async (request, reply) => {
      const text = await contacts.exportVcards(principalOf(request).account.id);
      return reply
        .type('text/vcard; charset=utf-8')
        .header('content-disposition', 'attachment; filename="contacts.vcf"')
        .send(text);
    },
  );

  // The import route reads text/vcard bodies: a parser registered in this context only, with its own size limit.
  await app.register(async (scoped) => {
    scoped.addContentTypeParser(
      VCARD_TYPES,
      { parseAs: 'string', bodyLimit: VCARD_LIMITS.bytes },
      (_request, body, done) => done(null, body),
    );
    scoped.post(
      '/api/v1/contacts/import',
      {
        config: { access: 'user' },
        bodyLimit: VCARD_LIMITS.bytes,
        schema: {
          tags: ['contacts'],
          summary: 'Import a vCard file (4.0, 3.0 or 2.1): send it as text/vcard (or as a JSON string).',
          body: Type.String({ minLength: 1, maxLength: VCARD_LIMITS.bytes }),
          response: { 200: ImportReportDto, ...problemResponses(400, 401, 413, 415) },
        },
      },
      async (request) => contacts.importVcards(principalOf(request).account.id, request.body as string),
    );
  });

  app.get(
    '/api/v1/contacts/:id',
    {
      config: { access: 'user' },
      schema: {
        tags: ['contacts'],
        summary:
          'A contact, with its Privacy Index in full: the factors (routes, keys and how they were verified) and the suggestions to raise it.',
        params: IdParams,
        response: { 200: ContactDetailDto, ...problemResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const c = await contacts.get(principalOf(request).account.id, params(request));
      return { ...toContactDto(c), pi: toPiBreakdownDto(await privacy.contactPi(c)) };
    },
  );

  app.patch(
    '/api/v1/contacts/:id',
    {
      config: { access: 'user' },
      schema: {
        tags: ['contacts'],
        summary: 'Change a contact; `identities` replaces the whole list.',
        params: IdParams,
        body: Type.Object(contactFields, { additionalProperties: false, minProperties: 1 }),
        response: { 200: ContactDto, ...problemResponses(400, 401, 404, 409) },
      },
    },
    async (request) => {
      const accountId = principalOf(request).account.id;
      return toContactDto(
        await rescore(accountId, await contacts.update(accountId, params(request), request.body as ContactInput)),
      );
    },
  );

  app.delete(
    '/api/v1/contacts/:id',
    {
      config: { access: 'user' },
      schema: {
        tags: ['contacts'],
        summary: 'Delete a contact (its discussions stay).',
        params: IdParams,
        response: { 200: ContactDto, ...problemResponses(400, 401, 404) },
      },
    },
    async (request) => toContactDto(await contacts.delete(principalOf(request).account.id, params(request))),
  );
};
