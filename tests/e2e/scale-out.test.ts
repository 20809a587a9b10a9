/**
 * Scale-out, shown (issue 15 item 5): two `caliopen instance start` processes of ONE instance (alpha.test, one data
 * directory for the identity and master key) on the distributed engines — the run's real Cassandra 5.0 node, a real
 * OpenSearch 2.19 and a real redis-server for BullMQ — each with its own HTTP, HTTPS and SMTP ports. Mail given to the
 * SMTP of either process is in the mailbox and the search results of both; a user's trust-sharing choice made through
 * one is what the other answers (nothing per-node left, item 4). Both processes run the queue workers.
 *
 * A SIGKILL of one process during an SMTP burst: every message it acknowledged ends up in the mailbox and the search
 * index exactly once, the other process carries on meanwhile, and the killed one, restarted, doubles nothing.
 *
 * A federation envelope replayed to another process of the instance, and prekeys shared by the processes, are shown
 * in federation-processes.test.ts (two processes of beta, a labelled peer, embedded engines); the claims themselves
 * are shown atomic across two connections in the storage conformance suite on the real Cassandra.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { createTransport } from 'nodemailer';
import { sharedNode } from '../support/cassandra.ts';
import { CASSANDRA_VERSION, cassandraEngineMissing, FETCH_COMMAND } from '../support/engines/cassandra.ts';
import { type OpenSearchServer, opensearchComponent, startOpenSearch } from '../support/engines/opensearch.ts';
import { freePort, waitFor } from '../support/net.ts';
import { answers, caliopen, type RunningProcess, startCaliopen } from '../support/process.ts';
import { type RedisServer, redisServerComponent, startRedisServer } from '../support/redis-server.ts';
import { tempDir } from '../support/tmp.ts';

const missing = [
  process.env.CASSANDRA_CONTACT_POINTS ? undefined : cassandraEngineMissing(),
  process.env.OPENSEARCH_URL || !opensearchComponent().skip ? undefined : 'OpenSearch cannot run here',
  redisServerComponent().skip ? 'redis-server is not installed' : undefined,
].filter((m): m is string => m !== undefined);

if (missing.length > 0) {
  const message = `scale-out test: ${missing.join('; ')} (Cassandra ${CASSANDRA_VERSION}: ${FETCH_COMMAND})`;
  if (process.env.CI === 'true') throw new Error(`[CI] ${message}`);
  console.warn(`\n!!! SKIPPING: ${message}\n`);
}

async function json(
  url: string,
  init: { method?: string; token?: string; body?: unknown } = {},
): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    headers: {
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
    },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

function ok(r: { status: number; body: any }, status = 200): any {
  assert.equal(r.status, status, JSON.stringify(r.body));
  return r.body;
}

describe.skipIf(missing.length > 0)(
  'two processes of one instance on Cassandra + OpenSearch + Redis',
  { timeout: 600_000 },
  () => {
    const tmp = tempDir('caliopen-scaleout-');
    let opensearch: OpenSearchServer | undefined;
    let redis: RedisServer | undefined;
    const processes: RunningProcess[] = [];
    const ports: { http: number; https: number; smtp: number }[] = [];
    let engineEnv: Record<string, string>;
    const password = 'correct horse battery staple 42';
    const api = (i: number) => `http://127.0.0.1:${ports[i]!.http}`;

    /** Starts process `i` of the instance on its own HTTP, HTTPS and SMTP ports (both run every worker). */
    function startProcess(i: number): Promise<RunningProcess> {
      const port = ports[i]!;
      return startCaliopen(
        ['instance', 'start', '--data-dir', tmp.dir],
        {
          ...engineEnv,
          CALIOPEN_HTTP_PORT: String(port.http),
          CALIOPEN_HTTPS_PORT: String(port.https),
          CALIOPEN_SMTP_ENABLED: 'true',
          CALIOPEN_SMTP_PORT: String(port.smtp),
          // At info, the start line names the engines in use.
          CALIOPEN_LOG_LEVEL: 'info',
        },
        () => answers(`http://127.0.0.1:${port.http}/healthz`),
        180_000,
      );
    }

    beforeAll(async () => {
      const [node, search, queue] = await Promise.all([
        process.env.CASSANDRA_CONTACT_POINTS
          ? Promise.resolve({
              contactPoints: process.env.CASSANDRA_CONTACT_POINTS.split(','),
              localDataCenter: process.env.CASSANDRA_LOCAL_DC || 'datacenter1',
            })
          : sharedNode(),
        process.env.OPENSEARCH_URL ? Promise.resolve(undefined) : startOpenSearch(),
        startRedisServer(),
      ]);
      opensearch = search;
      redis = queue;
      engineEnv = {
        CALIOPEN_STORAGE: 'cassandra',
        CASSANDRA_CONTACT_POINTS: node.contactPoints.join(','),
        CASSANDRA_LOCAL_DC: node.localDataCenter,
        CASSANDRA_KEYSPACE: `caliopen_scaleout_${randomBytes(5).toString('hex')}`,
        CALIOPEN_SEARCH: 'opensearch',
        OPENSEARCH_URL: process.env.OPENSEARCH_URL ?? search!.url,
        CALIOPEN_QUEUE: 'bullmq',
        REDIS_URL: queue.url,
        CALIOPEN_LOG_LEVEL: 'warn',
      };
      const seen = new Set<number>();
      while (seen.size < 6) seen.add(await freePort());
      const p = [...seen];
      ports.push({ http: p[0]!, https: p[1]!, smtp: p[2]! }, { http: p[3]!, https: p[4]!, smtp: p[5]! });

      const init = caliopen(['instance', 'init', '--domain', 'alpha.test', '--data-dir', tmp.dir], { env: engineEnv });
      assert.equal(init.code, 0, init.stderr);
      const add = caliopen(['admin', 'user', 'add', 'alice', '--password-stdin', '--data-dir', tmp.dir], {
        env: engineEnv,
        input: `${password}\n`,
      });
      assert.equal(add.code, 0, add.stderr);
      // One after the other: the second finds the instance's files (prekeys) the first made, as a second machine
      // given a copy of the data directory would.
      for (const i of [0, 1]) processes.push(await startProcess(i));
      for (const p of processes) {
        assert.match(
          p.output(),
          /"storage":"cassandra","queue":"bullmq","search":"opensearch"/,
          p.output().slice(-2000),
        );
      }
    }, 600_000);

    afterAll(async () => {
      for (const p of processes.reverse()) {
        const code = await p.stop('SIGTERM');
        assert.equal(code, 0, p.output().slice(-2000));
      }
      await opensearch?.stop();
      await redis?.stop();
      tmp.cleanup();
    });

    async function login(i: number): Promise<string> {
      return ok(await json(`${api(i)}/api/v1/auth/login`, { method: 'POST', body: { username: 'alice', password } }))
        .token;
    }

    async function subjects(i: number, token: string): Promise<string[]> {
      const out: string[] = [];
      for (const d of ok(await json(`${api(i)}/api/v1/discussions?limit=200`, { token })).items) {
        for (const m of ok(await json(`${api(i)}/api/v1/discussions/${d.id}/messages?limit=200`, { token })).items)
          out.push(m.subject);
      }
      return out;
    }

    async function send(i: number, subject: string, text: string): Promise<void> {
      const transport = createTransport({
        host: '127.0.0.1',
        port: ports[i]!.smtp,
        secure: false,
        ignoreTLS: true,
        connectionTimeout: 20_000,
        socketTimeout: 60_000,
      });
      try {
        await transport.sendMail({ from: 'Bob <bob@beta.example>', to: 'alice@alpha.test', subject, text });
      } finally {
        transport.close();
      }
    }

    test('mail given to either process is in the mailbox and the search results of both, once', async () => {
      const tokens = [await login(0), await login(1)];
      const run = randomBytes(4).toString('hex');
      await send(0, `Devis toiture ${run}`, 'Le devis pour la charpente est en pièce jointe.');
      await send(1, `Garden party ${run}`, 'Bring the strawberries and the lemonade.');
      for (const i of [0, 1]) {
        await waitFor(
          async () => (await subjects(i, tokens[i]!)).filter((s) => s.endsWith(run)).length === 2,
          60_000,
          250,
        );
        assert.deepEqual(
          (await subjects(i, tokens[i]!)).filter((s) => s.endsWith(run)).sort(),
          [`Devis toiture ${run}`, `Garden party ${run}`],
          `process ${i + 1} sees both messages, each once`,
        );
      }
      // Indexed once, by whichever process's worker took the job, in the one OpenSearch index both query.
      for (const [q, subject] of [
        ['charpente', `Devis toiture ${run}`],
        ['strawberry', `Garden party ${run}`],
      ] as const) {
        for (const i of [0, 1]) {
          let hits: any[] = [];
          await waitFor(
            async () => {
              hits = ok(await json(`${api(i)}/api/v1/search?q=${encodeURIComponent(q)}`, { token: tokens[i] })).items;
              return hits.length > 0;
            },
            60_000,
            250,
          );
          assert.deepEqual(
            hits.map((h) => h.message.subject),
            [subject],
            `process ${i + 1} finds "${q}"`,
          );
        }
      }
    });

    test("a user's trust-sharing choice made through one process is the other's answer", async () => {
      const tokens = [await login(0), await login(1)];
      assert.equal(ok(await json(`${api(1)}/api/v1/privacy/sharing`, { token: tokens[1] })).shareTrust, false);
      ok(
        await json(`${api(0)}/api/v1/privacy/sharing`, { method: 'PUT', token: tokens[0], body: { shareTrust: true } }),
      );
      assert.equal(ok(await json(`${api(1)}/api/v1/privacy/sharing`, { token: tokens[1] })).shareTrust, true);
      ok(
        await json(`${api(1)}/api/v1/privacy/sharing`, {
          method: 'PUT',
          token: tokens[1],
          body: { shareTrust: false },
        }),
      );
      assert.equal(ok(await json(`${api(0)}/api/v1/privacy/sharing`, { token: tokens[0] })).shareTrust, false);
    });

    test('SIGKILL of one process during an SMTP burst: what it acknowledged is filed and indexed once, the other carries on', async () => {
      const run = randomBytes(4).toString('hex');
      const word = `salve${run}`;
      const total = 48;
      const killAfter = 16;
      const accepted = new Set<string>();
      const attempted: string[] = [];
      let killed: Promise<number | null> | null = null;
      // Four SMTP clients send to process 1 at once; it is killed (SIGKILL: no shutdown) once it has acknowledged a
      // third of the burst. What it acknowledged is durable in its spool; the rest fails at the clients or never went.
      let next = 0;
      const sender = async () => {
        while (next < total) {
          const subject = `Burst ${run} #${next++}`;
          attempted.push(subject);
          try {
            await send(0, subject, `Message ${subject}: ${word}.`);
            accepted.add(subject);
          } catch {
            if (killed === null) throw new Error(`${subject} refused before the kill`);
            return; // the process is gone: this client stops
          }
          if (accepted.size >= killAfter && killed === null) killed = processes[0]!.stop('SIGKILL');
        }
      };
      await Promise.all([sender(), sender(), sender(), sender()]);
      assert.ok(killed !== null, 'the process was killed during the burst');
      await killed;
      assert.ok(accepted.size >= killAfter, `${accepted.size} acknowledged before the kill`);
      console.log(
        `# burst: ${accepted.size} of ${attempted.length} attempted messages acknowledged before the SIGKILL`,
      );

      // The other process carries on: it accepts and files new mail, and its API answers.
      const token = await login(1);
      const after = [`After the kill ${run} #1`, `After the kill ${run} #2`];
      for (const subject of after) await send(1, subject, `Message ${subject}: ${word}.`);
      const mine = async (i: number, t: string) => (await subjects(i, t)).filter((x) => x.includes(run));
      await waitFor(
        async () => {
          const seen = await mine(1, token);
          return after.every((x) => seen.includes(x)) && [...accepted].every((x) => seen.includes(x));
        },
        180_000,
        500,
      ).catch(async () => {
        const seen = await mine(1, token);
        throw new Error(`missing on process 2: ${[...accepted, ...after].filter((x) => !seen.includes(x)).join(', ')}`);
      });

      // The killed process, restarted (as its service manager would), drains what is left in its spool: nothing twice.
      processes[0] = await startProcess(0);
      const token0 = await login(0);
      // Let the restarted process file its leftovers: every message it may hold shows up, or is already there once.
      await waitFor(async () => (await mine(0, token0)).length >= accepted.size + after.length, 120_000, 500);
      for (const [i, t] of [
        [0, token0],
        [1, token],
      ] as const) {
        const seen = await mine(i, t);
        for (const x of [...accepted, ...after])
          assert.equal(seen.filter((y) => y === x).length, 1, `process ${i + 1}: "${x}" filed exactly once`);
        for (const x of attempted)
          assert.ok(seen.filter((y) => y === x).length <= 1, `process ${i + 1}: "${x}" never doubled`);
      }

      // Indexed once each in the one OpenSearch index (index jobs the killed process held are taken over).
      let hits: any[] = [];
      await waitFor(
        async () => {
          hits = ok(await json(`${api(1)}/api/v1/search?q=${word}&limit=100`, { token })).items;
          const found = new Set(hits.map((h) => h.message.subject));
          return [...accepted, ...after].every((x) => found.has(x));
        },
        180_000,
        1000,
      );
      const counts = new Map<string, number>();
      for (const h of hits) counts.set(h.message.subject, (counts.get(h.message.subject) ?? 0) + 1);
      for (const [subject, n] of counts) assert.equal(n, 1, `"${subject}" found once`);
    });
  },
);
