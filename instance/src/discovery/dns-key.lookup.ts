import {
  type DnsLookupError,
  type DnsLookupOptions,
  dnsQuery,
  OPENPGPKEY_TYPE,
} from '@caliopen/platform/dns/dns.resolver.ts';
import { normaliseDomain, openPgpKeyName, parseMailAddress } from './key-names.ts';

/**
 * Correspondents' keys (RFC 7929 OPENPGPKEY) and services' TLSA records, looked up through the configured resolvers
 * (`dns.resolvers`, else the system's first name server) with the platform's DNS stub resolver
 * (@caliopen/platform/dns/dns.resolver.ts: ids, retransmission, TCP fallback, reply checks). These lookups add what
 * discovery needs: address hashing, the lowercase fallback, bounds on key sizes and counts, record-data checks.
 * Nothing a server sends makes them throw: every failure is an error object in the result.
 *
 * DNSSEC: the stub does not validate. `dnssecValidated` is the AD bit of the answer, and only when `trustAd` is set
 * — i.e. the operator says the resolver validates and the path to it cannot be tampered with (a resolver on the same
 * host, or reached over a trusted network). Otherwise anyone on the path could set the bit, and it counts for nothing.
 */

export interface OpenPgpKeyLookup {
  /** The first key published (binary transferable public key), null when none. */
  key: Uint8Array | null;
  /** Every OPENPGPKEY record at the name (RFC 7929 allows several), in answer order. */
  keys: Uint8Array[];
  /** The answer came from a trusted resolver that set the AD bit. */
  dnssecValidated: boolean;
  /** The owner name asked (`<hash>._openpgpkey.<domain>`). */
  name: string | null;
  server: string | null;
  rcode: 'NOERROR' | 'NXDOMAIN' | null;
  /** How the answer came (TCP after a truncated UDP answer). */
  transport: 'udp' | 'tcp' | null;
  error: DnsLookupError | null;
}

export interface TlsaRecord {
  usage: number;
  selector: number;
  matchingType: number;
  /** Certificate association data, hex. */
  data: string;
}

export interface TlsaLookup {
  records: TlsaRecord[];
  dnssecValidated: boolean;
  name: string | null;
  server: string | null;
  rcode: 'NOERROR' | 'NXDOMAIN' | null;
  error: DnsLookupError | null;
}

const DEFAULT_MAX_KEY_BYTES = 64 * 1024;
const MAX_KEYS = 16;

/**
 * The OPENPGPKEY record(s) of `address` (RFC 7929). The local part is hashed as written; when that name does not
 * exist and the local part has capitals, the lowercase form is tried too (most providers' local parts are
 * case-insensitive, and publishers hash the lowercase form — this instance does).
 */
export async function lookupOpenPgpKey(
  address: string,
  options: DnsLookupOptions & { maxKeyBytes?: number } = {},
): Promise<OpenPgpKeyLookup> {
  const parsed = parseMailAddress(address);
  const none = { key: null, keys: [], dnssecValidated: false, transport: null };
  if (parsed === null) {
    return {
      ...none,
      name: null,
      server: null,
      rcode: null,
      error: { code: 'dns_invalid_query', message: `"${String(address).slice(0, 80)}" is not a mail address.` },
    };
  }
  const maxKeyBytes = options.maxKeyBytes ?? DEFAULT_MAX_KEY_BYTES;
  let name = openPgpKeyName(parsed.localPart, parsed.domain);
  let outcome = await dnsQuery(name, OPENPGPKEY_TYPE, options);
  const lower = parsed.localPart.toLowerCase();
  if (outcome.answer?.rcode === 'NXDOMAIN' && lower !== parsed.localPart) {
    name = openPgpKeyName(lower, parsed.domain);
    outcome = await dnsQuery(name, OPENPGPKEY_TYPE, options);
  }
  const { answer, server, error } = outcome;
  if (answer === null) return { ...none, name, server, rcode: null, error };
  const dnssecValidated = options.trustAd === true && answer.authenticatedData;
  const transport = answer.transport;
  const keys: Uint8Array[] = [];
  for (const record of answer.records.slice(0, MAX_KEYS)) {
    const data = (record as { data?: unknown }).data;
    if (!Buffer.isBuffer(data) || data.length === 0 || data.length > maxKeyBytes) {
      const size = Buffer.isBuffer(data) ? `${data.length} bytes` : 'no data';
      return {
        ...none,
        dnssecValidated,
        transport,
        name,
        server,
        rcode: answer.rcode,
        error: {
          code: 'dns_bad_record',
          message: `The OPENPGPKEY record of ${parsed.localPart}@${parsed.domain} from ${server} is unusable (${size}; at most ${maxKeyBytes}).`,
        },
      };
    }
    keys.push(new Uint8Array(data));
  }
  return { key: keys[0] ?? null, keys, dnssecValidated, name, server, rcode: answer.rcode, transport, error: null };
}

/** The TLSA records of a service: `_<port>._<protocol>.<host>` (RFC 6698 §3). */
export async function lookupTlsa(
  host: string,
  port: number,
  options: DnsLookupOptions & { protocol?: 'tcp' | 'udp' } = {},
): Promise<TlsaLookup> {
  const domain = normaliseDomain(host);
  if (domain === null || !Number.isInteger(port) || port < 1 || port > 65535) {
    return {
      records: [],
      dnssecValidated: false,
      name: null,
      server: null,
      rcode: null,
      error: { code: 'dns_invalid_query', message: `No TLSA name for ${String(host).slice(0, 80)} port ${port}.` },
    };
  }
  const name = `_${port}._${options.protocol ?? 'tcp'}.${domain}`;
  const { answer, server, error } = await dnsQuery(name, 'TLSA', options);
  if (answer === null) return { records: [], dnssecValidated: false, name, server, rcode: null, error };
  const dnssecValidated = options.trustAd === true && answer.authenticatedData;
  const records: TlsaRecord[] = [];
  for (const record of answer.records) {
    const data = (
      record as { data?: { usage?: unknown; selector?: unknown; matchingType?: unknown; certificate?: unknown } }
    ).data;
    if (
      typeof data?.usage !== 'number' ||
      typeof data.selector !== 'number' ||
      typeof data.matchingType !== 'number' ||
      !Buffer.isBuffer(data.certificate)
    ) {
      return {
        records: [],
        dnssecValidated,
        name,
        server,
        rcode: answer.rcode,
        error: { code: 'dns_bad_record', message: `A TLSA record of ${name} from ${server} is malformed.` },
      };
    }
    records.push({
      usage: data.usage,
      selector: data.selector,
      matchingType: data.matchingType,
      data: data.certificate.toString('hex'),
    });
  }
  return { records, dnssecValidated, name, server, rcode: answer.rcode, error: null };
}
