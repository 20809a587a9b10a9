import { isIP, type LookupFunction } from 'node:net';
import { dnsQuery } from '@caliopen/platform/dns/dns.resolver.ts';

/**
 * How a peer's host name becomes an address: through the instance's configured resolvers (`dns.resolvers`) when it
 * has some, as every other lookup the instance makes (MX, OPENPGPKEY, TLSA); through the system's otherwise (null).
 * A local federation's name server answers for its `.test` zones this way, and an operator's resolver for theirs.
 * Only A records are asked (the instances listen on IPv4; AAAA comes with IPv6 deployment).
 */
export function peerHostLookup(resolvers: readonly string[]): LookupFunction | undefined {
  if (resolvers.length === 0) return undefined;
  const lookup = (hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void): void => {
    const answer = (address: string) =>
      options.all ? callback(null, [{ address, family: 4 }]) : callback(null, address, 4);
    if (isIP(hostname) === 4) {
      answer(hostname);
      return;
    }
    void dnsQuery(hostname, 'A', { servers: resolvers }).then((outcome) => {
      const record = outcome.answer?.records.find((r) => r.type === 'A');
      const address =
        record !== undefined && 'data' in record && typeof record.data === 'string' ? record.data : undefined;
      if (address === undefined) {
        const why = outcome.error?.message ?? `no A record (${outcome.answer?.rcode ?? 'no answer'})`;
        callback(Object.assign(new Error(`${hostname}: ${why}`), { code: 'ENOTFOUND' }));
        return;
      }
      answer(address);
    });
  };
  return lookup as unknown as LookupFunction;
}
