/**
 * The public HTTPS face under attack (issue 16, points 5 and 6), against the real instance process
 * (`caliopen instance start`) on loopback. beta.test is the instance; alpha.test is a labelled peer played by this test
 * (its own keys and TLS client certificate, listed with beta in a registry feed signed by the test registry key and
 * kept in beta's data directory, as a sync would have left it).
 *
 * - 8 anonymous 22 MB posts (chunked) to the inbox at once: refused from their headers, never read; the process's
 *   RSS stays within 64 MB of what it was before.
 * - A client that drips its headers is cut once the configured headers timeout passes.
 * - A labelled peer flooding the inbox gets 429 peer_rate_limited with Retry-After beyond its allowance; so does one
 *   address beyond its own, on any route.
 * - The process is SIGKILLed between the replay claim and the filing of an envelope (CALIOPEN_TEST_CRASH_AT); after a
 *   restart the sender's redelivery of the same envelope completes it: 200 with a receipt, the message in bob's
 *   mailbox exactly once, and a further replay answered 409 with the receipt.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, test } from 'vitest';
import {
  ENVELOPE_MEDIA_TYPE,
  INBOX_PATH,
  PREKEYS_PATH,
  REQUEST_SIGNATURE_HEADER,
  buildFeed,
  choosePrekey,
  jwkThumbprint,
  sealEnvelope,
  signRequest,
  verifyPrekeyList,
  verifyReceipt,
  type Ed25519KeyPair,
} from '@caliopen/federation-protocol';
import { spawnCaliopen, untilReady, type CaliopenChild } from '@caliopen/cli/federation.children.ts';
import { AccountService } from '@caliopen/instance/accounts/account.service.ts';
import { initInstance } from '@caliopen/instance/app/instance.init.ts';
import { peerRequest, type PeerResponse } from '@caliopen/instance/federation/federation.client.ts';
import { loadInstanceIdentity, type InstanceIdentity } from '@caliopen/instance/identity/instance-identity.ts';
import { SqliteStorage } from '@caliopen/instance/storage/storage.sqlite.ts';
import { systemClock } from '@caliopen/platform/clock/clock.port.ts';
import { loadMasterKey } from '@caliopen/platform/crypto/master-key.store.ts';
import { PasswordHasher } from '@caliopen/platform/crypto/password.hasher.ts';
import { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import {
  REGISTRY,
  feedEntryFor,
  instanceFixture,
  keySetDocument,
  logTree,
  samplePi,
  signedCheckpointOf,
  type InstanceFixture,
} from '../../federation-protocol/src/testing/fixtures.ts';
import { freePort, waitFor } from '../support/net.ts';
import { ROOT, answers } from '../support/process.ts';
import { generateCertificate, type TestCertificate } from '../support/tls-server.ts';
import { tempDir } from '../support/tmp.ts';

const tmp = tempDir('caliopen-face-');
const dataDir = join(tmp.dir, 'beta.test');
const HEADERS_TIMEOUT_MS = 1000;
const PEER_BURST = 5;
const IP_BURST = 60;
const ANONYMOUS_POSTS = 8;
const ANONYMOUS_BYTES = 22 * 1024 * 1024;

/** The environment without this test's own CALIOPEN_* settings. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CALIOPEN_'))),
    CALIOPEN_LOG_LEVEL: 'warn',
    ...extra,
  };
}

/** Resident memory of a process, from /proc (bytes). */
function rssOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line?.match(/(\d+)/)?.[1] ?? Number.NaN) * 1024;
}

describe('the public face of a real instance process under attack', { timeout: 600_000 }, () => {
  let ports: { http: number; https: number; deadRegistry: number };
  let beta: CaliopenChild | null = null;
  let betaId: InstanceIdentity;
  let alpha: InstanceFixture & { signingKey: Ed25519KeyPair };
  let alphaCert: TestCertificate;
  let bobId: string;
  const api = () => `http://127.0.0.1:${ports.http}`;
  const face = () => `https://127.0.0.1:${ports.https}`;

  async function startBeta(extra: Record<string, string> = {}): Promise<CaliopenChild> {
    const child = spawnCaliopen(['instance', 'start', '--data-dir', dataDir], {
      name: 'beta.test',
      cwd: ROOT,
      env: cleanEnv({
        CALIOPEN_HTTP_PORT: String(ports.http),
        CALIOPEN_HTTPS_PORT: String(ports.https),
        CALIOPEN_SMTP_ENABLED: 'false',
        CALIOPEN_DNS_ENABLED: 'false',
        // The feed is the one kept in the data directory: the registry is not reachable, nothing replaces it.
        CALIOPEN_FEDERATION_REGISTRY_URL: `http://127.0.0.1:${ports.deadRegistry}`,
        CALIOPEN_FEDERATION_REGISTRY_KEYS: JSON.stringify(keySetDocument),
        CALIOPEN_FEDERATION_SYNC_SECONDS: '3600',
        CALIOPEN_HTTPS_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
        CALIOPEN_HTTPS_IDLE_TIMEOUT_MS: '5000',
        CALIOPEN_HTTPS_PEER_BURST: String(PEER_BURST),
        CALIOPEN_HTTPS_PEER_PER_SECOND: '1',
        CALIOPEN_HTTPS_IP_BURST: String(IP_BURST),
        CALIOPEN_HTTPS_IP_PER_SECOND: '1',
        ...extra,
      }),
    });
    await untilReady(child, () => answers(`${api()}/healthz`), 120_000);
    return child;
  }

  /** alpha's request to beta's public face: pinned to beta's certificate, with alpha's client certificate. */
  function fromAlpha(options: {
    method: 'GET' | 'POST';
    path: string;
    headers?: Record<string, string>;
    body?: Uint8Array;
  }) {
    return peerRequest({
      url: `${face()}${options.path}`,
      method: options.method,
      headers: options.headers ?? {},
      ...(options.body ? { body: options.body } : {}),
      pinSha256: betaId.tls.fingerprintSha256,
      clientCert: { certPem: alphaCert.certPem, keyPem: alphaCert.keyPem },
    });
  }

  async function signedPost(body: Uint8Array): Promise<PeerResponse> {
    const signature = await signRequest(
      {
        instance: 'alpha.test',
        method: 'POST',
        path: INBOX_PATH,
        destination: 'beta.test',
        body,
        created: Math.floor(Date.now() / 1000),
      },
      alpha.signingKey,
    );
    return fromAlpha({
      method: 'POST',
      path: INBOX_PATH,
      headers: { 'content-type': ENVELOPE_MEDIA_TYPE, [REQUEST_SIGNATURE_HEADER]: signature },
      body,
    });
  }

  beforeAll(async () => {
    const [http, https, deadRegistry] = [await freePort(), await freePort(), await freePort()];
    ports = { http, https, deadRegistry };
    await initInstance({ domain: 'beta.test', dataDir, httpPort: '0' }, () => {});
    const storage = SqliteStorage.inDataDir(dataDir);
    bobId = (
      await new AccountService(storage, new PasswordHasher(), systemClock, 1024 ** 3).create({
        username: 'bob',
        password: 'pw-bob-0123456789',
      })
    ).id;
    await storage.close();
    betaId = await loadInstanceIdentity(dataDir, new SecretBox(loadMasterKey(dataDir)));
    alphaCert = await generateCertificate({ names: ['alpha.test'] });
    alpha = { ...instanceFixture('alpha.test'), certFingerprint: alphaCert.fingerprintSha256 } as typeof alpha;
    const signing = betaId.signing.publicJwk as Ed25519KeyPair['publicJwk'];
    const betaEntry: InstanceFixture = {
      domain: 'beta.test',
      signingKey: { kid: jwkThumbprint(signing), publicJwk: signing } as Ed25519KeyPair,
      encryptionJwk: betaId.encryption.publicJwk as InstanceFixture['encryptionJwk'],
      certFingerprint: betaId.tls.fingerprintSha256,
      pi: samplePi(90),
    };
    // The feed a sync would have stored: both labelled now, signed by the registry key the instance pins.
    const issuedAt = Math.floor(Date.now() / 1000) - 60;
    const feed = buildFeed({
      serial: 1,
      issuedAt,
      registry: REGISTRY,
      checkpoint: await signedCheckpointOf(logTree(2), issuedAt),
      instances: [await feedEntryFor(alpha, issuedAt), await feedEntryFor(betaEntry, issuedAt)],
    });
    mkdirSync(join(dataDir, 'federation'), { recursive: true, mode: 0o700 });
    writeFileSync(
      join(dataDir, 'federation', 'peer-directory.json'),
      JSON.stringify({
        version: 1,
        registryUrl: `http://127.0.0.1:${deadRegistry}`,
        feed,
        checkpoint: feed.checkpoint,
        etag: null,
        lastSyncAt: null,
        fork: null,
      }),
    );
  });

  afterAll(async () => {
    await beta?.stop('SIGTERM');
    tmp.cleanup();
  });

  test('8 anonymous 22 MB posts at once are refused from their headers: the process holds its memory', async () => {
    beta = await startBeta();
    const pid = beta.process.pid!;
    const baseline = rssOf(pid);
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssOf(pid));
    }, 20);
    const chunk = Buffer.alloc(256 * 1024, 0x41);
    const post = () =>
      new Promise<{ status: number | null; code: string | null }>((resolve) => {
        let settled = false;
        const done = (status: number | null, code: string | null) => {
          if (!settled) {
            settled = true;
            resolve({ status, code });
          }
        };
        const req = httpsRequest(
          `${face()}${INBOX_PATH}`,
          {
            method: 'POST',
            rejectUnauthorized: false,
            // Chunked, no Content-Length: nothing tells the size before the body is read (a declared length beyond
            // the inbox's limit is refused at once, 413, and was before too).
            headers: { 'content-type': ENVELOPE_MEDIA_TYPE, 'transfer-encoding': 'chunked' },
          },
          (res) => {
            const parts: Buffer[] = [];
            res.on('data', (d: Buffer) => parts.push(d));
            res.on('end', () => {
              let code: string | null = null;
              try {
                code = JSON.parse(Buffer.concat(parts).toString('utf8')).code ?? null;
              } catch {}
              done(res.statusCode ?? null, code);
            });
            res.on('error', () => done(res.statusCode ?? null, null));
          },
        );
        req.on('error', () => done(null, null));
        req.on('close', () => done(null, null));
        // The whole body, as fast as the server takes it (a refused connection ends the writing).
        let sent = 0;
        const pump = () => {
          while (sent < ANONYMOUS_BYTES && !req.destroyed) {
            sent += chunk.length;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          if (!req.destroyed) req.end();
        };
        pump();
      });
    const results = await Promise.all(Array.from({ length: ANONYMOUS_POSTS }, post));
    clearInterval(sampler);
    peak = Math.max(peak, rssOf(pid));
    const growth = peak - baseline;
    console.info(
      `RSS ${Math.round(baseline / 2 ** 20)} MB -> peak ${Math.round(peak / 2 ** 20)} MB; answers ${JSON.stringify(results)}`,
    );
    assert.ok(growth < 64 * 2 ** 20, `the process grew by ${Math.round(growth / 2 ** 20)} MB under anonymous posts`);
    for (const r of results)
      if (r.status !== null) assert.deepEqual(r, { status: 401, code: 'request_signature_missing' }, 'refused unread');
    assert.ok(
      results.some((r) => r.status === 401),
      'at least one post read its answer (the others may see the connection closed while still writing)',
    );
    assert.ok(await answers(`${api()}/healthz`), 'the instance still answers');
  });

  test('a client dripping its headers is cut once the headers timeout passes', async () => {
    const socket = tlsConnect({
      host: '127.0.0.1',
      port: ports.https,
      rejectUnauthorized: false,
      servername: 'beta.test',
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => resolve());
      socket.once('error', reject);
    });
    socket.on('error', () => undefined);
    let drips = 0;
    let closed = false;
    socket.once('close', () => {
      closed = true;
    });
    socket.write(`POST ${INBOX_PATH} HTTP/1.1\r\nHost: beta.test\r\n`);
    // One header line every 100 ms, never the blank line that ends them: the socket is never idle.
    const drip = setInterval(() => {
      if (socket.destroyed) return;
      drips++;
      socket.write(`X-Drip-${drips}: ${'a'.repeat(8)}\r\n`);
    }, 100);
    try {
      // Generous (20 times the configured timeout), and well under node's own default of 60 s.
      await waitFor(async () => closed, 20_000, 50);
    } finally {
      clearInterval(drip);
      socket.destroy();
    }
    assert.ok(drips > 0, 'the client was still dripping when the server closed');
  });

  test('a labelled peer flooding the inbox gets 429 peer_rate_limited with Retry-After beyond its allowance', async () => {
    const answersSeen: { status: number; code: string; retryAfter: string | undefined; type: string }[] = [];
    for (let i = 0; i < PEER_BURST * 3; i++) {
      const r = await signedPost(Buffer.from(`{"v":1,"flood":${i}}`));
      answersSeen.push({
        status: r.status,
        code: JSON.parse(r.body.toString('utf8')).code,
        retryAfter: r.retryAfter,
        type: r.contentType,
      });
    }
    assert.equal(answersSeen[0]!.code, 'envelope_malformed', 'authenticated and read: not a valid envelope');
    const limited = answersSeen.filter((a) => a.status === 429);
    assert.ok(limited.length >= PEER_BURST, JSON.stringify(answersSeen));
    for (const a of limited) {
      assert.equal(a.code, 'peer_rate_limited');
      assert.match(a.type, /application\/problem\+json/);
      assert.ok(Number(a.retryAfter) >= 1, `Retry-After: ${a.retryAfter}`);
    }
  });

  test('one address beyond its allowance gets 429 peer_rate_limited on any route', async () => {
    const statuses: number[] = [];
    let last: { code?: string; retryAfter?: string | null } = {};
    for (let i = 0; i < IP_BURST + 10; i++) {
      const r = await fromAlpha({ method: 'GET', path: '/healthz' });
      statuses.push(r.status);
      if (r.status === 429) last = { code: JSON.parse(r.body.toString('utf8')).code, retryAfter: r.retryAfter ?? null };
    }
    assert.ok(statuses.includes(429), `statuses: ${statuses.join(',')}`);
    assert.equal(last.code, 'peer_rate_limited');
    assert.ok(Number(last.retryAfter) >= 1);
    assert.equal(await beta!.stop('SIGTERM'), 0, beta!.output().slice(-2000));
    beta = null;
  });

  test('SIGKILL between the replay claim and the filing: the redelivery completes it, the message is stored once', async () => {
    beta = await startBeta({ CALIOPEN_TEST_CRASH_AT: 'inbox-claimed', NODE_ENV: 'test' });
    const now = Math.floor(Date.now() / 1000);
    const listed = await fromAlpha({ method: 'GET', path: PREKEYS_PATH });
    const prekeys = await verifyPrekeyList(JSON.parse(listed.body.toString('utf8')), {
      signingKeys: [betaId.signing.publicJwk as never],
      expectedDomain: 'beta.test',
      now,
    });
    assert.ok(prekeys.ok, 'beta publishes signed prekeys');
    const messageId = `<crash-${now}@alpha.test>`;
    const raw = Buffer.from(
      `From: alice@alpha.test\r\nTo: bob@beta.test\r\nSubject: survives the crash\r\nMessage-ID: ${messageId}\r\n\r\nhello\r\n`,
    );
    const sealed = await sealEnvelope(
      {
        from: { instance: 'alpha.test', account: 'alice' },
        to: { instance: 'beta.test', local: 'bob' },
        contentType: 'message/rfc822',
        body: raw,
        e2e: false,
        created: now,
      },
      { prekey: choosePrekey(prekeys.value, now)!, signingKey: alpha.signingKey },
    );
    const envelopeId = sealed.id;

    // The first delivery: beta claims the envelope and dies before filing it.
    await assert.rejects(signedPost(sealed.bytes), 'the connection dies with the process');
    assert.equal(await beta.exited, null);
    assert.equal(beta.process.signalCode, 'SIGKILL', 'the process died by SIGKILL');
    beta = null;

    // Restarted (without the hook): the sender retries the same envelope (same id), as it must without a receipt.
    beta = await startBeta();
    const retried = await signedPost(sealed.bytes);
    assert.equal(retried.status, 200, retried.body.toString('utf8'));
    const receipt = await verifyReceipt(JSON.parse(retried.body.toString('utf8')).receipt, {
      signingKeys: [betaId.signing.publicJwk as never],
      expectedEnvelopeId: envelopeId,
      expectedTo: { instance: 'beta.test', local: 'bob' },
    });
    assert.ok(receipt.ok, 'a receipt for this envelope, signed by beta');
    const again = await signedPost(sealed.bytes);
    assert.equal(again.status, 409);
    const replayed = JSON.parse(again.body.toString('utf8'));
    assert.equal(replayed.code, 'envelope_replayed');
    assert.equal(typeof replayed.receipt, 'string', 'a replay now carries the receipt');

    assert.equal(await beta.stop('SIGTERM'), 0, beta.output().slice(-2000));
    beta = null;
    const storage = SqliteStorage.inDataDir(dataDir);
    try {
      const rows = storage.db
        .prepare('SELECT COUNT(*) AS n FROM messages WHERE account_id = ? AND external_id = ?')
        .get(bobId, messageId) as { n: number };
      assert.equal(rows.n, 1, 'in bob’s mailbox exactly once');
    } finally {
      await storage.close();
    }
  });
});
