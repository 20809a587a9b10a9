import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from 'typebox';
import { MIN_PASSWORD_LENGTH } from '@caliopen/platform/crypto/password.hasher.ts';
import type { Account } from '../accounts/account.entity.ts';
import { principalOf } from '../api/access.ts';
import { problemResponses } from '../api/problem.ts';
import { Password } from '../api/schemas.ts';
import { loadPublicKey } from '../openpgp/openpgp.keys.ts';
import { AppError } from '../shared/errors.ts';
import { ACCOUNT_KEY_STATUSES, type AccountKey } from './account-key.entity.ts';
import { MAX_PRIVATE_ARMOR_BYTES, MAX_REVOCATION_BYTES } from './account-key.private.ts';
import { armorPublic, type AccountKeyService } from './account-key.service.ts';
import { fingerprintWords } from './public-key.service.ts';

const MODES = ['none', 'server', 'client'] as const;

export const OwnKeyDto = Type.Object(
  {
    fingerprint: Type.String({
      description: 'Primary key fingerprint, lowercase hex (40 characters for v4 keys, 64 for v6).',
    }),
    fingerprintGrouped: Type.String({
      description: 'The fingerprint to read aloud to a correspondent who compares it: uppercase groups of four.',
    }),
    status: Type.Enum([...ACCOUNT_KEY_STATUSES], {
      description:
        '`active`: published and used; `retired`: replaced, kept to read old mail; `revoked`: revoked, never published again.',
    }),
    heldBy: Type.Enum(['server', 'client'], {
      description: 'Where the private key is: on the server (encrypted under your password) or only on your devices.',
    }),
    userIds: Type.Array(Type.String()),
    version: Type.Integer(),
    algorithm: Type.String(),
    createdAt: Type.String({ format: 'date-time', description: 'When the key was made.' }),
    expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    addedAt: Type.String({ format: 'date-time', description: 'When the key joined your account.' }),
    revocationHeld: Type.Boolean({
      description:
        'The instance holds a revocation certificate for the key (it can revoke it without the private key).',
    }),
    armored: Type.String({
      description: 'The public key, armoured (after a revocation, carrying it: give it to correspondents).',
    }),
  },
  { additionalProperties: false },
);

const KeysReply = Type.Object(
  {
    mode: Type.Enum([...MODES], {
      description: 'Where your private key lives: `none` (no key yet), `server`, `client` (your devices only).',
    }),
    unlocked: Type.Boolean({
      description:
        'Server mode: the server can use your private key now (a session of yours proved the password since the server started).',
    }),
    items: Type.Array(OwnKeyDto),
    address: Type.String({
      description:
        'Your address: a key made on your device (client mode) must carry it in a user ID for the instance to accept it.',
    }),
  },
  { additionalProperties: false },
);

const Armored = (max: number, description: string) => Type.String({ minLength: 1, maxLength: max, description });
/** The room above the key limits, so that oversize keys get key_too_large rather than a schema error. */
const MAX_PUBLIC_ARMOR = 256 * 1024;
const ExportPassphrase = Type.String({
  minLength: MIN_PASSWORD_LENGTH,
  maxLength: 1024,
  description: 'Protects the private key handed out (OpenPGP passphrase); default: your password.',
});

const AddKeyBody = Type.Object(
  {
    mode: Type.Enum(['server', 'client'], {
      description:
        '`server`: the server keeps the private key, encrypted under your password. `client`: it stays on your devices; send the public key only.',
    }),
    password: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1024,
        description: 'Server mode: your password (asked again; the key is encrypted under a key derived from it).',
      }),
    ),
    armoredPrivateKey: Type.Optional(
      Armored(
        MAX_PRIVATE_ARMOR_BYTES * 2,
        'Server mode, import: your existing private key, armoured. Without it, a new key is generated.',
      ),
    ),
    passphrase: Type.Optional(
      Type.String({ maxLength: 1024, description: 'The passphrase of `armoredPrivateKey`, when it has one.' }),
    ),
    armoredPublicKey: Type.Optional(
      Armored(MAX_PUBLIC_ARMOR, 'Client mode: the public key of the key made on your device, armoured.'),
    ),
    revocationCertificate: Type.Optional(
      Armored(
        MAX_REVOCATION_BYTES * 2,
        'Client mode: the key’s revocation certificate, so that the instance can revoke it for you.',
      ),
    ),
  },
  { additionalProperties: false },
);

const ModeBody = Type.Object(
  {
    mode: Type.Enum(['server', 'client']),
    password: Password,
    exportPassphrase: Type.Optional(ExportPassphrase),
    armoredPrivateKey: Type.Optional(
      Armored(MAX_PRIVATE_ARMOR_BYTES * 2, 'To `server`: your private key(s), armoured, the active one included.'),
    ),
    passphrase: Type.Optional(Type.String({ maxLength: 1024, description: 'The passphrase of `armoredPrivateKey`.' })),
  },
  { additionalProperties: false },
);

const ExportBody = Type.Object(
  { password: Password, exportPassphrase: Type.Optional(ExportPassphrase) },
  { additionalProperties: false },
);

const RevokeBody = Type.Object(
  {
    revocationCertificate: Type.Optional(
      Armored(
        MAX_REVOCATION_BYTES * 2,
        'A revocation certificate made where the private key is; needed when the instance holds none.',
      ),
    ),
  },
  { additionalProperties: false },
);

const FingerprintParams = Type.Object(
  {
    fingerprint: Type.String({
      pattern: '^(?:[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})$',
      description: 'The key’s fingerprint, hex.',
    }),
  },
  { additionalProperties: false },
);

async function toOwnKeyDto(k: AccountKey): Promise<Static<typeof OwnKeyDto>> {
  const key = await loadPublicKey(k.publicKey);
  return {
    fingerprint: k.fingerprint,
    fingerprintGrouped: fingerprintWords(k.fingerprint),
    status: k.status,
    heldBy: k.privateKey !== null ? 'server' : 'client',
    userIds: key?.getUserIDs() ?? [],
    version: k.version,
    algorithm: k.algorithm,
    createdAt: k.keyCreatedAt.toISOString(),
    expiresAt: k.keyExpiresAt?.toISOString() ?? null,
    addedAt: k.addedAt.toISOString(),
    revocationHeld: k.revocationCertificate !== null,
    armored: armorPublic(k.publicKey),
  };
}

/** Rate limit of the routes that check the password again (each check is an argon2id run). */
const PASSWORD_ROUTE_LIMIT = { max: 30, timeWindow: 60_000 };

/**
 * The account's own OpenPGP keys: list, generate or import (server mode) or register the public key of a key made on
 * the user's device (client mode), switch where the private key lives, export it, revoke a key.
 */
export const accountKeyRoutes: FastifyPluginAsync<{ keys: AccountKeyService }> = async (app, { keys }) => {
  const reply = async (account: Account) => ({
    mode: await keys.mode(account.id),
    unlocked: await keys.isUnlocked(account.id),
    items: await Promise.all((await keys.list(account.id)).map(toOwnKeyDto)),
    address: keys.addressOf(account),
  });

  app.get(
    '/api/v1/keys',
    {
      config: { access: 'user' },
      schema: {
        tags: ['keys'],
        summary:
          'Your OpenPGP keys (newest first), where the private key lives, and whether the server can use it now.',
        response: { 200: KeysReply, ...problemResponses(401) },
      },
    },
    async (request) => reply(principalOf(request).account),
  );

  app.post(
    '/api/v1/keys',
    {
      config: { access: 'user', rateLimit: PASSWORD_ROUTE_LIMIT },
      schema: {
        tags: ['keys'],
        summary:
          'Add your key. `server` mode (needs your password): generate a key (v4 Curve25519) or import `armoredPrivateKey`; the server keeps it encrypted under your password and can read your encrypted mail while you are signed in. `client` mode: send the public key of a key made on your device; the private key never reaches the server (a higher account PI). With a key already active, the new one replaces it (the old one is retired).',
        body: AddKeyBody,
        response: {
          201: Type.Object({ mode: Type.Enum([...MODES]), key: OwnKeyDto }, { additionalProperties: false }),
          ...problemResponses(400, 401, 409, 422, 429),
        },
      },
    },
    async (request, res) => {
      const { account, session } = principalOf(request);
      const body = request.body as Static<typeof AddKeyBody>;
      let key: AccountKey;
      if (body.mode === 'server') {
        if (body.armoredPublicKey !== undefined || body.revocationCertificate !== undefined) {
          throw new AppError(
            'key_request_invalid',
            'Server mode takes `password` (and `armoredPrivateKey` to import), not a public key.',
          );
        }
        const password = body.password ?? '';
        key =
          body.armoredPrivateKey === undefined
            ? await keys.generate(account.id, { mode: 'server', password, session })
            : await keys.import(account.id, body.armoredPrivateKey, body.passphrase, { password, session });
      } else {
        if (body.armoredPrivateKey !== undefined || body.password !== undefined || body.passphrase !== undefined) {
          throw new AppError(
            'key_request_invalid',
            'Client mode takes the public key only (`armoredPublicKey`): the private key and your password stay with you.',
          );
        }
        if (body.armoredPublicKey === undefined)
          throw new AppError(
            'key_request_invalid',
            'Client mode needs the public key of the key made on your device (`armoredPublicKey`).',
          );
        key = await keys.importPublic(
          account.id,
          body.armoredPublicKey,
          body.revocationCertificate !== undefined ? { revocationCertificate: body.revocationCertificate } : {},
        );
      }
      return res.code(201).send({ mode: await keys.mode(account.id), key: await toOwnKeyDto(key) });
    },
  );

  app.post(
    '/api/v1/keys/mode',
    {
      config: { access: 'user', rateLimit: PASSWORD_ROUTE_LIMIT },
      schema: {
        tags: ['keys'],
        summary:
          'Switch where your private key lives. To `client`: the answer carries your private key(s) once, armoured and protected by `exportPassphrase` (default: your password), and the server erases its copy. To `server`: upload your private key(s) (`armoredPrivateKey`, `passphrase`); the server keeps them encrypted under your password.',
        body: ModeBody,
        response: {
          200: Type.Object(
            {
              mode: Type.Enum([...MODES]),
              exported: Type.Union([Type.String(), Type.Null()], {
                description:
                  'To `client`: your private key(s), armoured and passphrase-protected. Keep them: the server no longer has them.',
              }),
              items: Type.Array(OwnKeyDto),
            },
            { additionalProperties: false },
          ),
          ...problemResponses(400, 401, 409, 422, 429),
        },
      },
    },
    async (request) => {
      const { account, session } = principalOf(request);
      const body = request.body as Static<typeof ModeBody>;
      const result = await keys.setMode(account.id, body.mode, {
        password: body.password,
        session,
        ...(body.exportPassphrase !== undefined ? { exportPassphrase: body.exportPassphrase } : {}),
        ...(body.armoredPrivateKey !== undefined ? { armoredPrivateKey: body.armoredPrivateKey } : {}),
        ...(body.passphrase !== undefined ? { passphrase: body.passphrase } : {}),
      });
      return { mode: result.mode, exported: result.exported, items: (await reply(account)).items };
    },
  );

  app.post(
    '/api/v1/keys/export',
    {
      config: { access: 'user', rateLimit: PASSWORD_ROUTE_LIMIT },
      schema: {
        tags: ['keys'],
        summary:
          'Server mode: your server-held private key(s), armoured and protected by `exportPassphrase` (default: your password), e.g. to set up a device before switching to client mode. Asks your password again (a POST: a stolen token alone gets no private key out). Nothing changes on the server.',
        body: ExportBody,
        response: {
          200: Type.Object(
            { armored: Type.String({ description: 'The private key(s), armoured, passphrase-protected.' }) },
            { additionalProperties: false },
          ),
          ...problemResponses(400, 401, 409, 429),
        },
      },
    },
    async (request) => {
      const { account } = principalOf(request);
      const body = request.body as Static<typeof ExportBody>;
      return {
        armored: await keys.export(account.id, {
          password: body.password,
          ...(body.exportPassphrase !== undefined ? { exportPassphrase: body.exportPassphrase } : {}),
        }),
      };
    },
  );

  app.post(
    '/api/v1/keys/:fingerprint/revoke',
    {
      config: { access: 'user' },
      schema: {
        tags: ['keys'],
        summary:
          'Revoke one of your keys (e.g. its private key leaked or a device was lost): the instance stops publishing it (DNS, WKD) and using it; its `armored` form then carries the revocation, to give to correspondents. Uses the revocation certificate the instance holds, or the one sent.',
        params: FingerprintParams,
        body: RevokeBody,
        response: { 200: KeysReply, ...problemResponses(400, 401, 404, 422) },
      },
    },
    async (request) => {
      const { account } = principalOf(request);
      const { fingerprint } = request.params as Static<typeof FingerprintParams>;
      const body = request.body as Static<typeof RevokeBody>;
      await keys.revoke(
        account.id,
        fingerprint,
        body.revocationCertificate !== undefined ? { revocationCertificate: body.revocationCertificate } : {},
      );
      return reply(account);
    },
  );
};
