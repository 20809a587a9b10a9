import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { AppError } from '../shared/errors.ts';
import { isPublicAddress } from '@caliopen/platform/net/public-address.policy.ts';

/**
 * Where an import may connect. A user names the host; without this check, a user of a hosted instance could make it
 * open connections inside the operator's network (loopback services, private ranges, cloud metadata endpoints) and
 * learn from the answers. The host is resolved once and the connection goes to the checked address (no second DNS
 * answer can swap it for another: DNS rebinding), with the name kept for TLS (SNI and certificate check).
 */
export { isPublicAddress };

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
export async function resolveImportHost(
  host: string,
  options: { allowPrivate: boolean; lookup?: Lookup },
): Promise<ConnectTarget> {
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
    if (addresses.length === 0)
      throw new AppError('imap_unreachable', `The host name ${JSON.stringify(host)} does not resolve.`);
  }
  // Every address must pass: one public answer among private ones would let a later connection land on the private one.
  if (!options.allowPrivate && addresses.some((a) => !isPublicAddress(a))) {
    throw new AppError('imap_host_forbidden', `${host} points to a non-public address.`);
  }
  return { address: addresses[0]!, servername: isIP(literal) === 0 ? literal : undefined };
}
