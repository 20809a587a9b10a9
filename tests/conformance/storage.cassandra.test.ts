import { CassandraStorage } from '@caliopen/instance/storage/storage.cassandra.ts';
import { storageConformance } from '@caliopen/instance/storage/storage.conformance.ts';
import { conformanceOnCassandra } from '../support/cassandra.ts';

/**
 * The Storage conformance suite on a real Cassandra 4/5. CASSANDRA_LOCAL_DC defaults to 'datacenter1' (the
 * docker image's); without CASSANDRA_KEYSPACE each run creates a fresh keyspace and drops it afterwards, so runs
 * can share a cluster. A keyspace named by CASSANDRA_KEYSPACE is kept.
 */
conformanceOnCassandra<CassandraStorage>({
  skippedName: 'Storage conformance: Cassandra',
  keyspaceEnv: 'CASSANDRA_KEYSPACE',
  keyspacePrefix: 'caliopen_test_',
  connect: (options) => CassandraStorage.connect(options),
  suite: storageConformance,
});
