import { Type, type Static, type TSchema } from 'typebox';
import type { RemoteIdentity, SyncStatus } from './remote-identity.entity.ts';

const DateTime = Type.String({ format: 'date-time' });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const ImapTlsSchema = Type.Union([Type.Literal('implicit'), Type.Literal('starttls'), Type.Literal('none')], {
  description:
    '`implicit`: TLS from the first byte (IMAPS, port 993); `starttls`: plain connection upgraded with STARTTLS (port 143), refused if the server does not offer it; `none`: no encryption (the password crosses the network in clear).',
});

/** A host name (letters, digits, dots, dashes) or an IP literal (IPv6 in brackets or bare). */
export const Host = Type.String({
  minLength: 1,
  maxLength: 253,
  pattern:
    '^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\\.?|\\[?[0-9A-Fa-f:.]+\\]?)$',
});

export const CreateIdentityBody = Type.Object(
  {
    kind: Type.Literal('imap'),
    host: Host,
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    tls: ImapTlsSchema,
    username: Type.String({ minLength: 1, maxLength: 320, pattern: '^[^\\r\\n\\u0000]+$' }),
    password: Type.String({ minLength: 1, maxLength: 1024, pattern: '^[^\\r\\n\\u0000]+$' }),
    label: Type.Optional(Type.String({ maxLength: 100 })),
  },
  { additionalProperties: false },
);

export const UpdateIdentityBody = Type.Object(
  {
    password: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1024,
        pattern: '^[^\\r\\n\\u0000]+$',
        description: 'the new password; the login is tried with it first',
      }),
    ),
    label: Type.Optional(Type.String({ maxLength: 100, description: 'empty: the default name' })),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const SyncStatusDto = Type.Object(
  {
    importId: Nullable(Type.String({ format: 'uuid' })),
    state: Type.Union([
      Type.Literal('idle'),
      Type.Literal('queued'),
      Type.Literal('running'),
      Type.Literal('completed'),
      Type.Literal('failed'),
    ]),
    trigger: Nullable(Type.Union([Type.Literal('manual'), Type.Literal('scheduled')])),
    queuedAt: Nullable(DateTime),
    startedAt: Nullable(DateTime),
    finishedAt: Nullable(DateTime),
    heartbeatAt: Nullable(DateTime),
    lastError: Nullable(Type.Object({ code: Type.String(), message: Type.String() })),
    folders: Type.Array(
      Type.Object({
        path: Type.String(),
        total: Nullable(Type.Integer({ description: 'messages this run looks at; null until the folder is opened' })),
        done: Type.Integer(),
        imported: Type.Integer({ description: 'new messages stored' }),
        skipped: Type.Integer({ description: 'messages over the size limit, left out' }),
        excluded: Nullable(
          Type.Union([Type.Literal('junk'), Type.Literal('trash')], {
            description:
              "not imported: the provider's junk folder or its trash (their mail stays there); null: imported",
          }),
        ),
      }),
    ),
    totals: Type.Object({
      total: Type.Integer(),
      done: Type.Integer(),
      imported: Type.Integer(),
      skipped: Type.Integer(),
    }),
    lastSuccessAt: Nullable(DateTime),
  },
  { additionalProperties: false },
);

export const IdentityDto = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    kind: Type.Literal('imap'),
    label: Type.String(),
    host: Type.String(),
    port: Type.Integer(),
    tls: ImapTlsSchema,
    username: Type.String(),
    createdAt: DateTime,
    sync: SyncStatusDto,
  },
  { additionalProperties: false, description: 'A remote mailbox. The password is never returned.' },
);

const iso = (d: Date | null) => (d === null ? null : d.toISOString());

export function toSyncStatusDto(s: SyncStatus): Static<typeof SyncStatusDto> {
  const sum = (k: 'done' | 'imported' | 'skipped') => s.folders.reduce((n, f) => n + f[k], 0);
  return {
    importId: s.importId,
    state: s.state,
    trigger: s.trigger,
    queuedAt: iso(s.queuedAt),
    startedAt: iso(s.startedAt),
    finishedAt: iso(s.finishedAt),
    heartbeatAt: iso(s.heartbeatAt),
    lastError: s.lastError,
    folders: s.folders.map((f) => ({
      path: f.path,
      total: f.total,
      done: f.done,
      imported: f.imported,
      skipped: f.skipped,
      excluded: f.excluded ?? null,
    })),
    totals: {
      total: s.folders.reduce((n, f) => n + (f.total ?? 0), 0),
      done: sum('done'),
      imported: sum('imported'),
      skipped: sum('skipped'),
    },
    lastSuccessAt: iso(s.lastSuccessAt),
  };
}

export function toIdentityDto(i: RemoteIdentity): Static<typeof IdentityDto> {
  return {
    id: i.id,
    kind: i.kind,
    label: i.label,
    host: i.host,
    port: i.port,
    tls: i.tls,
    username: i.username,
    createdAt: i.createdAt.toISOString(),
    sync: toSyncStatusDto(i.sync),
  };
}
