import type { Answer } from 'dns-packet';
import { dnsQuery, type DnsLookupOptions } from '@caliopen/platform/dns/dns.resolver.ts';

/** One record the operator is told to publish (identity/instance-identity.ts `dnsRecords`, `caliopen instance dns`). */
export interface ExpectedRecord {
  name: string;
  type: string;
  value: string;
  why: string;
}

export type RecordCheck = ExpectedRecord & {
  /**
   * ok: published as expected; different: the name has records of that type, none with this value; missing: none
   * of that type (or no such name); unchecked: nothing to compare (a value to choose, like the server's address);
   * error: the resolver did not answer.
   */
  status: 'ok' | 'different' | 'missing' | 'error';
  /** What the resolver answered for that name and type, written like `value`. */
  published: string[];
  /** The resolver's words when status is error. */
  error?: string;
};

/** The character-strings of a zone-file TXT value (`"a" "b"`), joined: what a TXT record's text is. */
export function txtText(value: string): string {
  return [...value.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\(.)/g, '$1')).join('');
}

const lower = (s: string) => s.toLowerCase().replace(/\.$/, '');

/** A published record written as the expected ones are (TXT: its text; MX: `pref host.`; TLSA: `u s m hex`). */
function show(a: Answer): string {
  switch (a.type) {
    case 'TXT': {
      const parts = Array.isArray(a.data) ? a.data : [a.data];
      return parts.map((p) => (typeof p === 'string' ? p : Buffer.from(p).toString('utf8'))).join('');
    }
    case 'MX':
      return `${a.data.preference} ${lower(a.data.exchange)}.`;
    case 'TLSA':
      return `${a.data.usage} ${a.data.selector} ${a.data.matchingType} ${Buffer.from(a.data.certificate).toString('hex')}`;
    case 'A':
    case 'AAAA':
      return String(a.data);
    default:
      return '';
  }
}

function expectedShown(r: ExpectedRecord): string {
  if (r.type === 'TXT') return txtText(r.value);
  if (r.type === 'MX') {
    const [pref, host] = r.value.split(/\s+/);
    return `${pref} ${lower(host ?? '')}.`;
  }
  return r.value.toLowerCase();
}

/**
 * Asks the instance's resolvers (dns.resolvers, as the key lookups do) for every record the operator should publish
 * and compares. The A/AAAA line names no value to compare: it is ok when the name has an address.
 */
export async function checkDnsRecords(
  records: readonly ExpectedRecord[],
  options: DnsLookupOptions,
): Promise<RecordCheck[]> {
  return Promise.all(
    records.map(async (r): Promise<RecordCheck> => {
      const name = lower(r.name);
      const types = r.type === 'A/AAAA' ? ['A', 'AAAA'] : [r.type];
      const published: string[] = [];
      for (const type of types) {
        const outcome = await dnsQuery(name, type, options);
        if (outcome.error) return { ...r, status: 'error', published, error: outcome.error.message };
        for (const a of outcome.answer?.records ?? []) published.push(show(a));
      }
      if (published.length === 0) return { ...r, status: 'missing', published };
      if (r.type === 'A/AAAA') return { ...r, status: 'ok', published };
      const want = expectedShown(r);
      const ok = published.some((p) => (r.type === 'TXT' ? p === want : p.toLowerCase() === want));
      return { ...r, status: ok ? 'ok' : 'different', published };
    }),
  );
}
