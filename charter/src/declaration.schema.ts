import { Type } from 'typebox';
import type { Static, TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { isDomain } from '@caliopen/federation-protocol';
import { charterVersions } from './charter.catalog.ts';
import { JURISDICTION_CODES } from './jurisdictions.data.ts';

/**
 * The charter declaration: what an instance states about its practices when it signs a charter version. The
 * registry receives it signed with the instance key; this module validates it. Every object refuses unknown fields,
 * every string and number is bounded, the domain must be a DNS name in its canonical spelling (lowercase, no
 * trailing dot: the declaration is signed, so it is checked as written, never rewritten), the jurisdiction an ISO
 * 3166-1 alpha-2 code of the association's table and the charter version a published one.
 */
export interface Declaration {
  charterVersion: string;
  domain: string;
  /** ISO 3166-1 alpha-2. */
  jurisdiction: string;
  retention: {
    /** null = kept until the user deletes them. */
    messagesDays: number | null;
    logsDays: number;
    backupsDays: number;
    deletedAccountDays: number;
  };
  logging: { ipAddresses: boolean; messageMetadata: boolean; retentionDays: number };
  /** What users may choose. */
  keyStorageOptions: ('client' | 'server')[];
  noResaleOfUserData: true | false;
  noProfilingOrAds: boolean;
  spamHandling: { contentScanning: 'none' | 'local' | 'third-party'; thirdParty?: string };
  adminContact: { name: string; email: string };
  incidentDisclosureDays: number;
  hostingProvider?: string;
  doesEmail: boolean;
}

export interface DeclarationError {
  /** JSON Pointer (RFC 6901) to the offending value; `''` is the declaration itself. */
  path: string;
  message: string;
}

export type ParseDeclarationResult = { ok: true; value: Declaration } | { ok: false; errors: DeclarationError[] };

/** Longest period, in days, any retention field may state (ten years); the charter's limits are far lower. */
export const MAX_DAYS = 3650;
export const MAX_TEXT = 200;
/** At most this many problems are reported for one declaration; the rest are counted. */
export const MAX_REPORTED_ERRORS = 25;

// A lowercase DNS name of at least two labels, each 1-63 LDH characters not starting or ending with a hyphen, the
// last starting with a letter (so no IP address passes), 253 characters at most.
const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const DOMAIN_PATTERN = `^(?=.{1,253}$)(?:${LABEL}\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$`;
const MIXED_LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const EMAIL_PATTERN = `^(?=[^@]{1,64}@)${ATOM}(?:\\.${ATOM})*@(?:${MIXED_LABEL}\\.)+[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`;
// Printable text on one line, no leading or trailing space, no bidirectional overrides (they disguise text in UIs).
const TEXT_PATTERN =
  '^[^\\s\\x00-\\x1F\\x7F\\u202A-\\u202E\\u2066-\\u2069](?:[^\\x00-\\x1F\\x7F\\u2028\\u2029\\u202A-\\u202E\\u2066-\\u2069]*[^\\s\\x00-\\x1F\\x7F\\u202A-\\u202E\\u2066-\\u2069])?$';

const Text = (description: string) =>
  Type.String({ minLength: 1, maxLength: MAX_TEXT, pattern: TEXT_PATTERN, description });
const Days = (description: string) => Type.Integer({ minimum: 0, maximum: MAX_DAYS, description });

const PUBLISHED_VERSIONS = charterVersions().map((v) => v.version);

const FIELDS = {
  charterVersion: Type.Enum(PUBLISHED_VERSIONS, {
    description: 'The charter version the instance signs (MAJOR.MINOR).',
  }),
  domain: Type.String({
    minLength: 3,
    maxLength: 253,
    pattern: DOMAIN_PATTERN,
    description: "The instance's domain: lowercase, no trailing dot.",
  }),
  jurisdiction: Type.Enum([...JURISDICTION_CODES], {
    description:
      "ISO 3166-1 alpha-2 code of the country whose law the instance operates under (the association's jurisdiction table).",
  }),
  retention: Type.Object(
    {
      messagesDays: Type.Union([Type.Integer({ minimum: 1, maximum: MAX_DAYS }), Type.Null()], {
        description: 'Days after which messages are deleted, or null: kept until the user deletes them.',
      }),
      logsDays: Days('Days operational logs are kept (charter C3: at most 365).'),
      backupsDays: Days('Days a backup is kept before it is destroyed (charter C3: at most 180).'),
      deletedAccountDays: Days(
        "Days within which a deleted account's data is erased, outside backups (charter C3: at most 90).",
      ),
    },
    { additionalProperties: false },
  ),
  logging: Type.Object(
    {
      ipAddresses: Type.Boolean({ description: "Whether logs hold users' IP addresses." }),
      messageMetadata: Type.Boolean({
        description: 'Whether logs hold message metadata (senders, recipients, dates, subjects).',
      }),
      retentionDays: Days(
        'Days log entries holding IP addresses or metadata are kept; never more than retention.logsDays.',
      ),
    },
    { additionalProperties: false },
  ),
  keyStorageOptions: Type.Array(Type.Enum(['client', 'server'] as const), {
    minItems: 1,
    maxItems: 2,
    uniqueItems: true,
    description:
      "Where users may choose to keep their private keys: 'client' (their devices), 'server' (sealed on the instance).",
  }),
  noResaleOfUserData: Type.Boolean({ description: 'Charter C1: user data is never sold or exploited.' }),
  noProfilingOrAds: Type.Boolean({ description: 'Charter C2: no profiling, no advertising built on user data.' }),
  spamHandling: Type.Object(
    {
      contentScanning: Type.Enum(['none', 'local', 'third-party'] as const, {
        description:
          "How mail content is scanned for spam: not at all, on the instance's own servers, or by a third party.",
      }),
      thirdParty: Type.Optional(
        Text('The third-party filtering service, required when contentScanning is third-party.'),
      ),
    },
    { additionalProperties: false },
  ),
  adminContact: Type.Object(
    {
      name: Text('Who answers for the instance (a person or a team).'),
      email: Type.String({ minLength: 3, maxLength: 254, pattern: EMAIL_PATTERN, description: 'Where to reach them.' }),
    },
    { additionalProperties: false },
  ),
  incidentDisclosureDays: Type.Integer({
    minimum: 0,
    maximum: 365,
    description: 'Days within which incidents are disclosed (charter C9: at most 30).',
  }),
  hostingProvider: Type.Optional(Text('Who runs the servers, when it is not the instance itself.')),
  doesEmail: Type.Boolean({
    description: 'Whether the instance sends and receives Internet email (then its email DNS records are checked).',
  }),
};

/** JSON Schema (TypeBox) of a declaration. */
export const DeclarationSchema = Type.Object(FIELDS, {
  additionalProperties: false,
  $id: 'https://caliopen.org/schemas/charter-declaration.json',
  title: 'Caliopen charter declaration',
});

// Compile-time guard: what the schema accepts is a Declaration.
type SchemaStatic = Static<typeof DeclarationSchema>;
const _schemaMatchesInterface = (value: SchemaStatic): Omit<Declaration, 'charterVersion' | 'jurisdiction'> => value;
void _schemaMatchesInterface;

type FieldName = keyof typeof FIELDS;
const FIELD_NAMES = Object.keys(FIELDS) as FieldName[];
const REQUIRED = new Set<string>(FIELD_NAMES.filter((k) => k !== 'hostingProvider'));

/** Messages for paths whose raw schema error would say little. */
const HINTS: Record<string, string> = {
  '/charterVersion': `must be a published charter version (${PUBLISHED_VERSIONS.join(', ')})`,
  '/domain':
    "must be the instance's domain name as it is spelled in DNS: lowercase labels of letters, digits and hyphens separated by dots, " +
    'at least two labels, no trailing dot (internationalised names as xn-- A-labels), e.g. mail.example.org',
  '/retention/messagesDays': 'must be null (kept until the user deletes them) or a whole number of days from 1 to 3650',
  '/spamHandling/contentScanning': 'must be "none", "local" or "third-party"',
  '/adminContact/email': 'must be an email address (name@domain.example)',
  '/adminContact/name': 'must be printable text on one line, without leading or trailing spaces',
  '/spamHandling/thirdParty': 'must be printable text on one line, without leading or trailing spaces',
  '/hostingProvider': 'must be printable text on one line, without leading or trailing spaces',
};

const TYPE_NAMES: Record<string, string> = {
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  string: 'a string',
  object: 'an object',
  array: 'a list',
  null: 'null',
};

function pointerToken(key: string): string {
  const shown = key.length > 64 ? `${key.slice(0, 64)}…` : key;
  return shown.replace(/~/g, '~0').replace(/\//g, '~1');
}

function valueAt(root: unknown, pointer: string): unknown {
  let node = root;
  for (const token of pointer.split('/').slice(1)) {
    const key = token.replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function jurisdictionMessage(value: unknown): string {
  if (typeof value !== 'string') return 'must be an ISO 3166-1 alpha-2 country code, e.g. "FR"';
  const upper = value.trim().toUpperCase();
  if (upper !== value && JURISDICTION_CODES.includes(upper))
    return `must be written "${upper}" (uppercase ISO 3166-1 alpha-2)`;
  if (upper === 'UK') return 'is not an ISO 3166-1 code: the United Kingdom is "GB"';
  if (upper === 'EL') return 'is not an ISO 3166-1 code: Greece is "GR"';
  if (upper === 'EU') return 'must be one country, where the instance is operated: "EU" is not a country';
  const shown = value.length > 16 ? `${value.slice(0, 16)}…` : value;
  return `${JSON.stringify(shown)} is not an ISO 3166-1 alpha-2 code of the association's jurisdiction table`;
}

interface RawError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message: string;
}

/** Turns TypeBox's errors for one field into precise, readable ones. */
function translate(raw: RawError[], prefix: string, root: unknown): DeclarationError[] {
  const out: DeclarationError[] = [];
  const anyOfPaths = new Set(raw.filter((e) => e.keyword === 'anyOf').map((e) => prefix + e.instancePath));
  for (const e of raw) {
    const path = prefix + e.instancePath;
    if (e.keyword === 'boolean') continue; // the additionalProperties error below names the field
    if ([...anyOfPaths].some((p) => path === p || path.startsWith(`${p}/`)) && e.keyword !== 'anyOf') continue;
    switch (e.keyword) {
      case 'required':
        for (const name of (e.params.requiredProperties as string[] | undefined) ?? []) {
          out.push({ path: `${path}/${pointerToken(name)}`, message: 'is required' });
        }
        break;
      case 'additionalProperties':
        for (const name of (e.params.additionalProperties as string[] | undefined) ?? []) {
          out.push({ path: `${path}/${pointerToken(name)}`, message: 'is not a field of the declaration' });
        }
        break;
      case 'type':
        out.push({ path, message: `must be ${TYPE_NAMES[String(e.params.type)] ?? String(e.params.type)}` });
        break;
      case 'minimum':
        out.push({ path, message: `must be at least ${String(e.params.limit)}` });
        break;
      case 'maximum':
        out.push({ path, message: `must be at most ${String(e.params.limit)}` });
        break;
      case 'minLength':
        out.push({
          path,
          message:
            Number(e.params.limit) <= 1
              ? 'must not be empty'
              : `must have at least ${String(e.params.limit)} characters`,
        });
        break;
      case 'maxLength':
        out.push({ path, message: `must have at most ${String(e.params.limit)} characters` });
        break;
      case 'minItems':
        out.push({ path, message: `must list at least ${String(e.params.limit)} option(s)` });
        break;
      case 'maxItems':
        out.push({ path, message: `must list at most ${String(e.params.limit)} options` });
        break;
      case 'uniqueItems':
        out.push({ path, message: 'lists the same option twice' });
        break;
      case 'enum':
        if (path === '/jurisdiction') out.push({ path, message: jurisdictionMessage(valueAt(root, path)) });
        else if (HINTS[path]) out.push({ path, message: HINTS[path] });
        else {
          const allowed = (e.params.allowedValues as unknown[] | undefined) ?? [];
          out.push({ path, message: `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}` });
        }
        break;
      case 'pattern':
      case 'format':
      case 'anyOf':
        out.push({ path, message: HINTS[path] ?? 'has an invalid format' });
        break;
      default:
        out.push({ path, message: e.message });
    }
  }
  return out;
}

/** Coherence rules a schema cannot say: checked once the shape is right. */
function coherence(d: Declaration): DeclarationError[] {
  const errors: DeclarationError[] = [];
  if (!isDomain(d.domain)) errors.push({ path: '/domain', message: HINTS['/domain']! });
  if (d.logging.retentionDays > d.retention.logsDays) {
    errors.push({
      path: '/logging/retentionDays',
      message: `must not exceed retention.logsDays (${d.retention.logsDays}): log entries holding IP addresses or metadata are logs`,
    });
  }
  if (d.spamHandling.contentScanning === 'third-party' && d.spamHandling.thirdParty === undefined) {
    errors.push({
      path: '/spamHandling/thirdParty',
      message: 'is required when contentScanning is "third-party": name the service',
    });
  }
  if (d.spamHandling.contentScanning !== 'third-party' && d.spamHandling.thirdParty !== undefined) {
    errors.push({
      path: '/spamHandling/thirdParty',
      message: `must be absent when contentScanning is "${d.spamHandling.contentScanning}"`,
    });
  }
  return errors;
}

function capped(errors: DeclarationError[]): DeclarationError[] {
  const seen = new Set<string>();
  const unique = errors.filter((e) => {
    const key = `${e.path}\u0000${e.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  if (unique.length <= MAX_REPORTED_ERRORS) return unique;
  const shown = unique.slice(0, MAX_REPORTED_ERRORS);
  shown.push({ path: '', message: `and ${unique.length - MAX_REPORTED_ERRORS} more problem(s) not listed` });
  return shown;
}

/** A plain copy of the input as JSON sees it: no getters, prototypes or functions survive. */
function snapshot(input: unknown): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    const text = JSON.stringify(input);
    if (text === undefined) return { ok: false, message: 'must be a JSON object (the declaration)' };
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, message: 'is not JSON data (cyclic, too deep, or holding values JSON cannot carry)' };
  }
}

/**
 * Validates untrusted input as a declaration. Never throws. On success `value` is a fresh plain object holding only
 * the declaration's fields; on failure `errors` lists each problem with the JSON Pointer of the offending value
 * (at most MAX_REPORTED_ERRORS, then a count of the rest).
 */
export function parseDeclaration(input: unknown): ParseDeclarationResult {
  const copy = snapshot(input);
  if (!copy.ok) return { ok: false, errors: [{ path: '', message: copy.message }] };
  const root = copy.value;
  if (typeof root !== 'object' || root === null || Array.isArray(root)) {
    return { ok: false, errors: [{ path: '', message: 'must be a JSON object (the declaration)' }] };
  }
  const record = root as Record<string, unknown>;
  const errors: DeclarationError[] = [];
  for (const key of Object.keys(record)) {
    if (!Object.hasOwn(FIELDS, key))
      errors.push({ path: `/${pointerToken(key)}`, message: 'is not a field of the declaration' });
  }
  for (const name of FIELD_NAMES) {
    if (!Object.hasOwn(record, name)) {
      if (REQUIRED.has(name)) errors.push({ path: `/${name}`, message: 'is required' });
      continue;
    }
    const raw = Value.Errors(FIELDS[name] as TSchema, record[name]) as unknown as RawError[];
    errors.push(...translate(raw, `/${name}`, root));
  }
  if (errors.length > 0) return { ok: false, errors: capped(errors) };
  const value = record as unknown as Declaration;
  const incoherent = coherence(value);
  if (incoherent.length > 0) return { ok: false, errors: capped(incoherent) };
  return { ok: true, value: build(value) };
}

/** Rebuilds a validated declaration field by field, in a fixed order. */
function build(d: Declaration): Declaration {
  const out: Declaration = {
    charterVersion: d.charterVersion,
    domain: d.domain,
    jurisdiction: d.jurisdiction,
    retention: {
      messagesDays: d.retention.messagesDays,
      logsDays: d.retention.logsDays,
      backupsDays: d.retention.backupsDays,
      deletedAccountDays: d.retention.deletedAccountDays,
    },
    logging: {
      ipAddresses: d.logging.ipAddresses,
      messageMetadata: d.logging.messageMetadata,
      retentionDays: d.logging.retentionDays,
    },
    keyStorageOptions: [...d.keyStorageOptions],
    noResaleOfUserData: d.noResaleOfUserData,
    noProfilingOrAds: d.noProfilingOrAds,
    spamHandling:
      d.spamHandling.thirdParty === undefined
        ? { contentScanning: d.spamHandling.contentScanning }
        : { contentScanning: d.spamHandling.contentScanning, thirdParty: d.spamHandling.thirdParty },
    adminContact: { name: d.adminContact.name, email: d.adminContact.email },
    incidentDisclosureDays: d.incidentDisclosureDays,
    doesEmail: d.doesEmail,
  };
  if (d.hostingProvider !== undefined) out.hostingProvider = d.hostingProvider;
  return out;
}
