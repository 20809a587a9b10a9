import { isIP } from 'node:net';
import type { Answer } from 'dns-packet';
import { dnsRecords, type InstanceIdentity } from '../identity/instance-identity.ts';
import { OPENPGPKEY_TYPE } from '@caliopen/platform/dns/dns.resolver.ts';
import type { LocalPartIndex } from './local-part.directory.ts';
import type { PublishedKeySource } from './published-keys.port.ts';

/**
 * The DNS zone the instance is authoritative for: its domain, with
 * - SOA and NS at the apex, the name server being `ns.<domain>` (this responder) at the configured addresses;
 * - A/AAAA of the domain (`dns.addresses`), and every record `dnsRecords()` lists for the operator (MX, SPF, DKIM,
 *   DMARC, the `_caliopen` discovery record, TLSA for `_443._tcp` and `_25._tcp`, MTA-STS, TLS-RPT) — parsed from
 *   that one list, so the zone served and the records printed by `caliopen instance dns` cannot drift apart;
 * - OPENPGPKEY (RFC 7929) at `<sha256(local part)[0..28] hex>._openpgpkey.<domain>`, answered when asked: the hash
 *   is mapped back to a username (LocalPartIndex) and the key read from the PublishedKeySource.
 *
 * Local parts are this instance's usernames, which are lowercase: RFC 7929 does no case folding (the hash is of the
 * local part as written), so `Alice@` finds nothing where `alice@` finds the key, and neither does `alice+tag@`
 * (which mail delivery accepts). The resolver here retries lowercase on NXDOMAIN; other clients may not.
 *
 * Not served: `openpgpkey.<domain>` (its existence would send WKD clients to the advanced method, whose host the
 * instance certificate does not cover), wildcards, CNAMEs, zone transfers, DNSSEC signatures (the zone is unsigned).
 */

export type ZoneAnswer =
  | { rcode: 'NOERROR'; answers: Answer[]; authorities: Answer[] }
  | { rcode: 'NXDOMAIN'; answers: []; authorities: Answer[] }
  /** The name is not in this zone. */
  | { rcode: 'REFUSED' }
  /** A lookup behind the zone failed (the key source or the accounts). */
  | { rcode: 'SERVFAIL' };

export interface DnsZone {
  /** The apex, lowercase, no trailing dot. */
  readonly origin: string;
  /** The SOA record of the apex (what negative answers carry). */
  readonly soa: Answer;
  /** The static records (everything but OPENPGPKEY). */
  readonly records: readonly Answer[];
  /** Answers `type` (a dns-packet type name, `ANY`, or `UNKNOWN_<n>`) at `name` (lowercase, no trailing dot). */
  answer(name: string, type: string): Promise<ZoneAnswer>;
}

export interface DnsZoneOptions {
  identity: InstanceIdentity;
  /** Addresses of the domain and of `ns.<domain>` (IPv4 and IPv6 literals). */
  addresses: readonly string[];
  keys: PublishedKeySource;
  localParts: LocalPartIndex;
  /** TTL of positive answers, seconds (default 300). */
  ttl?: number;
  /** TTL of negative answers (the SOA minimum, RFC 2308), seconds (default 60). */
  negativeTtl?: number;
  /** SOA serial (default: the time the zone is built, in seconds). */
  serial?: number;
}

const OPENPGPKEY_LABEL = /^[0-9a-f]{56}$/;

export function nameServerOf(domain: string): string {
  return `ns.${domain}`;
}

export function buildDnsZone(options: DnsZoneOptions): DnsZone {
  const origin = options.identity.domain.toLowerCase().replace(/\.$/, '');
  const ttl = options.ttl ?? 300;
  const negativeTtl = options.negativeTtl ?? 60;
  if (options.addresses.length === 0)
    throw new Error('The DNS zone needs at least one address for the domain (dns.addresses).');
  for (const address of options.addresses) {
    if (isIP(address) === 0) throw new Error(`dns.addresses: "${address}" is not an IPv4 or IPv6 address.`);
  }
  const ns = nameServerOf(origin);
  const soa: Answer = {
    name: origin,
    type: 'SOA',
    class: 'IN',
    ttl: negativeTtl,
    data: {
      mname: ns,
      rname: `hostmaster.${origin}`,
      serial: (options.serial ?? Math.floor(Date.now() / 1000)) >>> 0,
      refresh: 3600,
      retry: 600,
      expire: 1_209_600,
      minimum: negativeTtl,
    },
  };
  const addressRecords = (name: string): Answer[] =>
    options.addresses.map(
      (address) => ({ name, type: isIP(address) === 6 ? 'AAAA' : 'A', class: 'IN', ttl, data: address }) as Answer,
    );

  const records: Answer[] = [soa, { name: origin, type: 'NS', class: 'IN', ttl, data: ns }, ...addressRecords(ns)];
  for (const record of dnsRecords(options.identity))
    records.push(...fromPresentation(record, origin, ttl, addressRecords));

  const byName = new Map<string, Answer[]>();
  for (const record of records) {
    const list = byName.get(record.name) ?? [];
    list.push(record);
    byName.set(record.name, list);
  }
  // Names that own nothing but have names below them (`_tcp.<domain>`, `_domainkey.<domain>`, `_openpgpkey.<domain>`).
  const emptyNonTerminals = new Set<string>([`_openpgpkey.${origin}`]);
  for (const name of byName.keys()) {
    const labels = name.split('.');
    for (let i = 1; i < labels.length; i++) {
      const parent = labels.slice(i).join('.');
      if (parent === origin) break;
      if (!byName.has(parent)) emptyNonTerminals.add(parent);
    }
  }

  // Negative answers carry the SOA, whose minimum is the negative-caching TTL (RFC 2308).
  const negative = (rcode: 'NOERROR' | 'NXDOMAIN'): ZoneAnswer => ({ rcode, answers: [], authorities: [soa] });

  return {
    origin,
    soa,
    records,
    async answer(name: string, type: string): Promise<ZoneAnswer> {
      if (name !== origin && !name.endsWith(`.${origin}`)) return { rcode: 'REFUSED' };
      const suffix = `._openpgpkey.${origin}`;
      if (name.endsWith(suffix)) {
        const label = name.slice(0, -suffix.length);
        if (!OPENPGPKEY_LABEL.test(label)) return negative('NXDOMAIN');
        let key: Uint8Array | null;
        try {
          const localPart = await options.localParts.byOpenPgpKeyHash(label);
          key = localPart === null ? null : await options.keys.publicKeyOf(localPart);
        } catch {
          return { rcode: 'SERVFAIL' };
        }
        if (key === null || key.length === 0) return negative('NXDOMAIN');
        if (type !== OPENPGPKEY_TYPE && type !== 'ANY') return negative('NOERROR');
        const record = { name, type: OPENPGPKEY_TYPE, class: 'IN', ttl, data: Buffer.from(key) } as unknown as Answer;
        return { rcode: 'NOERROR', answers: [record], authorities: [] };
      }
      const here = byName.get(name);
      if (here === undefined) return negative(emptyNonTerminals.has(name) ? 'NOERROR' : 'NXDOMAIN');
      const answers = type === 'ANY' ? here : here.filter((record) => record.type === type);
      return answers.length > 0 ? { rcode: 'NOERROR', answers, authorities: [] } : negative('NOERROR');
    },
  };
}

/** One record of `dnsRecords()` (presentation format) as dns-packet answers; a type it cannot serve is a bug. */
function fromPresentation(
  record: { name: string; type: string; value: string },
  origin: string,
  ttl: number,
  addressRecords: (name: string) => Answer[],
): Answer[] {
  const name = record.name.toLowerCase().replace(/\.$/, '');
  if (name !== origin && !name.endsWith(`.${origin}`))
    throw new Error(`dnsRecords() lists ${record.name}, outside the zone ${origin}.`);
  const bad = () =>
    new Error(
      `dnsRecords() lists a ${record.type} record for ${record.name} the zone cannot read: ${record.value.slice(0, 80)}`,
    );
  switch (record.type) {
    case 'A/AAAA':
      return addressRecords(name);
    case 'MX': {
      const m = /^(\d{1,5}) (\S+)$/.exec(record.value);
      if (!m || Number(m[1]) > 65535) throw bad();
      return [
        { name, type: 'MX', class: 'IN', ttl, data: { preference: Number(m[1]), exchange: m[2]!.replace(/\.$/, '') } },
      ];
    }
    case 'TXT':
      return [{ name, type: 'TXT', class: 'IN', ttl, data: parseQuotedStrings(record.value, bad) }];
    case 'TLSA': {
      const m = /^(\d{1,3}) (\d{1,3}) (\d{1,3}) ((?:[0-9a-fA-F]{2})+)$/.exec(record.value);
      if (!m || [m[1], m[2], m[3]].some((n) => Number(n) > 255)) throw bad();
      return [
        {
          name,
          type: 'TLSA',
          class: 'IN',
          ttl,
          data: {
            usage: Number(m[1]),
            selector: Number(m[2]),
            matchingType: Number(m[3]),
            certificate: Buffer.from(m[4]!, 'hex'),
          },
        },
      ];
    }
    default:
      throw bad();
  }
}

/** `"a" "b\"c"` -> the character-strings, each at most 255 octets. */
function parseQuotedStrings(value: string, bad: () => Error): Buffer[] {
  const strings: Buffer[] = [];
  const rest = value.replace(/\s*"((?:[^"\\]|\\.)*)"\s*/g, (_all, inner: string) => {
    strings.push(Buffer.from(inner.replace(/\\(.)/g, '$1'), 'utf8'));
    return '';
  });
  if (rest.length > 0 || strings.length === 0 || strings.some((s) => s.length > 255)) throw bad();
  return strings;
}
