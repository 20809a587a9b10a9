import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { AppError } from '../shared/errors.ts';

/**
 * Where an import may connect. A user names the host; without this check, a user of a hosted instance could make it
 * open connections inside the operator's network (loopback services, private ranges, cloud metadata endpoints) and
 * learn from the answers. The host is resolved once and the connection goes to the checked address (no second DNS
 * answer can swap it for another: DNS rebinding), with the name kept for TLS (SNI and certificate check).
 */
const NON_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24], // documentation
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  NON_PUBLIC.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96], // NAT64: maps onto IPv4, which may be private
  ['64:ff9b:1::', 48],
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  NON_PUBLIC.addSubnet(net, prefix, 'ipv6');
}

/** true for an address on the public internet (IPv4-mapped IPv6 addresses are judged by their IPv4 part). */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return isPublicAddress(mapped[1]!);
  }
  return !NON_PUBLIC.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export interface ConnectTarget {
  /** The address to open the connection to. */
  address: string;
  /** The name to present and check for TLS (undefined when the user gave an address). */
  servername: string | undefined;
}

export type Lookup = (host: string) => Promise<{ address: string; family: number }[]>;
const systemLookup: Lookup = (host) => dnsLookup(host, { all: true, verbatim: true });

/**
 * Resolves `host` and checks where it points. Refuses (imap_host_forbidden) when any of its addresses is not public,
 * unless private hosts are allowed; fails with imap_unreachable when the name does not resolve.
 */
export async function resolveImportHost(host: string, options: { allowPrivate: boolean; lookup?: Lookup }): Promise<ConnectTarget> {
  const literal = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  let addresses: string[];
  if (isIP(literal) !== 0) {
    addresses = [literal];
  } else {
    try {
      addresses = (await (options.lookup ?? systemLookup)(literal)).map((a) => a.address);
    } catch {
      throw new AppError('imap_unreachable', `The host name ${JSON.stringify(host)} does not resolve.`);
    }
    if (addresses.length === 0) throw new AppError('imap_unreachable', `The host name ${JSON.stringify(host)} does not resolve.`);
  }
  // Every address must pass: one public answer among private ones would let a later connection land on the private one.
  if (!options.allowPrivate && addresses.some((a) => !isPublicAddress(a))) {
    throw new AppError('imap_host_forbidden', `${host} points to a non-public address.`);
  }
  return { address: addresses[0]!, servername: isIP(literal) === 0 ? literal : undefined };
}
