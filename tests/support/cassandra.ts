import { randomBytes } from 'node:crypto';
import { test } from 'vitest';
import type { CassandraOptions } from '@caliopen/platform/cassandra/cassandra.context.ts';
import { externalService } from './real-component.ts';

/** A Cassandra-backed store as the conformance suites drive it: its driver (to drop the keyspace) and close(). */
interface CassandraStore {
  client: { execute(query: string): Promise<unknown> };
  close(): Promise<void>;
}

/**
 * Runs a storage conformance suite on a real Cassandra 4/5 (CASSANDRA_CONTACT_POINTS; CASSANDRA_LOCAL_DC defaults to
 * 'datacenter1', the docker image's). Without the keyspace variable each run creates a fresh keyspace named
 * `<prefix><random>` and drops it afterwards, so runs can share a cluster; a keyspace named by the variable is kept.
 * Without CASSANDRA_CONTACT_POINTS one test named `skippedName` is skipped, loudly.
 */
export function conformanceOnCassandra<S extends CassandraStore>(o: {
  skippedName: string;
  keyspaceEnv: string;
  keyspacePrefix: string;
  /** Connects to the keyspace (also on reopen). */
  connect: (options: CassandraOptions) => Promise<S>;
  /** Done once, after the first connection (e.g. the schema's migration). */
  prepare?: (store: S) => Promise<unknown>;
  suite: (
    name: string,
    open: () => Promise<{ storage: S; reopen: () => Promise<S>; cleanup: () => Promise<void> }>,
  ) => void;
}): void {
  const cassandra = externalService(
    'CASSANDRA_CONTACT_POINTS',
    'start Cassandra 4/5 (e.g. docker run -p 9042:9042 cassandra:5) and set CASSANDRA_CONTACT_POINTS=127.0.0.1',
  );
  if (cassandra.skip) {
    test(o.skippedName, { skip: cassandra.skip }, () => {});
    return;
  }
  const namedKeyspace = process.env[o.keyspaceEnv];
  const options: CassandraOptions = {
    contactPoints: cassandra.value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    localDataCenter: process.env.CASSANDRA_LOCAL_DC || 'datacenter1',
    keyspace: namedKeyspace || `${o.keyspacePrefix}${randomBytes(6).toString('hex')}`,
  };

  o.suite(`Cassandra (keyspace ${options.keyspace})`, async () => {
    let current = await o.connect(options);
    await o.prepare?.(current);
    return {
      storage: current,
      reopen: async () => {
        await current.close();
        current = await o.connect(options);
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
