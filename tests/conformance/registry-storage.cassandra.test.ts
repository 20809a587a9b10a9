// The registry package exports only its public API; its conformance suite and Cassandra adapter are reached by path.
import { registryStorageConformance } from '@caliopen/registry/storage/registry-storage.conformance.ts';
import { CassandraRegistryStorage } from '@caliopen/registry/storage/registry-storage.cassandra.ts';
import { conformanceOnCassandra } from '../support/cassandra.ts';

/**
 * The registry storage conformance suite on a real Cassandra 4/5. Without CASSANDRA_REGISTRY_KEYSPACE each run
 * creates a fresh keyspace and drops it afterwards.
 */
conformanceOnCassandra<CassandraRegistryStorage>({
  skippedName: 'RegistryStorage conformance: Cassandra',
  keyspaceEnv: 'CASSANDRA_REGISTRY_KEYSPACE',
  keyspacePrefix: 'caliopen_registry_test_',
  connect: (options) => CassandraRegistryStorage.connect(options),
  prepare: (storage) => storage.migrate(),
  suite: registryStorageConformance,
});
