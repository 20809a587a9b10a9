import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestProject } from 'vitest/node';
import { CASSANDRA_VERSION, type CassandraNode, startCassandraNode } from './cassandra.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where a test file asks for the run's shared Cassandra node (GET /node starts it on first call). */
    cassandraLauncher: string;
  }
}

/**
 * The e2e project's global setup: ONE real Cassandra node for the whole run, started lazily. It serves a tiny
 * loopback HTTP endpoint (its address given to the test files with `provide`): the first test file that needs
 * Cassandra asks it, the node starts then (so a run without a Cassandra suite never pays for it), and every later
 * file gets the same node; each suite works in a keyspace of its own. The node stops when the run ends.
 * With CASSANDRA_CONTACT_POINTS set, the suites use that cluster instead and nothing is started.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let node: Promise<CassandraNode> | undefined;
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/node') {
      res.writeHead(404).end();
      return;
    }
    node ??= startCassandraNode().then((n) => {
      console.log(
        `\n==> Cassandra ${CASSANDRA_VERSION}: one node for this run on ${n.contactPoint}, CQL answered after ` +
          `${(n.startupMs / 1000).toFixed(1)} s\n`,
      );
      return n;
    });
    node.then(
      (n) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ contactPoint: n.contactPoint, localDataCenter: n.localDataCenter }));
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(err instanceof Error ? err.message : String(err));
      },
    );
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  project.provide('cassandraLauncher', `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  return async () => {
    server.close();
    const started = await node?.catch(() => undefined);
    await started?.stop();
  };
}
