import { randomBytes } from 'node:crypto';
import { get } from 'node:http';
import { inject, test } from 'vitest';
import type { CassandraOptions } from '@caliopen/platform/cassandra/cassandra.context.ts';
import { CASSANDRA_VERSION, cassandraEngineMissing, FETCH_COMMAND } from './engines/cassandra.ts';

/** A Cassandra-backed store as the conformance suites drive it: its driver (to drop the keyspace) and close(). */
interface CassandraStore {
  client: { execute(query: string, params?: unknown[], options?: { readTimeout?: number }): Promise<unknown> };
  close(): Promise<void>;
}

/**
 * Runs a storage conformance suite on a real Cassandra. By default on the run's one shared Cassandra 5.0 node, started
 * from Maven Central's jars by the e2e project's global setup (tests/support/engines/cassandra.global-setup.ts) when
 * the first suite asks for it; CASSANDRA_CONTACT_POINTS (and CASSANDRA_LOCAL_DC, default 'datacenter1') points the
 * suites at another cluster instead. Without the keyspace variable each run creates a fresh keyspace named
 * `<prefix><random>` and drops it afterwards, so suites and runs share a node; a keyspace named by the variable is kept.
 * When Java 17 or Maven is missing: under CI (`CI=true`) the suite fails; elsewhere one test named `skippedName` is
 * skipped, loudly, with the command that fixes it.
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
    open: () => Promise<{
      storage: S;
      reopen: () => Promise<S>;
      another: () => Promise<S>;
      cleanup: () => Promise<void>;
    }>,
  ) => void;
}): void {
  const external = process.env.CASSANDRA_CONTACT_POINTS;
  if (!external) {
    const missing = cassandraEngineMissing();
    if (missing) {
      const message = `Cassandra ${CASSANDRA_VERSION} cannot run here: ${missing} (then ${FETCH_COMMAND} fetches the jars)`;
      if (process.env.CI === 'true') throw new Error(`[CI] ${message}`);
      console.warn(`\n!!! SKIPPING: ${message}\n`);
      test.skip(`${o.skippedName} — ${message}`, () => {});
      return;
    }
  }
  const namedKeyspace = process.env[o.keyspaceEnv];
  const keyspace = namedKeyspace || `${o.keyspacePrefix}${randomBytes(6).toString('hex')}`;

  o.suite(`Cassandra (keyspace ${keyspace})`, async () => {
    const options: CassandraOptions = external
      ? {
          contactPoints: external
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s !== ''),
          localDataCenter: process.env.CASSANDRA_LOCAL_DC || 'datacenter1',
          keyspace,
        }
      : { ...(await sharedNode()), keyspace };
    let current = await o.connect(options);
    await o.prepare?.(current);
    return {
      storage: current,
      reopen: async () => {
        await current.close();
        current = await o.connect(options);
        return current;
      },
      another: () => o.connect(options),
      cleanup: async () => {
        try {
          // Dropping a keyspace of ~40 tables is a schema change the node flushes for: on a loaded machine it takes
          // longer than the driver's default 12 s read timeout.
          if (!namedKeyspace)
            await current.client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`, [], { readTimeout: 180_000 });
        } finally {
          await current.close();
        }
      },
    };
  });
}

/** The run's shared node, from the global setup's launcher (which starts it on the first call). */
export function sharedNode(): Promise<{ contactPoints: string[]; localDataCenter: string }> {
  const launcher = inject('cassandraLauncher');
  if (!launcher) throw new Error('no Cassandra launcher: run the suite through the e2e project (vitest.config.ts)');
  return new Promise((resolve, reject) => {
    get(`${launcher}/node`, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => {
        if (res.statusCode !== 200) {
          reject(new Error(`the shared Cassandra node did not start: ${body}`));
          return;
        }
        const node = JSON.parse(body) as { contactPoint: string; localDataCenter: string };
        resolve({ contactPoints: [node.contactPoint], localDataCenter: node.localDataCenter });
      });
    }).on('error', reject);
  });
}
