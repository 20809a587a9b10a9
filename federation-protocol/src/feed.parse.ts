import { isDomain } from './domain.ts';
import { decodeBase64, utf8Decode } from './encoding.ts';
import { fail, ok } from './errors.ts';
import type { Failure, Result } from './errors.ts';
import { FEED_VERSION, INSTANCE_STATUSES, MAX_PREVIOUS_SIGNING_KEYS } from './feed.types.ts';
import type {
  Feed,
  FeedDelta,
  FeedDeltaHead,
  FeedEndpoints,
  FeedHead,
  FeedInstance,
  InstanceStatus,
  RetiringKey,
} from './feed.types.ts';
import { MAX_JWS_LENGTH } from './jws.ts';
import { parseOkpPublicJwk } from './keys.ts';
import { parsePrivacyIndex } from './pi.types.ts';
import { COMPACT_JWS, isCount, isRecord, isText, isTimestamp, isToken, SHA256_HEX } from './validate.ts';

/**
 * Validation of feed documents from untrusted input: every member checked, unknown members dropped, entries
 * sorted by domain with one entry per domain (so a feed has one canonical form), bounded sizes.
 */

/** Validates an untrusted feed document (the body of an envelope, a cached copy); returns a clean copy. */
export function parseFeed(input: unknown): Result<Feed> {
  if (!isRecord(input)) return feedMalformed('the feed is not an object');
  const head = parseDocumentHead(input);
  if (typeof head === 'string') return feedMalformed(head);
  const instances = parseEntries(input['instances'], 'instances');
  if (typeof instances === 'string') return feedMalformed(instances);
  return ok({ version: FEED_VERSION, ...head, instances });
}

/** Validates an untrusted delta document; returns a clean copy. */
export function parseFeedDelta(input: unknown): Result<FeedDelta> {
  if (!isRecord(input)) return feedMalformed('the delta is not an object');
  const head = parseDeltaHead(input);
  if (typeof head === 'string') return feedMalformed(head);
  const changed = parseEntries(input['changed'], 'changed');
  if (typeof changed === 'string') return feedMalformed(changed);
  const removed = input['removed'];
  if (!Array.isArray(removed) || !removed.every(isDomain) || !isStrictlySorted(removed)) {
    return feedMalformed('removed is not a sorted list of distinct domains');
  }
  const changedDomains = new Set(changed.map((entry) => entry.domain));
  if (removed.some((domain) => changedDomains.has(domain)))
    return feedMalformed('a domain is both changed and removed');
  return ok({ ...head, changed, removed: [...removed] });
}

export function parseFeedHead(input: unknown): Result<FeedHead> {
  if (!isRecord(input)) return feedMalformed('the signed head is not an object');
  const head = parseDocumentHead(input);
  if (typeof head === 'string') return feedMalformed(`signed head: ${head}`);
  const { bodySha256 } = input;
  if (!isSha256Base64(bodySha256)) return feedMalformed('signed head: bodySha256 is not a base64 SHA-256');
  return ok({ version: FEED_VERSION, ...head, bodySha256 });
}

export function parseFeedDeltaHead(input: unknown): Result<FeedDeltaHead> {
  if (!isRecord(input)) return feedMalformed('the signed head is not an object');
  const head = parseDeltaHead(input);
  if (typeof head === 'string') return feedMalformed(`signed head: ${head}`);
  const { bodySha256 } = input;
  if (!isSha256Base64(bodySha256)) return feedMalformed('signed head: bodySha256 is not a base64 SHA-256');
  return ok({ ...head, bodySha256 });
}

type DocumentHead = Omit<Feed, 'version' | 'instances'>;

function parseDocumentHead(input: Record<string, unknown>): DocumentHead | string {
  const { version, serial, issuedAt, registry, checkpoint } = input;
  if (version !== FEED_VERSION) return `version is not ${FEED_VERSION}`;
  if (!isCount(serial)) return 'serial is not a non-negative integer';
  if (!isTimestamp(issuedAt)) return 'issuedAt is not integer seconds';
  if (!isToken(registry)) return 'registry is not a registry name';
  if (!isCompactJws(checkpoint)) return 'checkpoint is not a compact JWS';
  return { serial, issuedAt, registry, checkpoint };
}

function parseDeltaHead(input: Record<string, unknown>): Omit<FeedDelta, 'changed' | 'removed'> | string {
  const head = parseDocumentHead(input);
  if (typeof head === 'string') return head;
  const { fromSerial, resultSha256 } = input;
  if (!isCount(fromSerial) || fromSerial >= head.serial) return 'fromSerial is not an integer below serial';
  if (!isSha256Base64(resultSha256)) return 'resultSha256 is not a base64 SHA-256';
  return { version: FEED_VERSION, ...head, fromSerial, resultSha256 };
}

function parseEntries(input: unknown, name: string): FeedInstance[] | string {
  if (!Array.isArray(input)) return `${name} is not an array`;
  const entries: FeedInstance[] = [];
  for (let index = 0; index < input.length; index++) {
    const entry = parseFeedInstance(input[index]);
    if (typeof entry === 'string') return `${name}[${index}]: ${entry}`;
    const previous = entries[index - 1];
    if (previous !== undefined && previous.domain >= entry.domain) {
      return `${name}[${index}]: entries must be sorted by domain, one per domain`;
    }
    entries.push(entry);
  }
  return entries;
}

function parseFeedInstance(input: unknown): FeedInstance | string {
  if (!isRecord(input)) return 'not an object';
  const { domain, certFingerprint, labelId, labelExpiresAt, label, status, listed, logIndex } = input;
  if (!isDomain(domain)) return 'domain is not a normalised domain name';
  const endpoints = parseEndpoints(input['endpoints']);
  if (typeof endpoints === 'string') return endpoints;
  const keys = input['keys'];
  const signing = isRecord(keys) ? parseOkpPublicJwk(keys['signing'], 'Ed25519') : undefined;
  const encryption = isRecord(keys) ? parseOkpPublicJwk(keys['encryption'], 'X25519') : undefined;
  if (signing === undefined || encryption === undefined) {
    return 'keys needs a public Ed25519 signing JWK and a public X25519 encryption JWK';
  }
  const previousSigning = isRecord(keys) ? parsePreviousSigning(keys['previousSigning'], signing.x) : undefined;
  if (typeof previousSigning === 'string') return previousSigning;
  if (typeof certFingerprint !== 'string' || !SHA256_HEX.test(certFingerprint)) {
    return 'certFingerprint is not a lowercase hex SHA-256';
  }
  if (!isToken(labelId, 128)) return 'labelId is not a label id';
  if (!isTimestamp(labelExpiresAt)) return 'labelExpiresAt is not integer seconds';
  if (!isCompactJws(label)) return 'label is not a compact JWS';
  const pi = parsePrivacyIndex(input['pi']);
  if (!pi.ok) return `pi: ${pi.error.message}`;
  if (!INSTANCE_STATUSES.includes(status as InstanceStatus))
    return `status is not one of ${INSTANCE_STATUSES.join(', ')}`;
  if (typeof listed !== 'boolean') return 'listed is not a boolean';
  if (!isCount(logIndex)) return 'logIndex is not a non-negative integer';
  return {
    domain,
    endpoints,
    keys: previousSigning === undefined ? { signing, encryption } : { signing, encryption, previousSigning },
    certFingerprint,
    labelId,
    labelExpiresAt,
    label,
    pi: pi.value,
    status: status as InstanceStatus,
    listed,
    logIndex,
  };
}

/** Absent, or 1 to MAX_PREVIOUS_SIGNING_KEYS distinct keys other than the current one, each with its notAfter. */
function parsePreviousSigning(input: unknown, currentX: string): RetiringKey[] | undefined | string {
  if (input === undefined) return undefined;
  const problem = 'keys.previousSigning is not a list of { jwk, notAfter } (distinct keys, not the current one)';
  if (!Array.isArray(input) || input.length === 0 || input.length > MAX_PREVIOUS_SIGNING_KEYS) return problem;
  const keys: RetiringKey[] = [];
  for (const item of input) {
    const jwk = isRecord(item) ? parseOkpPublicJwk(item['jwk'], 'Ed25519') : undefined;
    const notAfter = isRecord(item) ? item['notAfter'] : undefined;
    if (jwk === undefined || !isTimestamp(notAfter) || jwk.x === currentX || keys.some((k) => k.jwk.x === jwk.x)) {
      return problem;
    }
    keys.push({ jwk, notAfter });
  }
  return keys;
}

const ENDPOINT_NAME = /^[a-z][a-zA-Z0-9_-]{0,31}$/;
const MAX_ENDPOINTS = 16;

function parseEndpoints(input: unknown): FeedEndpoints | string {
  if (!isRecord(input)) return 'endpoints is not an object';
  const names = Object.keys(input);
  if (names.length > MAX_ENDPOINTS) return `endpoints has more than ${MAX_ENDPOINTS} entries`;
  const endpoints: Record<string, string> = {};
  for (const name of names) {
    const url = input[name];
    if (!ENDPOINT_NAME.test(name) || !isEndpointUrl(url)) return `endpoints.${name} is not a named https URL`;
    endpoints[name] = url;
  }
  if (endpoints['federation'] === undefined) return 'endpoints.federation is missing';
  return endpoints as FeedEndpoints;
}

function isEndpointUrl(value: unknown): value is string {
  if (!isText(value, 2048) || !URL.canParse(value)) return false;
  const url = new URL(value);
  if (url.username !== '' || url.password !== '') return false;
  if (url.protocol === 'https:') return true;
  const host = url.hostname;
  return (
    url.protocol === 'http:' &&
    (host === 'localhost' || host.endsWith('.localhost') || host === '127.0.0.1' || host === '[::1]')
  );
}

function isSha256Base64(value: unknown): value is string {
  return typeof value === 'string' && decodeBase64(value)?.byteLength === 32;
}

function isCompactJws(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_JWS_LENGTH && COMPACT_JWS.test(value);
}

export function parseJsonBody<T>(body: Uint8Array, parse: (input: unknown) => Result<T>): Result<T> {
  const text = utf8Decode(body);
  if (text === undefined) return feedMalformed('the body is not UTF-8');
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch {
    return feedMalformed('the body is not JSON');
  }
  return parse(input);
}

/** The first head member (other than the digest) whose value differs in the body, if any. */
export function headMismatch(head: object, document: object): string | undefined {
  const signed = head as Readonly<Record<string, unknown>>;
  const received = document as Readonly<Record<string, unknown>>;
  return Object.keys(signed).find((member) => member !== 'bodySha256' && signed[member] !== received[member]);
}

export function byDomain(a: { readonly domain: string }, b: { readonly domain: string }): number {
  return a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : 0;
}

function isStrictlySorted(values: readonly string[]): boolean {
  return values.every((value, index) => index === 0 || (values[index - 1] as string) < value);
}

function feedMalformed(reason: string): Failure {
  return fail('feed_malformed', `Malformed feed: ${reason}.`);
}
