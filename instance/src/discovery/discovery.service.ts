import type { Logger } from 'pino';
import type { AccountRepository } from '../accounts/account.repository.ts';
import type { InstanceConfig } from '../config/config.schema.ts';
import type { InstanceIdentity } from '../identity/instance-identity.ts';
import { buildDnsZone } from './dns-zone.ts';
import { startDnsResponder, type DnsResponder } from './dns.responder.ts';
import { LocalPartDirectory } from './local-part.directory.ts';
import { noPublishedKeys, type PublishedKeySource } from './published-keys.port.ts';

/** What the instance publishes its users' keys from: the key source and the hash -> username directory. */
export interface Discovery {
  keys: PublishedKeySource;
  localParts: LocalPartDirectory;
}

export function createDiscovery(
  accounts: AccountRepository,
  keys: PublishedKeySource | undefined,
  logger: Logger,
): Discovery {
  return {
    keys: keys ?? noPublishedKeys,
    localParts: LocalPartDirectory.ofAccounts(accounts, {
      onError: (err) => logger.warn({ err }, 'discovery: the username directory could not be rebuilt'),
    }),
  };
}

/** Starts the authoritative DNS responder for the instance's zone (`dns.*` settings). */
export function startInstanceDns(
  config: InstanceConfig,
  identity: InstanceIdentity,
  discovery: Discovery,
  logger: Logger,
): Promise<DnsResponder> {
  const zone = buildDnsZone({
    identity,
    addresses: config.dns.addresses,
    keys: discovery.keys,
    localParts: discovery.localParts,
  });
  return startDnsResponder({ host: config.dns.host, port: config.dns.port, zone, logger });
}
