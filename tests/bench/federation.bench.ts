/**
 * Federated delivery vs SMTP relay between the same two instances (issue 7): messages/s and latency percentiles
 * alice@alpha.test -> bob@beta.test on loopback, the same messages both ways, the ratio federation/SMTP in one run.
 *
 *   node --import tsx tests/bench/federation.bench.ts           # (npm run bench:federation)
 *   FED_BENCH_MESSAGES=500 FED_BENCH_CLIENTS=8 node --import tsx tests/bench/federation.bench.ts
 *
 * Knobs (env): FED_BENCH_MESSAGES (N, default 200) messages per phase; FED_BENCH_SIZE (default 10240) bytes of body
 * text; FED_BENCH_CLIENTS (default 4) API callers submitting at once; FED_BENCH_PROCESS_WARMUP (default 100; 0: none)
 * messages by each route, CLIENTS at once, before the first measured phase; FED_BENCH_WARMUP (default 5) messages per
 * phase before measuring it; FED_BENCH_SERIAL (default 30) messages per phase sent one at a time, each after the previous one
 * arrived (latency without queueing); FED_BENCH_ROUNDS (default 1) rounds of both phases, alternating which goes first;
 * FED_BENCH_E2E=1 also encrypts every message end to end with OpenPGP (both accounts with server-side keys; the same
 * in both phases).
 *
 * Setup, as in tests/e2e/federation-delivery.test.ts, all in this process: two real instances (embedded engines,
 * `synchronous=FULL`), each with its public HTTPS face, prekeys, inbox and 'federation-out' worker; a stand-in peer
 * directory (tests/support/federation.ts) listing both with their real keys and certificate fingerprints. For SMTP:
 * beta's SMTP server (STARTTLS with its certificate), alpha's outbound queue relaying to it (`outbound.mxOverride`,
 * TLS policy `required`), DKIM-signed by alpha; beta checks SPF/DKIM/DMARC against a loopback DNS server
 * (tests/support/dns-server.ts) serving the records alpha publishes (`dnsRecords`: SPF, DKIM key, DMARC; MX and A).
 * Not alpha's own authoritative responder (in alpha's busy process, asked directly with no cache in between, ~6
 * queries per message): with it, one run had an SPF check end in `temperror` during the burst; a real receiver asks
 * through a caching resolver. Warm-up messages must pass SPF, DKIM and DMARC; measured ones that do not are counted.
 * Beta's per-IP SMTP limits are off (everything comes from 127.0.0.1), and so is its inbox's per-peer allowance (a
 * burst of 200 federation requests, then 30 a second, by default): with it, two federation phases back to back had
 * beta answer 429 to alpha, whose deliveries then waited for their retry (seen in beta's log as 21–27 responses 429
 * per three rounds, and a one-second stall in round 3). Both routes run unthrottled.
 *
 * FED_LOG=<path> writes both instances' logs (pino, trace) to <path>.alpha and <path>.beta.
 *
 * Each message is submitted through alice's API (`POST /api/v1/messages`, the real compose entry point: MIME, DKIM,
 * Sent copy, routing, queueing). Then:
 *   federation: the 'federation-out' worker fetches and verifies beta's signed prekeys, seals the message to one
 *     (sealed, padded envelope signed by alpha), signs the request, POSTs it over mutual TLS (pinned certificates),
 *     beta verifies everything, stores the message for bob, answers a signed receipt that alpha verifies and records;
 *   smtp: beta.test is taken out of the stand-in directory, so compose routes it to the 'smtp-out' queue, which relays
 *     it to beta's SMTP port (STARTTLS); beta spools it (250 after the commit), verifies SPF/DKIM/DMARC and stores it.
 * Both at the instances' normal concurrency (outbound.concurrency = 4 delivery jobs at once, the spool worker's own).
 *
 * latency    = from the start of the API request to the message being stored in bob's mailbox (beta's ingest hooked:
 *              the moment its `ingest()` for bob resolves), per message: under load (the N messages of the throughput
 *              run, so mostly time spent waiting in the queues) and one at a time (SERIAL messages);
 * throughput = N / (from the first request to the last message stored for bob); everything (both instances, the API
 *              client) shares this process and the machine's cores.
 * Before measuring, each phase's warm-up messages must have arrived with `via` as expected on both sides (bob's
 * transport facts, alice's delivery facts), else the run aborts; every measured message is checked the same way.
 * Prints figures; numbers go in docs/benchmarks.md. Never used as a test (no wall-clock assertion anywhere).
 */
import { createWriteStream } from 'node:fs';
import * as openpgp from 'openpgp';
import type { IngestRequest, IngestResult } from '@caliopen/instance/messages/message-ingest.port.ts';
import {
  dnsRecords,
  loadInstanceIdentity,
  type InstanceIdentity,
} from '@caliopen/instance/identity/instance-identity.ts';
import {
  authenticationProblem,
  BenchAbort,
  bodyText,
  calibration,
  fmt,
  KNOBS,
  now,
  pathProblem,
  pathSummary,
  type ArrivalFacts,
  type PhaseResult,
  printFigures,
  SUBJECT,
  sleep,
  subjectOf,
  type Via,
} from './federation.figures.ts';
import { startDnsServer, type Zone, type ZoneRecord } from '../support/dns-server.ts';
import { StandInDirectory } from '../support/federation.ts';
import { startTestInstance, type ApiResponse, type TestInstance } from '../support/instance.ts';
import { freePort } from '../support/net.ts';

const {
  n: N,
  size: SIZE,
  clients: CLIENTS,
  warmup: WARMUP,
  processWarmup: PROCESS_WARMUP,
  rounds: ROUNDS,
  serial: SERIAL,
  e2e: E2E,
  phaseTimeoutMs: PHASE_TIMEOUT_MS,
} = KNOBS;

function expect(r: ApiResponse, status: number, what: string): any {
  if (r.status !== status) throw new BenchAbort(`${what}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
  return r.body;
}

/**
 * The mail records alpha publishes (`dnsRecords`, what `caliopen instance init` prints and its own responder serves):
 * SPF, the DKIM key, DMARC, and MX/A for `v=spf1 mx` on loopback.
 */
function senderZone(identity: InstanceIdentity): Zone {
  const zone: Zone = {};
  const add = (name: string, record: ZoneRecord) => (zone[name.replace(/\.$/, '')] ??= []).push(record);
  for (const r of dnsRecords(identity)) {
    if (r.type !== 'TXT' || !/^"v=(spf1|DKIM1|DMARC1)/.test(r.value)) continue;
    add(r.name, { type: 'TXT', data: [...r.value.matchAll(/"([^"]*)"/g)].map((m) => m[1]!) });
  }
  add(identity.domain, { type: 'MX', data: { preference: 10, exchange: identity.domain } });
  add(identity.domain, { type: 'A', data: '127.0.0.1' });
  return zone;
}

interface Arrival {
  at: number;
  /** Size of the message as stored for bob (raw bytes). */
  bytes: number;
  facts: ArrivalFacts;
}

async function main() {
  console.log(
    `federation bench: N=${N} messages of ~${SIZE} B per phase, ${CLIENTS} API clients, warm-up ${PROCESS_WARMUP} per route then ${WARMUP} per phase, ${ROUNDS} round(s)${E2E ? ', OpenPGP end to end' : ''}; ` +
      `node ${process.version}, ${(await import('node:os')).cpus().length} CPUs, load ${(await import('node:os'))
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
  );

  // --- setup (not timed) -----------------------------------------------------------------------------------------
  const betaSmtpPort = await freePort();
  const dns = await startDnsServer();
  const logTo = (name: string) =>
    process.env.FED_LOG ? { logTo: createWriteStream(`${process.env.FED_LOG}.${name}`) } : {};
  const a = await startTestInstance({
    domain: 'alpha.test',
    ...logTo('alpha'),
    env: {
      CALIOPEN_OUTBOUND_MX_OVERRIDE: `beta.test=127.0.0.1:${betaSmtpPort}`,
      CALIOPEN_OUTBOUND_TLS_POLICY: 'required',
      CALIOPEN_OUTBOUND_RETRY_ATTEMPTS: '3',
      CALIOPEN_OUTBOUND_RETRY_BASE_DELAY_MS: '1000',
    },
  });
  let b: TestInstance | null = null;
  try {
    const alphaId = await loadInstanceIdentity(a.dataDir, a.running.services.box);
    dns.zone = senderZone(alphaId);
    b = await startTestInstance({
      domain: 'beta.test',
      env: {
        CALIOPEN_SMTP_ENABLED: 'true',
        CALIOPEN_SMTP_PORT: String(betaSmtpPort),
        CALIOPEN_SMTP_DNS_SERVERS: `${dns.host}:${dns.port}`,
        CALIOPEN_SMTP_MAX_CONNECTIONS_PER_IP: '0',
        CALIOPEN_SMTP_MESSAGES_PER_MINUTE_PER_IP: '0',
        CALIOPEN_HTTPS_PEER_BURST: '1000000',
        CALIOPEN_HTTPS_PEER_PER_SECOND: '100000',
      },
      ...logTo('beta'),
    });
    const beta = b;
    const betaId = await loadInstanceIdentity(beta.dataDir, beta.running.services.box);
    const directory = new StandInDirectory();
    directory.add(alphaId, a.running.publicUrl!);
    directory.add(betaId, beta.running.publicUrl!);
    const betaEntry = directory.entries.get('beta.test')!;
    (a.running.services as { federation?: unknown }).federation = directory;
    (beta.running.services as { federation?: unknown }).federation = directory;
    const route = (via: Via) => {
      if (via === 'federation') directory.entries.set('beta.test', betaEntry);
      else directory.entries.delete('beta.test'); // beta is not a member for alpha: compose routes it by SMTP
    };

    const alice = await a.user('alice');
    const bob = await beta.user('bob');
    expect(
      await beta.api('POST', '/api/v1/contacts', {
        token: bob.token,
        body: { displayName: 'Alice', identities: [{ address: 'alice@alpha.test' }] },
      }),
      201,
      'bob adds alice',
    );
    if (E2E) {
      const bobKey = expect(
        await beta.api('POST', '/api/v1/keys', { token: bob.token, body: { mode: 'server', password: bob.password } }),
        201,
        'bob makes a key',
      ).key;
      expect(
        await a.api('POST', '/api/v1/keys', { token: alice.token, body: { mode: 'server', password: alice.password } }),
        201,
        'alice makes a key',
      );
      const stored = await beta.running.services.storage.accountKeys.get(bob.id, bobKey.fingerprint);
      const armored = (await openpgp.readKey({ binaryKey: stored!.publicKey })).armor();
      const contact = expect(
        await a.api('POST', '/api/v1/contacts', {
          token: alice.token,
          body: { displayName: 'Bob', identities: [{ address: 'bob@beta.test' }] },
        }),
        201,
        'alice adds bob',
      );
      expect(
        await a.api('POST', `/api/v1/contacts/${contact.id}/keys`, { token: alice.token, body: { armored } }),
        201,
        "alice adds bob's key",
      );
    }

    // Beta's ingest, hooked: the moment a message is stored for bob, with the transport facts it was stored with.
    // Both entry points: the federation inbox files one message (`ingest`), the SMTP spool worker files batches.
    const arrivals = new Map<string, Arrival>();
    const ingestService = beta.running.services.ingest;
    const realIngest = ingestService.ingest.bind(ingestService);
    const arrived = (request: IngestRequest, result: IngestResult) => {
      if (request.accountId === bob.id && request.direction === 'inbound' && result.inserted) {
        const m = SUBJECT.exec(result.message.subject);
        if (m)
          arrivals.set(m[1]!, {
            at: now(),
            bytes: result.message.sizeBytes,
            facts: result.message.facts as ArrivalFacts,
          });
      }
    };
    const realBatch = ingestService.ingestBatch?.bind(ingestService);
    if (realBatch) {
      ingestService.ingestBatch = async (requests: readonly IngestRequest[]) => {
        const outcomes = await realBatch(requests);
        outcomes.forEach((o, i) => {
          if (o.status === 'fulfilled') arrived(requests[i]!, o.value);
        });
        return outcomes;
      };
    }
    ingestService.ingest = async (request: IngestRequest): Promise<IngestResult> => {
      const result = await realIngest(request);
      arrived(request, result);
      return result;
    };

    const texts = new Map<number, string>();
    const textOf = (i: number) => {
      let t = texts.get(i);
      if (t === undefined) texts.set(i, (t = bodyText(`fedbench message ${i}`, SIZE)));
      return t;
    };

    /** Submits one message through alice's API; returns alpha's message id and the route compose chose. */
    async function submit(key: string, i: number): Promise<{ id: string; route: string }> {
      const body: Record<string, unknown> = {
        to: [{ address: 'bob@beta.test' }],
        subject: subjectOf(key),
        text: textOf(i),
      };
      if (E2E) body['encryption'] = 'require';
      const sent = expect(await a.api('POST', '/api/v1/messages', { token: alice.token, body }), 202, `submit ${key}`);
      if (E2E && sent.encrypted !== true) throw new BenchAbort(`${key}: compose did not encrypt it end to end`);
      return { id: sent.id, route: sent.recipients[0].route };
    }

    async function waitArrived(keys: readonly string[], what: string): Promise<void> {
      const until = Date.now() + PHASE_TIMEOUT_MS;
      while (keys.some((k) => !arrivals.has(k))) {
        if (Date.now() > until)
          throw new BenchAbort(`${what}: ${keys.filter((k) => !arrivals.has(k)).length} message(s) never reached bob`);
        await sleep(5);
      }
    }

    /** Every message arrived by `via` at beta, and alice's Sent copy records its delivery to beta.test by `via`. */
    async function checkRoute(via: Via, sent: readonly { key: string; id: string }[]): Promise<void> {
      for (const { key } of sent) {
        const problem = pathProblem(via, arrivals.get(key)!.facts, E2E);
        if (problem !== null) throw new BenchAbort(`${key}: ${problem}`);
      }
      const until = Date.now() + 60_000;
      for (const { key, id } of sent) {
        for (;;) {
          const m = await a.running.services.storage.messages.get(alice.id, id);
          const delivery = (
            m?.facts['delivery'] as { domain: string; via: string; receipt?: string }[] | undefined
          )?.find((d) => d.domain === 'beta.test');
          if (delivery) {
            if (delivery.via !== via)
              throw new BenchAbort(`${key}: alice's Sent copy says via=${delivery.via}, expected ${via}`);
            if (via === 'federation' && !delivery.receipt)
              throw new BenchAbort(`${key}: no receipt recorded for a federated delivery`);
            break;
          }
          if (Date.now() > until) throw new BenchAbort(`${key}: no delivery fact on alice's Sent copy`);
          await sleep(20);
        }
      }
    }

    // What an arrival or a delivery leaves queued behind it (index jobs, PI refreshes, deliveries, spam checks).
    const BACKGROUND_QUEUES = ['index', 'pi', 'federation-out', 'smtp-out', 'spam-check', 'spam-learn'];
    /**
     * Waits until neither instance has a job waiting, delayed or running in those queues (at most 60 s), before a
     * phase is measured: it must not pay for the tail of what came before (the process warm-up's and the previous
     * phase's index jobs and PI refreshes ran during the next measured phase).
     */
    async function waitIdle(): Promise<number> {
      const t = now();
      const until = Date.now() + 60_000;
      for (;;) {
        let pending = 0;
        for (const instance of [a, beta])
          for (const queue of BACKGROUND_QUEUES) {
            const c = await instance.running.services.queue.counts(queue);
            pending += c.waiting + c.delayed + c.active;
          }
        if (pending === 0 || Date.now() > until) return now() - t;
        await sleep(50);
      }
    }

    async function phase(via: Via, round: number): Promise<PhaseResult> {
      route(via);
      const tag = `${via[0]}${round}`;
      // Warm-up (not measured): the path must be the expected one, else abort.
      const warm: { key: string; id: string }[] = [];
      for (let w = 0; w < WARMUP; w++) {
        const key = `${tag}-w${w}`;
        const s = await submit(key, w);
        if (s.route !== via) throw new BenchAbort(`warm-up ${key}: compose routed it by ${s.route}, expected ${via}`);
        warm.push({ key, id: s.id });
      }
      await waitArrived(
        warm.map((w) => w.key),
        `${via} warm-up`,
      );
      await checkRoute(via, warm);
      for (const { key } of warm) {
        const problem = authenticationProblem(via, arrivals.get(key)!.facts);
        if (problem !== null) throw new BenchAbort(`warm-up ${key}: ${problem}`);
      }
      console.log(
        `  warm-up ok: ${pathSummary(via, arrivals.get(warm[0]!.key)!.facts)}; alice's Sent copy: delivered via=${via}${via === 'federation' ? ' with a receipt' : ''}`,
      );

      console.log(`  waited ${fmt(await waitIdle(), 0)} ms for both instances' queues to drain`);

      // Measured: CLIENTS callers submit the N messages back to back.
      const started = new Map<string, number>();
      const submitMs: number[] = [];
      const sent: { key: string; id: string }[] = [];
      let next = 0;
      const dnsBefore = dns.queries.length;
      const t0 = now();
      console.log(`  calibration: ${fmt(calibration(), 0)} ms (100,000 chained SHA-256; lower is faster)`);
      const cpu0 = process.cpuUsage();
      if (process.env.FED_BENCH_MARKS === '1') console.log(`  mark ${via} start ${process.hrtime.bigint() / 1000n}`);
      await Promise.all(
        Array.from({ length: Math.min(CLIENTS, N) }, async () => {
          while (next < N) {
            const i = next++;
            const key = `${tag}-${i}`;
            const t = now();
            started.set(key, t);
            const s = await submit(key, i);
            submitMs.push(now() - t);
            if (s.route !== via) throw new BenchAbort(`${key}: compose routed it by ${s.route}, expected ${via}`);
            sent.push({ key, id: s.id });
          }
        }),
      );
      const keys = [...started.keys()];
      await waitArrived(keys, via);
      if (process.env.FED_BENCH_MARKS === '1') {
        const cpu = process.cpuUsage(cpu0);
        console.log(
          `  mark ${via} end ${process.hrtime.bigint() / 1000n}; process CPU ${((cpu.user + cpu.system) / 1000 / (now() - t0)).toFixed(2)} cores, ${((cpu.user + cpu.system) / 1000 / N).toFixed(1)} ms per message`,
        );
      }
      const dnsPerMessage = (dns.queries.length - dnsBefore) / N;
      const unauthenticated = keys
        .map((k) => authenticationProblem(via, arrivals.get(k)!.facts))
        .filter((p) => p !== null);
      if (unauthenticated.length > 0)
        console.log(
          `  ${unauthenticated.length} message(s) not passing SPF/DKIM/DMARC at beta, e.g. ${unauthenticated[0]}`,
        );
      const last = Math.max(...keys.map((k) => arrivals.get(k)!.at));
      const latencies = keys.map((k) => arrivals.get(k)!.at - started.get(k)!).sort((x, y) => x - y);
      // Not timed: every message took the expected path on both sides, and the queues are drained.
      await checkRoute(via, sent);
      const meanBytes = keys.reduce((sum, k) => sum + arrivals.get(k)!.bytes, 0) / keys.length;

      // One at a time: each message submitted once the previous one is stored for bob (no queueing).
      const serial: number[] = [];
      const serialSent: { key: string; id: string }[] = [];
      for (let i = 0; i < SERIAL; i++) {
        const key = `${tag}-s${i}`;
        const t = now();
        const s = await submit(key, i);
        if (s.route !== via) throw new BenchAbort(`${key}: compose routed it by ${s.route}, expected ${via}`);
        serialSent.push({ key, id: s.id });
        await waitArrived([key], `${via} one at a time`);
        serial.push(arrivals.get(key)!.at - t);
      }
      await checkRoute(via, serialSent);
      return {
        via,
        n: N,
        elapsedMs: last - t0,
        latencies,
        submitMs: submitMs.sort((x, y) => x - y),
        note: `${fmt(meanBytes / 1024)} KiB stored per message${via === 'smtp' ? `; beta made ${fmt(dnsPerMessage)} DNS queries per message` : ''}`,
        serial: serial.sort((x, y) => x - y),
      };
    }

    // The process's warm-up (not measured): both routes, as a measured phase sends (CLIENTS at once), before either
    // is measured, so that the first measured route does not pay alone for warming what the two share (compose,
    // ingest, storage, V8's compilation of it all): without it the first phase of a process came out 15-25 % slower
    // whatever its route (docs/benchmarks.md).
    for (const via of PROCESS_WARMUP > 0 ? (['federation', 'smtp'] as Via[]) : []) {
      route(via);
      console.log(`process warm-up: ${PROCESS_WARMUP} messages by ${via}...`);
      const sent: { key: string; id: string }[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(CLIENTS, PROCESS_WARMUP) }, async () => {
          while (next < PROCESS_WARMUP) {
            const i = next++;
            const key = `p${via[0]}-${i}`;
            const s = await submit(key, i);
            if (s.route !== via) throw new BenchAbort(`${key}: compose routed it by ${s.route}, expected ${via}`);
            sent.push({ key, id: s.id });
          }
        }),
      );
      await waitArrived(
        sent.map((x) => x.key),
        `${via} process warm-up`,
      );
      await checkRoute(via, sent);
    }

    // --- the runs ------------------------------------------------------------------------------------------------
    const results: PhaseResult[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const order: Via[] = r % 2 === 0 ? ['federation', 'smtp'] : ['smtp', 'federation'];
      for (const via of order) {
        console.log(`round ${r + 1}: ${via}...`);
        results.push(await phase(via, r));
      }
    }

    printFigures(results, { rounds: ROUNDS, clients: CLIENTS });
    ingestService.ingest = realIngest;
  } finally {
    await b?.stop();
    await a.stop();
    await dns.close();
  }
}

try {
  await main();
} catch (err) {
  if (err instanceof BenchAbort) {
    console.error(`federation bench aborted: ${err.message}`);
    process.exitCode = 1;
  } else throw err;
}
