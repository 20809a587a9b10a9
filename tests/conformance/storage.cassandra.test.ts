import { randomBytes } from 'node:crypto';
import { test } from 'vitest';
import type { CassandraOptions } from '@caliopen/platform/cassandra/cassandra.context.ts';
import { CassandraStorage } from '@caliopen/instance/storage/storage.cassandra.ts';
import { storageConformance } from '@caliopen/instance/storage/storage.conformance.ts';
import { externalService } from '../support/real-component.ts';

/**
 * The Storage conformance suite on a real Cassandra 4/5. CASSANDRA_LOCAL_DC defaults to 'datacenter1' (the
 * docker image's); without CASSANDRA_KEYSPACE each run creates a fresh keyspace and drops it afterwards, so runs
 * can share a cluster. A keyspace named by CASSANDRA_KEYSPACE is kept.
 */
const cassandra = externalService(
  'CASSANDRA_CONTACT_POINTS',
  'start Cassandra 4/5 (e.g. docker run -p 9042:9042 cassandra:5) and set CASSANDRA_CONTACT_POINTS=127.0.0.1',
);

if (cassandra.skip) {
  test('Storage conformance: Cassandra', { skip: cassandra.skip }, () => {});
} else {
  const namedKeyspace = process.env.CASSANDRA_KEYSPACE;
  const options: CassandraOptions = {
    contactPoints: cassandra.value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    localDataCenter: process.env.CASSANDRA_LOCAL_DC || 'datacenter1',
    keyspace: namedKeyspace || `caliopen_test_${randomBytes(6).toString('hex')}`,
  };

  storageConformance(`Cassandra (keyspace ${options.keyspace})`, async () => {
    let current = await CassandraStorage.connect(options);
    return {
      storage: current,
      reopen: async () => {
        await current.close();
        current = await CassandraStorage.connect(options);
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
