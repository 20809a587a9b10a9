/**
 * The registry flow as operators run it, with real processes on loopback: a registry process, an instance process,
 * the instance applying with `caliopen instance apply`, the registry's checks running for real against the instance
 * (its TLS endpoint, its well-known challenge and descriptor; DNS through a DNS server that serves nothing for the
 * instance yet, so the DNS checks report what is missing), two auditors approving, and the label appearing in the
 * signed feed and in the transparency log with an inclusion proof that verifies. Then revocation.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, test } from 'vitest';
import {
  canonicalJson,
  decodeBase64,
  decodeProof,
  leafHash,
  parseKeySet,
  unwrap,
  utf8Encode,
  verifyCheckpoint,
  verifyFeed,
  verifyInclusion,
  verifyLabel,
  type KeySet,
} from '@caliopen/federation-protocol';
import { type Api, jsonApi } from '../support/api-client.ts';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.ts';
import { freePort } from '../support/net.ts';
import { answers, caliopen, caliopenAsync, startCaliopen, type RunningProcess } from '../support/process.ts';
import { tempDir } from '../support/tmp.ts';

const now = () => Math.floor(Date.now() / 1000);

describe('an instance process applies to a registry process and gets labelled', () => {
  const tmp = tempDir('caliopen-registry-e2e-');
  const registryDir = join(tmp.dir, 'registry');
  const instanceDir = join(tmp.dir, 'alpha');
  let dns: TestDnsServer;
  let registry: RunningProcess;
  let instance: RunningProcess;
  let registryUrl = '';
  let httpsPort = 0;
  const auditors: { name: string; password: string; token?: string }[] = [];
  let keySet: KeySet;

  /** The registry process's API (its URL is known once it runs). */
  const api: Api = (method, path, options) => jsonApi(registryUrl)(method, path, options);

  beforeAll(async () => {
    dns = await startDnsServer({ zone: {} });
    const registryPort = await freePort();
    registryUrl = `http://127.0.0.1:${registryPort}`;
    const httpPort = await freePort();
    httpsPort = await freePort();

    const init = caliopen([
      'registry',
      'init',
      '--data-dir',
      registryDir,
      '--origin',
      'registry.test',
      '--http-port',
      String(registryPort),
    ]);
    assert.equal(init.code, 0, init.stderr);
    for (const name of ['ines', 'oscar']) {
      const added = caliopen(['registry', 'auditor', 'add', name, '--json', '--data-dir', registryDir]);
      assert.equal(added.code, 0, added.stderr);
      auditors.push({ name, password: JSON.parse(added.stdout).password });
    }
    registry = await startCaliopen(
      ['registry', 'start', '--data-dir', registryDir],
      {
        CALIOPEN_REGISTRY_DNS_SERVER: `127.0.0.1:${dns.port}`,
        CALIOPEN_REGISTRY_CONNECT_TO: `alpha.test=127.0.0.1:${httpsPort}`,
        CALIOPEN_LOG_LEVEL: 'warn',
      },
      () => answers(`${registryUrl}/v1/keys`),
    );

    const created = caliopen([
      'instance',
      'init',
      '--domain',
      'alpha.test',
      '--data-dir',
      instanceDir,
      '--http-port',
      String(httpPort),
    ]);
    assert.equal(created.code, 0, created.stderr);
    instance = await startCaliopen(
      ['instance', 'start', '--data-dir', instanceDir],
      { CALIOPEN_HTTPS_PORT: String(httpsPort), CALIOPEN_LOG_LEVEL: 'warn' },
      () => answers(`http://127.0.0.1:${httpPort}/healthz`),
    );
    keySet = unwrap(parseKeySet((await api('GET', '/v1/keys')).body));
  });

  afterAll(async () => {
    await instance?.stop();
    await registry?.stop();
    await dns?.close();
    tmp.cleanup();
  });

  test('`caliopen instance apply`: the declaration is signed, the challenge served, the real checks pass', async () => {
    const env = { CALIOPEN_HTTPS_PORT: String(httpsPort) };
    // A registry over plain HTTP (not loopback): refused before anything is written or sent (issue 16 point 4).
    const plain = await caliopenAsync(
      ['instance', 'apply', '--registry', 'http://registry.example.org', '--data-dir', instanceDir],
      { env },
    );
    assert.equal(plain.code, 2, plain.stderr);
    assert.match(plain.stderr, /--registry must be https:\/\/ \(plain http:\/\/ only to a loopback address\)/);
    const refused = await caliopenAsync(['instance', 'apply', '--registry', registryUrl, '--data-dir', instanceDir], {
      env,
    });
    assert.equal(refused.code, 2, 'no declaration and nothing to make one from');
    assert.match(refused.stderr, /--jurisdiction <CC> --admin-email/);

    const r = await caliopenAsync(
      [
        'instance',
        'apply',
        '--registry',
        registryUrl,
        '--jurisdiction',
        'FR',
        '--admin-email',
        'admin@alpha.test',
        '--yes',
        '--data-dir',
        instanceDir,
      ],
      { env },
    );
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    for (const id of ['domain.control', 'tls.certificate.san', 'tls.certificate.live', 'federation.descriptor']) {
      assert.match(r.stdout, new RegExp(`PASS\\s+${id.replaceAll('.', '\\.')}\\s`), `${id} passes:\n${r.stdout}`);
    }
    // No DNS records are published for alpha.test: the DNS checks say what is missing instead of passing.
    assert.match(r.stdout, /(FAIL|NOTICE)\s+dns\.[^\n]*_caliopen\.alpha\.test/);
    assert.match(r.stdout, /Auditors: 0\/2 approvals/);
    assert.ok(
      dns.queries.some((q) => q.name.endsWith('alpha.test')),
      `the registry really asked the DNS server: ${JSON.stringify(dns.queries)}\n${r.stdout}`,
    );
  });

  test('two auditors approve: the label is in the signed feed and in the log with an inclusion proof', async () => {
    for (const a of auditors) {
      const login = await api('POST', '/v1/auth/login', { body: { name: a.name, password: a.password } });
      assert.equal(login.status, 200, `${login.text} ${JSON.stringify(auditors)}`);
      a.token = login.body.token;
    }
    const queue = await api('GET', '/v1/audit/applications', { token: auditors[0]!.token! });
    assert.equal(queue.status, 200, queue.text);
    const application = (queue.body.items ?? queue.body.applications ?? queue.body).find(
      (x: { domain: string }) => x.domain === 'alpha.test',
    );
    assert.ok(application, queue.text);
    for (const a of auditors) {
      const v = await api('POST', `/v1/audit/applications/${application.id}/votes`, {
        token: a.token!,
        body: { vote: 'approve' },
      });
      assert.equal(v.status, 200, v.text);
    }

    const label = await caliopenAsync(['instance', 'label', '--json', '--data-dir', instanceDir]);
    assert.equal(label.code, 0, label.stderr);
    const view = JSON.parse(label.stdout);
    assert.equal(view.label.status, 'labelled');

    const feedResponse = await api('GET', '/v1/index');
    const verified = await verifyFeed(feedResponse.bytes, { keySet, now: now(), verifyLabels: true });
    assert.ok(verified.ok, verified.ok ? '' : verified.error.code);
    if (!verified.ok) return;
    const entry = verified.value.feed.instances.find((i) => i.domain === 'alpha.test');
    assert.ok(entry);
    assert.equal(entry.status, 'labelled');
    assert.equal(entry.labelId, view.label.id);
    const claims = unwrap(await verifyLabel(entry.label, { keySet, expectedDomain: 'alpha.test', now: now() }));
    assert.ok(claims.expiresAt - claims.issuedAt <= 14 * 24 * 3600, 'short-lived');

    const checkpoint = unwrap(
      await verifyCheckpoint(verified.value.feed.checkpoint, { keySet, now: now() }),
    ).checkpoint;
    const entries = await api('GET', `/v1/log/entries?start=0&end=${checkpoint.treeSize}`);
    const issued = entries.body.entries.find(
      (e: { entry: { type: string; labelId?: string } }) =>
        e.entry.type === 'label.issued' && e.entry.labelId === claims.id,
    );
    assert.ok(issued, 'the issue is logged');
    const proof = await api('GET', `/v1/log/proof/inclusion?index=${issued.index}&size=${checkpoint.treeSize}`);
    const leaf = leafHash(utf8Encode(canonicalJson(issued.entry)));
    assert.ok(
      verifyInclusion(
        leaf,
        issued.index,
        checkpoint.treeSize,
        decodeProof(proof.body.proof)!,
        decodeBase64(checkpoint.rootHash)!,
      ),
    );
  });

  test('revocation by consensus is in the feed at once and in the log; the instance sees it', async () => {
    // Revocation by consensus: one auditor proposes, the second approves.
    const proposed = await api('POST', '/v1/audit/instances/alpha.test/revoke', {
      token: auditors[0]!.token!,
      body: { reason: 'test of revocation' },
    });
    assert.equal(proposed.status, 202, proposed.text);
    const r = await api('POST', '/v1/audit/instances/alpha.test/revoke', {
      token: auditors[1]!.token!,
      body: { reason: 'test of revocation' },
    });
    assert.equal(r.status, 200, r.text);
    const verified = await verifyFeed((await api('GET', '/v1/index')).bytes, { keySet, now: now() });
    assert.ok(verified.ok);
    if (!verified.ok) return;
    assert.equal(verified.value.feed.instances.find((i) => i.domain === 'alpha.test')?.status, 'revoked');
    const size = verified.value.feed.checkpoint
      ? unwrap(await verifyCheckpoint(verified.value.feed.checkpoint, { keySet, now: now() })).checkpoint.treeSize
      : 0;
    const entries = await api('GET', `/v1/log/entries?start=0&end=${size}`);
    assert.ok(entries.body.entries.some((e: { entry: { type: string } }) => e.entry.type === 'label.revoked'));
    const label = await caliopenAsync(['instance', 'label', '--data-dir', instanceDir]);
    assert.match(label.stdout, /revoked: test of revocation/);
  });
});
