/**
 * The local federation as separate processes on loopback (issue 7, Show): the registry, alpha.test and beta.test
 * each a `caliopen ... start` process, prepared and labelled by `caliopen federation` (what `npm start` runs), then
 * restarted one by one by this test so that beta can be stopped alone and the wire between the instances observed.
 *
 * - alice@alpha sends to bob@beta: delivered over the federation (not SMTP); bob sees it with PI >= 80, the sender
 *   instance's label and PI; alice's Sent copy holds beta's signed receipt, which verifies against the key the
 *   registry's feed lists for beta; everything that crossed the wire (a relay between the instances records each
 *   byte, both ways) reveals neither the sender nor the content: only the destination's name is in clear (SNI).
 * - beta is stopped: alice's messages queue and are retried (the relay counts the attempts); beta restarts and each
 *   message arrives exactly once.
 * - the registry revokes alpha's label: after its next feed sync beta refuses alpha's deliveries (403
 *   peer_not_labelled, nothing stored); alpha, learning of its own revocation, stops offering the federation route,
 *   says why (route preview, GET /api/v1/federation) and tells its users by a notice in their mailbox; mail to bob
 *   then goes by email.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, test } from 'vitest';
import {
  ENVELOPE_MEDIA_TYPE,
  INBOX_PATH,
  PREKEYS_PATH,
  REQUEST_SIGNATURE_HEADER,
  choosePrekey,
  parseKeySet,
  sealEnvelope,
  signRequest,
  verifyFeed,
  verifyPrekeyList,
  verifyReceipt,
  type FeedInstance,
} from '@caliopen/federation-protocol';
import { spawnCaliopen, untilReady, type CaliopenChild } from '@caliopen/cli/federation.children.ts';
import { startLoopbackResolver, type LoopbackResolver } from '@caliopen/cli/federation.resolver.ts';
import { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import { peerRequest } from '@caliopen/instance/federation/federation.client.ts';
import { signingKeyOf } from '@caliopen/instance/federation/prekey.store.ts';
import { loadInstanceIdentity, type InstanceIdentity } from '@caliopen/instance/identity/instance-identity.ts';
import { loadMasterKey } from '@caliopen/platform/crypto/master-key.store.ts';
import {
  cleanEnv,
  type FederationPorts,
  mergeConfig,
  prepareLocalFederation,
  type PreparedFederation,
} from '../support/local-federation.ts';
import { waitFor } from '../support/net.ts';
import { answers, ROOT } from '../support/process.ts';
import { tempDir } from '../support/tmp.ts';
import { startWireCapture, type WireCapture } from '../support/wire-capture.ts';

const tmp = tempDir('caliopen-fedproc-');
const dataDir = join(tmp.dir, 'federation');
const alphaDir = join(dataDir, 'alpha.test');
const betaDir = join(dataDir, 'beta.test');

async function json(
  url: string,
  init: Omit<RequestInit, 'body'> & { token?: string; body?: any } = {},
): Promise<{ status: number; body: any }> {
  const { token, body, ...rest } = init;
  const res = await fetch(url, {
    ...rest,
    headers: {
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

function ok<T = any>(r: { status: number; body: any }, status = 200): T {
  assert.equal(r.status, status, JSON.stringify(r.body));
  return r.body as T;
}

describe('the local federation as separate processes on loopback', { timeout: 900_000 }, () => {
  let ports: FederationPorts;
  let betaInner: number;
  let capture: WireCapture;
  let resolver: LoopbackResolver;
  const running = new Map<string, CaliopenChild>();
  let alpha: string;
  let beta: string;
  let registry: string;
  let alice: { token: string };
  let bob: { token: string };
  let credentials: PreparedFederation['credentials'];
  let passwordOf: PreparedFederation['passwordOf'];

  async function startMember(name: 'alpha.test' | 'beta.test'): Promise<void> {
    const dir = name === 'alpha.test' ? alphaDir : betaDir;
    const api = name === 'alpha.test' ? alpha : beta;
    // alpha logs at info: its delivery attempts are what an operator sees of the retries (no message content).
    const child = spawnCaliopen(['instance', 'start', '--data-dir', dir], {
      name,
      cwd: ROOT,
      env: cleanEnv(name === 'alpha.test' ? { CALIOPEN_LOG_LEVEL: 'info' } : {}),
    });
    running.set(name, child);
    await untilReady(child, () => answers(`${api}/healthz`), 120_000);
  }

  async function stop(name: string): Promise<void> {
    const child = running.get(name);
    running.delete(name);
    if (child) assert.equal(await child.stop('SIGTERM'), 0, `${name} stops cleanly:\n${child.output().slice(-2000)}`);
  }

  async function login(api: string, username: string): Promise<{ token: string }> {
    return {
      token: ok(
        await json(`${api}/api/v1/auth/login`, { method: 'POST', body: { username, password: passwordOf(username) } }),
      ).token,
    };
  }

  async function mailbox(api: string, token: string): Promise<any[]> {
    const out: any[] = [];
    for (const d of ok(await json(`${api}/api/v1/discussions?limit=200`, { token })).items) {
      out.push(...ok(await json(`${api}/api/v1/discussions/${d.id}/messages?limit=200`, { token })).items);
    }
    return out;
  }

  async function received(api: string, token: string, subject: string, timeoutMs = 60_000): Promise<any> {
    let found: any = null;
    await waitFor(
      async () => {
        found = (await mailbox(api, token)).find((m) => m.subject === subject && m.direction === 'inbound') ?? null;
        return found !== null;
      },
      timeoutMs,
      250,
    );
    return ok(await json(`${api}/api/v1/messages/${found.id}`, { token }));
  }

  /**
   * A delivery made by hand with alpha's own keys and certificate, as alpha's worker would make it: sealed to a prekey
   * listed by `prekeysFrom`, signed for beta's inbox. Resolves the request, to post once or more, anywhere.
   */
  async function handMadeDelivery(subject: string, prekeysFrom: string) {
    const master = (dir: string) => new SecretBox(loadMasterKey(dir));
    const alphaId: InstanceIdentity = await loadInstanceIdentity(alphaDir, master(alphaDir));
    const betaId: InstanceIdentity = await loadInstanceIdentity(betaDir, master(betaDir));
    const now = Math.floor(Date.now() / 1000);
    const listed = await peerRequest({
      url: `${prekeysFrom}${PREKEYS_PATH}`,
      method: 'GET',
      pinSha256: betaId.tls.fingerprintSha256,
      clientCert: alphaId.tls,
    });
    const prekeys = await verifyPrekeyList(JSON.parse(listed.body.toString('utf8')), {
      signingKeys: [betaId.signing.publicJwk as never],
      expectedDomain: 'beta.test',
      now,
    });
    assert.ok(prekeys.ok);
    const id = `${subject.replaceAll(/[^a-z0-9]+/gi, '-')}-${now}@alpha.test`;
    const raw = Buffer.from(
      `From: alice@alpha.test\r\nTo: bob@beta.test\r\nSubject: ${subject}\r\nMessage-ID: <${id}>\r\n\r\nhello\r\n`,
    );
    const { bytes: envelope } = await sealEnvelope(
      {
        from: { instance: 'alpha.test', account: 'alice' },
        to: { instance: 'beta.test', local: 'bob' },
        contentType: 'message/rfc822',
        body: raw,
        e2e: false,
        created: now,
      },
      { prekey: choosePrekey(prekeys.value, now)!, signingKey: signingKeyOf(alphaId) },
    );
    const signature = await signRequest(
      {
        instance: 'alpha.test',
        method: 'POST',
        path: INBOX_PATH,
        destination: 'beta.test',
        body: envelope,
        created: now,
      },
      signingKeyOf(alphaId),
    );
    return {
      /** Posts the delivery to the inbox at `url` (a process of beta); resolves the status and the parsed answer. */
      post: async (url: string): Promise<{ status: number; body: any }> => {
        const answer = await peerRequest({
          url: `${url}${INBOX_PATH}`,
          method: 'POST',
          headers: { 'content-type': ENVELOPE_MEDIA_TYPE, [REQUEST_SIGNATURE_HEADER]: signature },
          body: envelope,
          pinSha256: betaId.tls.fingerprintSha256,
          clientCert: alphaId.tls,
        });
        return { status: answer.status, body: JSON.parse(answer.body.toString('utf8')) };
      },
    };
  }

  /** The registry's feed, verified with the key set it publishes. */
  async function feedEntry(domain: string): Promise<FeedInstance> {
    const keys = parseKeySet(ok(await json(`${registry}/v1/keys`)));
    assert.ok(keys.ok);
    const bytes = new Uint8Array(await (await fetch(`${registry}/v1/index`)).arrayBuffer());
    const feed = await verifyFeed(bytes, { keySet: keys.value, now: Math.floor(Date.now() / 1000) });
    assert.ok(feed.ok, 'the feed verifies');
    return feed.value.feed.instances.find((i) => i.domain === domain)!;
  }

  beforeAll(async () => {
    // 1. `caliopen federation` prepares, applies, audits and labels both members, and says the federation is open.
    // Three more ports: beta's inner HTTPS port (behind the recording relay), a second beta process's HTTP and HTTPS.
    const prepared = await prepareLocalFederation(dataDir, { extraPorts: 3, timeoutMs: 240_000 });
    assert.equal(prepared.output.match(/federation open: mail to @/g)?.length, 2, prepared.output);
    ports = prepared.ports;
    betaInner = ports.extra[0]!;
    alpha = `http://127.0.0.1:${ports.alpha.http}`;
    beta = `http://127.0.0.1:${ports.beta.http}`;
    registry = `http://127.0.0.1:${ports.registry}`;
    ({ credentials, passwordOf } = prepared);

    // 2. The same processes, run one by one: alpha retries quickly (backoff bounded at 2 s); beta's public face moves behind a recording relay
    //    on the port the feed lists for it, so that every byte alpha sends beta crosses the relay.
    mergeConfig(
      alphaDir,
      (c) => (c.outbound = { ...c.outbound, retry: { attempts: 100, baseDelayMs: 250, maxDelayMs: 2000 } }),
    );
    mergeConfig(betaDir, (c) => (c.https = { ...c.https, port: betaInner }));
    capture = await startWireCapture(ports.beta.https, betaInner);
    resolver = await startLoopbackResolver({
      port: ports.resolver,
      routes: [
        { zone: 'alpha.test', host: '127.0.0.1', port: ports.alpha.dns },
        { zone: 'beta.test', host: '127.0.0.1', port: ports.beta.dns },
      ],
      fallback: null,
    });
    await Promise.all([startMember('alpha.test'), startMember('beta.test')]);
    const reg = spawnCaliopen(['registry', 'start', '--data-dir', join(dataDir, 'registry')], {
      name: 'registry',
      cwd: ROOT,
      env: cleanEnv(),
    });
    running.set('registry', reg);
    await untilReady(reg, () => answers(`${registry}/v1/keys`), 120_000);

    alice = await login(alpha, 'alice');
    bob = await login(beta, 'bob');
    // Keys on both sides, server-held (alpha finds bob's through beta's key directory); bob knows alice.
    ok(
      await json(`${beta}/api/v1/keys`, {
        method: 'POST',
        token: bob.token,
        body: { mode: 'server', password: passwordOf('bob') },
      }),
      201,
    );
    ok(
      await json(`${alpha}/api/v1/keys`, {
        method: 'POST',
        token: alice.token,
        body: { mode: 'server', password: passwordOf('alice') },
      }),
      201,
    );
    ok(
      await json(`${beta}/api/v1/contacts`, {
        method: 'POST',
        token: bob.token,
        body: { displayName: 'Alice', identities: [{ address: 'alice@alpha.test' }] },
      }),
      201,
    );
    // Each member's peer directory lists the other as labelled (synced from the registry, not asked per message).
    await waitFor(
      async () =>
        (await json(`${alpha}/api/v1/routes?to=bob@beta.test`, { token: alice.token })).body?.chosen === 'federation',
      60_000,
      250,
    );
    await waitFor(
      async () =>
        (await json(`${beta}/api/v1/routes?to=alice@alpha.test`, { token: bob.token })).body?.chosen === 'federation',
      60_000,
      250,
    );
  });

  afterAll(async () => {
    for (const [name, child] of [...running].reverse()) {
      await child.stop('SIGTERM');
      running.delete(name);
    }
    await capture?.close();
    await resolver?.close();
    tmp.cleanup();
  });

  test('alice sends to bob: over the federation, PI >= 80 with alpha’s label and PI, a receipt alice holds, and nothing on the wire reveals sender or content', async () => {
    // Brand-new instances got their first label: nobody was told of a stop, so nobody is told federation "resumed".
    for (const [api, token] of [
      [alpha, alice.token],
      [beta, bob.token],
    ] as const) {
      assert.deepEqual(
        (await mailbox(api, token)).filter((m) => /^Federation (resumed|paused)/.test(m.subject ?? '')),
        [],
        `${api}: a standing notice on the first labelling`,
      );
    }
    const subject = `Quarterly figures ${Date.now()}`;
    const marker = 'The-vault-code-is-7741-ZEBRA';
    const sent = ok(
      await json(`${alpha}/api/v1/messages`, {
        method: 'POST',
        token: alice.token,
        body: { to: [{ address: 'bob@beta.test' }], subject, text: `Hello Bob, ${marker}.`, encryption: 'require' },
      }),
      202,
    );
    assert.deepEqual(
      sent.recipients.map((r: any) => [r.address, r.route]),
      [['bob@beta.test', 'federation']],
    );
    assert.equal(sent.encrypted, true);

    const got = await received(beta, bob.token, subject);
    assert.equal(got.facts.transport.via, 'federation', 'not SMTP');
    assert.match(got.body.text, new RegExp(marker), 'bob reads it (decrypted with his server-side key)');
    assert.equal(got.facts.openpgp.encrypted, true);
    const alphaEntry = await feedEntry('alpha.test');
    assert.deepEqual(
      {
        peer: got.facts.federation.peerDomain,
        label: got.facts.federation.labelValid,
        pi: got.facts.federation.peerInstancePi,
        sealed: got.facts.federation.sealed,
        fs: got.facts.federation.forwardSecret,
      },
      { peer: 'alpha.test', label: true, pi: alphaEntry.pi.score, sealed: true, fs: true },
    );
    const factors = new Map<string, any>(got.pi.factors.map((f: any) => [f.id, f]));
    assert.match(factors.get('federation.label').evidence, /alpha\.test holds a valid label/);
    assert.match(factors.get('federation.instance_pi').evidence, new RegExp(`instance PI is ${alphaEntry.pi.score}`));
    assert.ok(
      got.pi.score >= 80,
      `PI ${got.pi.score}: ${got.pi.factors.map((f: any) => `${f.id}=${f.contribution}`).join(', ')}`,
    );

    // Alice's Sent copy holds beta's receipt, signed by the key the registry's feed lists for beta.
    let delivery: any = null;
    await waitFor(
      async () => {
        delivery =
          ok(await json(`${alpha}/api/v1/messages/${sent.id}`, { token: alice.token })).deliveries.find(
            (d: any) => d.domain === 'beta.test',
          ) ?? null;
        return delivery !== null;
      },
      30_000,
      250,
    );
    assert.equal(delivery.via, 'federation');
    const betaEntry = await feedEntry('beta.test');
    const receipt = await verifyReceipt(delivery.receipt, {
      signingKeys: [betaEntry.keys.signing],
      expectedTo: { instance: 'beta.test', local: 'bob' },
    });
    assert.ok(receipt.ok, 'the receipt verifies against beta’s key in the feed');
    assert.equal(receipt.value.status, 'delivered');

    // The wire, everything alpha and beta exchanged since they started (key directory, prekeys, this delivery; a
    // connection is kept alive between requests): TLS records only; the one name in clear is the destination's (SNI).
    const wire = capture.bytes();
    assert.ok(
      capture.connections >= 1 && wire.length > 2000,
      `the relay saw the delivery (${capture.connections} connections, ${wire.length} bytes)`,
    );
    for (const stream of capture.clientStreams())
      assert.equal(stream[0], 0x16, 'each connection opens with a TLS handshake record');
    assert.ok(wire.includes('beta.test'), 'the destination instance is visible (SNI), as the threat model says');
    for (const secret of ['alice', 'Alice', 'alpha.test', marker, subject, 'Quarterly', 'bob@']) {
      assert.equal(wire.includes(secret), false, `"${secret}" must not cross the wire in clear`);
    }
  });

  test('beta stopped: alice’s messages queue and are retried; beta restarted: each arrives exactly once', async () => {
    await stop('beta.test');
    const subjects = [1, 2, 3].map((i) => `while beta was down #${i} ${Date.now()}`);
    const ids: string[] = [];
    // Not encrypted: bob's server-held key stays locked after beta's restart until he logs in again, and a message
    // arriving meanwhile keeps its protected subject ("...") — this test is about the queue, not about E2E.
    for (const subject of subjects) {
      const sent = ok(
        await json(`${alpha}/api/v1/messages`, {
          method: 'POST',
          token: alice.token,
          body: {
            to: [{ address: 'bob@beta.test' }],
            subject,
            text: 'queued, retried, delivered once',
            encryption: 'none',
          },
        }),
        202,
      );
      assert.deepEqual(
        sent.recipients.map((r: any) => [r.route, r.status]),
        [['federation', 'queued']],
      );
      ids.push(sent.id);
    }
    // Alpha keeps trying: its log (what an operator sees; ids and counts, no content) shows each message deferred
    // and attempted again with backoff. While beta is down its name does not even resolve (beta's DNS responder is
    // down with it), so nothing reaches the wire.
    const attempts = (id: string) =>
      running
        .get('alpha.test')!
        .output()
        .split('\n')
        .filter((l) => l.includes('"federation delivery attempt"') && l.includes(`"messageId":"${id}"`))
        .map((l) => JSON.parse(l) as { attempt: number; deferred: number; delivered: number });
    await waitFor(
      async () => ids.every((id) => attempts(id).filter((a) => a.deferred === 1).length >= 3),
      60_000,
      250,
    ).catch((e) => {
      throw new Error(
        `${(e as Error).message}: ${ids.map((id) => attempts(id).length).join(', ')} attempts\n${running.get('alpha.test')!.output().slice(-3000)}`,
      );
    });
    for (const id of ids)
      assert.deepEqual(
        attempts(id)
          .slice(0, 3)
          .map((a) => a.attempt),
        [1, 2, 3],
        'retried, one attempt after the other',
      );
    for (const id of ids)
      assert.deepEqual(
        ok(await json(`${alpha}/api/v1/messages/${id}`, { token: alice.token })).deliveries,
        [],
        'not delivered while beta is down',
      );

    await startMember('beta.test');
    bob = await login(beta, 'bob');
    for (const subject of subjects) {
      await received(beta, bob.token, subject, 120_000).catch((e) => {
        throw new Error(
          `${(e as Error).message}: ${subject} not received; alpha's attempts: ${JSON.stringify(ids.map((id) => attempts(id).map((a) => a.attempt)))}\n${running.get('alpha.test')!.output().slice(-2000)}`,
        );
      });
    }
    for (const id of ids) {
      await waitFor(
        async () =>
          ok(await json(`${alpha}/api/v1/messages/${id}`, { token: alice.token })).deliveries.some(
            (d: any) => d.via === 'federation' && d.receipt,
          ),
        30_000,
        250,
      );
    }
    // Later retries, if any were in flight, must not store a second copy.
    await new Promise((r) => setTimeout(r, 3000));
    const box = await mailbox(beta, bob.token);
    for (const subject of subjects)
      assert.equal(box.filter((m) => m.subject === subject).length, 1, `${subject}: exactly once`);
  });

  test('a second process of beta (same instance, its own ports) opens what alice seals to the first one’s prekeys, and refuses a replay of what the first one accepted (issue 15 item 5)', async () => {
    const [http2, https2] = ports.extra.slice(1) as [number, number];
    const second = spawnCaliopen(['instance', 'start', '--data-dir', betaDir], {
      name: 'beta.test (2)',
      cwd: ROOT,
      env: cleanEnv({
        CALIOPEN_HTTP_PORT: String(http2),
        CALIOPEN_HTTPS_PORT: String(https2),
        CALIOPEN_SMTP_ENABLED: 'false',
        CALIOPEN_DNS_ENABLED: 'false',
      }),
    });
    running.set('beta.test (2)', second);
    try {
      await untilReady(second, () => answers(`http://127.0.0.1:${http2}/healthz`), 120_000);
      const first = `https://127.0.0.1:${betaInner}`;
      const other = `https://127.0.0.1:${https2}`;

      // Accepted by the first process: stored once for bob, with a signed receipt.
      const once = await handMadeDelivery('two processes, accepted once', first);
      const accepted = await once.post(first);
      assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
      assert.equal(typeof accepted.body.receipt, 'string');
      await received(beta, bob.token, 'two processes, accepted once');
      // The same request to the other process: refused as a replay, with the receipt the first one issued.
      const replayed = await once.post(other);
      assert.equal(replayed.status, 409, JSON.stringify(replayed.body));
      assert.equal(replayed.body.code, 'envelope_replayed');
      assert.equal(replayed.body.receipt, accepted.body.receipt, 'the original receipt, from the shared record');

      // Sealed to the prekeys the first process lists, delivered to the other: opened there (the prekeys are shared).
      const crossed = await handMadeDelivery('sealed for one process, opened by the other', first);
      const opened = await crossed.post(other);
      assert.equal(opened.status, 200, JSON.stringify(opened.body));
      const api2 = `http://127.0.0.1:${http2}`;
      await received(api2, bob.token, 'sealed for one process, opened by the other');
      const copies = (await mailbox(beta, bob.token)).filter((m) =>
        ['two processes, accepted once', 'sealed for one process, opened by the other'].includes(m.subject),
      );
      assert.equal(copies.length, 2, 'each stored once, seen by both processes');
    } finally {
      running.delete('beta.test (2)');
      assert.equal(await second.stop('SIGTERM'), 0, second.output().slice(-2000));
    }
  });

  test('the registry revokes alpha: beta refuses alpha’s deliveries (peer_not_labelled); alpha stops offering the federation and tells its users why', async () => {
    // Revocation by consensus: every auditor of the local federation approves the proposal.
    let revoked: any = null;
    for (const auditor of credentials.registry.auditors) {
      const session = ok(
        await json(`${registry}/v1/auth/login`, {
          method: 'POST',
          body: { name: auditor.name, password: auditor.password },
        }),
      );
      const r = await json(`${registry}/v1/audit/instances/alpha.test/revoke`, {
        method: 'POST',
        token: session.token,
        body: { reason: 'charter breach found in an audit' },
      });
      assert.ok(r.status === 200 || r.status === 202, JSON.stringify(r.body));
      revoked = r.body;
    }
    assert.equal(revoked.status, 'revoked');

    // Beta's next feed sync: its route preview to alice says alpha's label is not valid.
    let betaView: any = null;
    await waitFor(
      async () => {
        betaView = ok(await json(`${beta}/api/v1/routes?to=alice@alpha.test`, { token: bob.token })).routes.find(
          (r: any) => r.route === 'federation',
        );
        return betaView?.available === false;
      },
      60_000,
      250,
    );
    assert.match(betaView.reason, /alpha\.test.*revoked/);

    // A delivery signed by alpha's own keys, with its certificate, is refused with a stable code; nothing stored.
    const betaUrl = `https://127.0.0.1:${betaInner}`;
    const delivery = await handMadeDelivery('after the revocation', betaUrl);
    const before = (await mailbox(beta, bob.token)).length;
    const refused = await delivery.post(betaUrl);
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    assert.equal(refused.body.code, 'peer_not_labelled');
    assert.equal((await mailbox(beta, bob.token)).length, before, 'nothing stored');

    // Alpha learns of its own revocation from the feed: the federation route is withdrawn, and users are told why.
    let standing: any = null;
    await waitFor(
      async () => {
        standing = ok(await json(`${alpha}/api/v1/federation`, { token: alice.token }));
        return standing.standing.status === 'revoked';
      },
      60_000,
      250,
    );
    assert.equal(standing.federationRoutes, 'closed');
    assert.equal(
      standing.directory.ownEntryMismatch,
      null,
      "the feed's entry for alpha lists alpha's own keys and certificate",
    );
    assert.match(standing.explanation, /revoked the label of alpha\.test/);
    await waitFor(
      async () =>
        ok(await json(`${alpha}/api/v1/federation`, { token: alice.token })).explanation.includes(
          'charter breach found in an audit',
        ),
      30_000,
      250,
    );
    const preview = ok(await json(`${alpha}/api/v1/routes?to=bob@beta.test`, { token: alice.token }));
    const federation = preview.routes.find((r: any) => r.route === 'federation');
    assert.equal(federation.available, false);
    assert.match(federation.reason, /revoked/);
    assert.notEqual(preview.chosen, 'federation');
    const notice = await received(alpha, alice.token, "Federation paused: this instance's label was revoked");
    assert.ok(notice.tags.includes('notice'));
    assert.match(
      notice.body.text,
      /revoked the label of alpha\.test \(the reason it published: "charter breach found in an audit"\)/,
    );

    // Mail to bob now goes by email (beta's SMTP), not over the federation.
    const sent = ok(
      await json(`${alpha}/api/v1/messages`, {
        method: 'POST',
        token: alice.token,
        body: {
          to: [{ address: 'bob@beta.test' }],
          subject: 'by email now',
          text: 'the federation is closed for alpha',
          encryption: 'none',
        },
      }),
      202,
    );
    assert.notEqual(sent.recipients[0].route, 'federation');
    const got = await received(beta, bob.token, 'by email now');
    assert.equal(got.facts.transport.via, 'smtp');
  });
});
