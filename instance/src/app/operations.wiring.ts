import { join } from 'node:path';
import { resolverServers } from '@caliopen/platform/dns/dns.resolver.ts';
import { FEDERATION_OUT_QUEUE, SMTP_OUT_QUEUE } from '../delivery/delivery.types.ts';
import { SqliteInboundSpool } from '../email/inbound-spool.sqlite.ts';
import { dnsRecords } from '../identity/instance-identity.ts';
import { PI_QUEUE } from '../privacy/pi.recompute.worker.ts';
import { INDEX_QUEUE } from '../search/search.indexer.ts';
import type { OperationsDeps } from '../operations/operations.routes.ts';
import type { InstanceServices } from './instance.services.ts';

/** What the operator's console reads, from the running instance's services (part of the composition root). */
export function operationsDeps(services: InstanceServices): OperationsDeps {
  const { config } = services;
  return {
    domain: config.domain,
    dnsRecords: async () => dnsRecords(await services.identity()),
    dns: { servers: resolverServers(config.dns.resolvers), timeoutMs: 3000 },
    queue: services.queue,
    queues: [
      { name: SMTP_OUT_QUEUE, kind: 'smtp' },
      { name: FEDERATION_OUT_QUEUE, kind: 'federation' },
      { name: INDEX_QUEUE, kind: 'index' },
      { name: PI_QUEUE, kind: 'pi' },
    ],
    accounts: (page) => services.accounts.list(page),
    dataDir: config.dataDir,
    spool: async () => (config.smtp.enabled ? SqliteInboundSpool.countsAt(join(config.dataDir, 'spool.db')) : null),
    peers: () =>
      services.federation?.peers().map((p) => ({
        domain: p.domain,
        status: p.status,
        labelValid: p.labelValid,
        labelExpiresAt: p.labelExpiresAt,
        instancePi: p.instancePi,
      })) ?? null,
  };
}
