import { promises as dns, type MxRecord } from 'node:dns';
import { DeliveryFailure, type DeliveryRoute } from './smtp-outbound.types.ts';

export type ResolveMx = (domain: string) => Promise<MxRecord[]>;

export interface MxResolverOptions {
  /** `domain=host:port` entries (config outbound.mxOverride): tests and private networks only. */
  mxOverride?: readonly string[];
  /** When set, every domain goes through this relay. */
  smarthost?: { host: string; port: number } | undefined;
  /** The DNS lookup (node:dns resolveMx by default); injectable because the internet's DNS is not reachable in tests. */
  resolveMx?: ResolveMx;
  /** Port of MX hosts (25). */
  port?: number;
}

/** Parses `domain=host:port` entries into a map; throws on a malformed one (the config schema checks the shape). */
export function parseMxOverride(entries: readonly string[]): Map<string, { host: string; port: number }> {
  const out = new Map<string, { host: string; port: number }>();
  for (const entry of entries) {
    const m = /^([a-z0-9.-]+)=([A-Za-z0-9.-]+):(\d{1,5})$/.exec(entry);
    const port = m ? Number(m[3]) : NaN;
    if (!m || port < 1 || port > 65535) throw new Error(`outbound.mxOverride entry "${entry}" is not domain=host:port`);
    out.set(m[1]!.toLowerCase(), { host: m[2]!, port });
  }
  return out;
}

const TEMPORARY_DNS = new Set([
  'ETIMEOUT',
  'ESERVFAIL',
  'ECONNREFUSED',
  'EREFUSED',
  'ECANCELLED',
  'EAI_AGAIN',
  'ECONNRESET',
]);

/**
 * Where mail for `domain` goes: an override entry, else the smarthost when configured, else the MX records sorted by
 * preference (ties in the order DNS gave them), else the domain itself when it has no MX (implicit MX). A null MX
 * (RFC 7505) or a domain that does not exist is a permanent failure; a DNS error that may pass is a temporary one.
 */
export class MxResolver {
  private readonly overrides: Map<string, { host: string; port: number }>;
  private readonly smarthost: { host: string; port: number } | undefined;
  private readonly resolveMx: ResolveMx;
  private readonly port: number;

  constructor(options: MxResolverOptions = {}) {
    this.overrides = parseMxOverride(options.mxOverride ?? []);
    this.smarthost = options.smarthost;
    this.resolveMx = options.resolveMx ?? ((d) => dns.resolveMx(d));
    this.port = options.port ?? 25;
  }

  async route(domain: string): Promise<DeliveryRoute> {
    const d = domain.toLowerCase();
    const override = this.overrides.get(d);
    if (override) return { kind: 'override', hosts: [{ ...override, preference: 0 }] };
    if (this.smarthost) return { kind: 'smarthost', hosts: [{ ...this.smarthost, preference: 0 }] };

    let records: MxRecord[];
    try {
      records = await this.resolveMx(d);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (code === 'ENODATA') return { kind: 'implicit-mx', hosts: [{ host: d, port: this.port, preference: 0 }] };
      if (code === 'ENOTFOUND')
        throw new DeliveryFailure(true, '5.1.2', `the domain ${d} does not exist (no DNS records)`);
      if (TEMPORARY_DNS.has(code))
        throw new DeliveryFailure(false, '4.4.3', `DNS lookup of the MX of ${d} failed (${code}); will retry`);
      throw new DeliveryFailure(
        false,
        '4.4.3',
        `DNS lookup of the MX of ${d} failed (${code || (err as Error).message})`,
      );
    }
    if (records.length === 0) return { kind: 'implicit-mx', hosts: [{ host: d, port: this.port, preference: 0 }] };
    const usable = records.filter((r) => r.exchange !== '' && r.exchange !== '.');
    if (usable.length === 0) throw new DeliveryFailure(true, '5.1.10', `${d} accepts no mail (null MX, RFC 7505)`);
    const hosts = usable
      .map((r, i) => ({ r, i }))
      .sort((a, b) => a.r.priority - b.r.priority || a.i - b.i)
      .map(({ r }) => ({ host: r.exchange.replace(/\.$/, '').toLowerCase(), port: this.port, preference: r.priority }));
    return { kind: 'mx', hosts };
  }
}
