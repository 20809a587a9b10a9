import { randomBytes } from 'node:crypto';
import { test } from 'vitest';
import type { CassandraOptions } from '@caliopen/platform/cassandra/cassandra.context.ts';
// The registry package exports only its public API; its conformance suite and Cassandra adapter are reached by path.
import { registryStorageConformance } from '@caliopen/registry/storage/registry-storage.conformance.ts';
import { CassandraRegistryStorage } from '@caliopen/registry/storage/registry-storage.cassandra.ts';
import { externalService } from '../support/real-component.ts';

/**
 * The registry storage conformance suite on a real Cassandra 4/5. Without CASSANDRA_REGISTRY_KEYSPACE each run
 * creates a fresh keyspace and drops it afterwards.
 */
const cassandra = externalService(
  'CASSANDRA_CONTACT_POINTS',
  'start Cassandra 4/5 (e.g. docker run -p 9042:9042 cassandra:5) and set CASSANDRA_CONTACT_POINTS=127.0.0.1',
);

if (cassandra.skip) {
  test('RegistryStorage conformance: Cassandra', { skip: cassandra.skip }, () => {});
} else {
  const namedKeyspace = process.env.CASSANDRA_REGISTRY_KEYSPACE;
  const options: CassandraOptions = {
    contactPoints: cassandra.value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    localDataCenter: process.env.CASSANDRA_LOCAL_DC || 'datacenter1',
    keyspace: namedKeyspace || `caliopen_registry_test_${randomBytes(6).toString('hex')}`,
  };

  registryStorageConformance(`Cassandra (keyspace ${options.keyspace})`, async () => {
    let current = await CassandraRegistryStorage.connect(options);
    await current.migrate();
    return {
      storage: current,
      reopen: async () => {
        await current.close();
        current = await CassandraRegistryStorage.connect(options);
        return current;
      },
      cleanup: async () => {
        try {
          if (!namedKeyspace) await current.client.execute(`DROP KEYSPACE IF EXISTS ${options.keyspace}`);
        } finally {
          await current.close();
        }
      },
    };
  });
}
