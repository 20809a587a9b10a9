import { connectCassandra, CassandraContext } from '@caliopen/platform/cassandra/cassandra.context.ts';
import {
  CassandraJournalRepository,
  migrateJournalKeyspace,
} from '@caliopen/instance/admin-journal/journal.repository.cassandra.ts';
import { journalConformance } from '@caliopen/instance/admin-journal/journal.conformance.ts';
import { conformanceOnCassandra } from '../support/cassandra.ts';

/**
 * The admin journal's conformance suite on a real Cassandra 4/5 (its own component in a fresh keyspace, dropped
 * afterwards; CASSANDRA_JOURNAL_KEYSPACE names one to keep).
 */
conformanceOnCassandra({
  skippedName: 'Admin journal conformance: Cassandra',
  keyspaceEnv: 'CASSANDRA_JOURNAL_KEYSPACE',
  keyspacePrefix: 'caliopen_journal_test_',
  connect: async (options) => {
    const client = await connectCassandra(options);
    const context = new CassandraContext(client, options.keyspace, options.consistency);
    await migrateJournalKeyspace(client, context, options);
    const repository = new CassandraJournalRepository(context);
    return { client, repository, close: () => client.shutdown() };
  },
  suite: (name, open) =>
    journalConformance(name, async () => {
      const o = await open();
      return {
        repository: o.storage.repository,
        reopen: async () => (await o.reopen()).repository,
        cleanup: o.cleanup,
      };
    }),
});
