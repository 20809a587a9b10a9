import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from 'typebox';
import type { Contact } from '../contacts/contact.entity.ts';
import { normaliseEmailAddress } from '../mail/address.normalise.ts';
import type { ContactService } from '../contacts/contact.service.ts';
import { principalOf } from '../api/access.ts';
import { problemResponses } from '../api/problem.ts';
import { IdParams } from '../api/schemas.ts';
import { AppError } from '../shared/errors.ts';
import { KEY_SOURCES, type CorrespondentKey } from './public-key.entity.ts';
import { armorPublic } from './account-key.context.ts';
import { fingerprintWords, type CorrespondentKeyService } from './public-key.service.ts';

export const CorrespondentKeyDto = Type.Object(
  {
    fingerprint: Type.String({
      description: 'Primary key fingerprint, lowercase hex (40 characters for v4 keys, 64 for v6).',
    }),
    fingerprintGrouped: Type.String({
      description: 'The fingerprint to read aloud and compare: uppercase groups of four.',
    }),
    address: Type.String({ description: 'The email address the key is for.' }),
    source: Type.Enum([...KEY_SOURCES], {
      description: 'Where the key came from (autocrypt, attached, wkd, dns, dnssec, federation).',
    }),
    status: Type.Enum(['active', 'superseded', 'conflict', 'rejected'], {
      description:
        '`conflict`: a different key than the pinned one was seen (trust on first use alert); not used until you decide.',
    }),
    verified: Type.Boolean({ description: 'You compared the fingerprint with its owner.' }),
    verifiedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    createdAt: Type.String({ format: 'date-time', description: 'When the key was made.' }),
    expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    algorithm: Type.String(),
    version: Type.Integer(),
    firstSeenAt: Type.String({ format: 'date-time' }),
    lastSeenAt: Type.String({ format: 'date-time' }),
    armored: Type.String({
      description:
        'The public key, armoured: what a client that keeps its private key verifies signatures with. Empty for a key known only by its fingerprint (source `signature`).',
    }),
  },
  { additionalProperties: false },
);

export function toCorrespondentKeyDto(k: CorrespondentKey): Static<typeof CorrespondentKeyDto> {
  return {
    fingerprint: k.fingerprint,
    fingerprintGrouped: fingerprintWords(k.fingerprint),
    address: k.address,
    source: k.source,
    status: k.status,
    verified: k.verifiedAt !== null,
    verifiedAt: k.verifiedAt?.toISOString() ?? null,
    createdAt: k.keyCreatedAt.toISOString(),
    expiresAt: k.keyExpiresAt?.toISOString() ?? null,
    algorithm: k.algorithm,
    version: k.version,
    firstSeenAt: k.firstSeenAt.toISOString(),
    lastSeenAt: k.lastSeenAt.toISOString(),
    armored: k.publicKey.length === 0 ? '' : armorPublic(k.publicKey),
  };
}

const KeyList = Type.Object({ items: Type.Array(CorrespondentKeyDto) }, { additionalProperties: false });

const KeyParams = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    fingerprint: Type.String({
      pattern: '^(?:[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})$',
      description: 'The key’s fingerprint, hex.',
    }),
  },
  { additionalProperties: false },
);

/** Armour of a 64 KiB key is about 90 KiB: room above the key limit so that oversize keys get key_too_large. */
const MAX_ARMORED = 256 * 1024;

const AddKeyBody = Type.Object(
  {
    address: Type.Optional(
      Type.String({
        minLength: 3,
        maxLength: 320,
        description: 'One of the contact’s email addresses; defaults to its only one.',
      }),
    ),
    armored: Type.String({
      minLength: 1,
      maxLength: MAX_ARMORED,
      description: 'The ASCII-armoured OpenPGP public key (-----BEGIN PGP PUBLIC KEY BLOCK-----).',
    }),
  },
  { additionalProperties: false },
);

const emailAddresses = (c: Contact) => c.identities.filter((i) => i.protocol === 'email').map((i) => i.address);

/** The contact's address the key is for: the one named (normalised), or the contact's only email address. */
function addressFor(contact: Contact, given: string | undefined): string {
  const addresses = emailAddresses(contact);
  if (given === undefined) {
    if (addresses.length === 1) return addresses[0]!;
    throw new AppError(
      'contact_address_unknown',
      addresses.length === 0
        ? 'This contact has no email address.'
        : 'This contact has several email addresses: say which one the key is for (`address`).',
    );
  }
  const normalised = normaliseEmailAddress(given);
  if (normalised === null || !addresses.includes(normalised))
    throw new AppError('contact_address_unknown', 'This address is not one of the contact’s email addresses.');
  return normalised;
}

/** OpenPGP public keys of a contact: list, add (trust on first use), verify (fingerprints compared), reject. */
export const contactKeyRoutes: FastifyPluginAsync<{ contacts: ContactService; keys: CorrespondentKeyService }> = async (
  app,
  { contacts, keys },
) => {
  const listOf = async (contact: Contact) => ({
    items: (await keys.keysForContact(contact)).map(toCorrespondentKeyDto),
  });

  app.get(
    '/api/v1/contacts/:id/keys',
    {
      config: { access: 'user' },
      schema: {
        tags: ['contacts', 'keys'],
        summary: 'The OpenPGP public keys known for the contact’s email addresses, newest first.',
        params: IdParams,
        response: { 200: KeyList, ...problemResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const contact = await contacts.get(principalOf(request).account.id, (request.params as { id: string }).id);
      return listOf(contact);
    },
  );

  app.post(
    '/api/v1/contacts/:id/keys',
    {
      config: { access: 'user' },
      schema: {
        tags: ['contacts', 'keys'],
        summary:
          'Add a public key to the contact. The first key of an address is pinned; a different key later is kept as a conflict (an alert), unless added here: a key you add yourself becomes the active one. The key must carry the address in a valid user ID.',
        params: IdParams,
        body: AddKeyBody,
        response: {
          200: Type.Object(
            { key: CorrespondentKeyDto, outcome: Type.Literal('known') },
            { additionalProperties: false },
          ),
          201: Type.Object(
            { key: CorrespondentKeyDto, outcome: Type.Union([Type.Literal('new'), Type.Literal('conflict')]) },
            { additionalProperties: false },
          ),
          ...problemResponses(400, 401, 404, 422),
        },
      },
    },
    async (request, reply) => {
      const accountId = principalOf(request).account.id;
      const contact = await contacts.get(accountId, (request.params as { id: string }).id);
      const body = request.body as Static<typeof AddKeyBody>;
      const address = addressFor(contact, body.address);
      const { key, outcome } = await keys.addKey(accountId, address, body.armored, 'attached');
      return reply.code(outcome === 'known' ? 200 : 201).send({ key: toCorrespondentKeyDto(key), outcome });
    },
  );

  for (const action of ['verify', 'reject'] as const) {
    app.post(
      `/api/v1/contacts/:id/keys/:fingerprint/${action}`,
      {
        config: { access: 'user' },
        schema: {
          tags: ['contacts', 'keys'],
          summary:
            action === 'verify'
              ? 'You compared this fingerprint with the contact (in person, by phone): the key becomes the active, verified one; conflicting keys are rejected. Answers the contact’s keys.'
              : 'Refuse this key: it is never used. Answers the contact’s keys.',
          params: KeyParams,
          response: { 200: KeyList, ...problemResponses(400, 401, 404) },
        },
      },
      async (request) => {
        const accountId = principalOf(request).account.id;
        const params = request.params as Static<typeof KeyParams>;
        const contact = await contacts.get(accountId, params.id);
        const fingerprint = params.fingerprint.toLowerCase();
        const held = (await keys.keysForContact(contact)).filter((k) => k.fingerprint === fingerprint);
        if (held.length === 0) throw new AppError('not_found', 'This contact has no key with this fingerprint.');
        // The same key may serve several of the contact's addresses: the decision covers all of them.
        for (const k of held) {
          if (action === 'verify') await keys.verify(accountId, k.address, fingerprint);
          else await keys.reject(accountId, k.address, fingerprint);
        }
        return listOf(contact);
      },
    );
  }
};
