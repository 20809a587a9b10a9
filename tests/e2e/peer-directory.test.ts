import assert from 'node:assert/strict';
import { openSse } from '../support/sse-client.ts';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { PeerDirectory, readPinnedKeySet } from '@caliopen/instance/federation/peer-directory.ts';
import { keySetDocument } from '../../federation-protocol/src/testing/fixtures.ts';
import {
  applicationFor,
  startTestInstanceSite,
  startTestRegistry,
  type TestInstanceSite,
  type TestRegistry,
} from '../support/registry.ts';
import { startTestInstance, type TestInstance } from '../support/instance.ts';
import { tempDir } from '../support/tmp.ts';

/**
 * The peer directory against a real registry: alpha.test applies, passes the real checks, is approved by two
 * auditors; an instance for alpha.test syncs the signed feed (full, then deltas, 304), takes its own standing from it
 * (the account PI stops being capped as unlabelled), and learns of its revocation at the next sync.
 */
describe('peer directory: an instance syncs the real registry feed', () => {
  let reg: TestRegistry;
  let site: TestInstanceSite;
  let instance: TestInstance;
  let keysJson = '';
  const tmp = tempDir('caliopen-peer-directory-');

  beforeAll(async () => {
    site = await startTestInstanceSite('alpha.test');
    reg = await startTestRegistry({ maintenance: false });
    reg.connect(site.domain, site.connectTo);
    keysJson = (await reg.api('GET', '/v1/keys')).text;
    const alice = await reg.auditor('alice');
    const bob = await reg.auditor('bob');
    const applied = await reg.api('POST', '/v1/applications', { body: await applicationFor(site) });
    assert.equal(applied.status, 201, applied.text);
    site.publishChallenge(applied.body.challenge.token, applied.body.challenge.value);
    const verified = await reg.api('POST', `/v1/applications/${applied.body.id}/verify`, { token: applied.body.token });
    assert.equal(verified.status, 200, verified.text);
    for (const auditor of [alice, bob]) {
      const r = await reg.api('POST', `/v1/audit/applications/${applied.body.id}/votes`, {
        token: auditor.token,
        body: { vote: 'approve' },
      });
      assert.equal(r.status, 200, r.text);
    }
    instance = await startTestInstance({
      domain: 'alpha.test',
      env: {
        CALIOPEN_FEDERATION_REGISTRY_URL: reg.url,
        CALIOPEN_FEDERATION_REGISTRY_KEYS: keysJson,
        CALIOPEN_FEDERATION_SYNC_SECONDS: '3600',
      },
    });
  });
  afterAll(async () => {
    await instance?.stop();
    await reg?.stop();
    await site?.stop();
    tmp.cleanup();
  });

  test('the running instance syncs at start and its own standing lifts the unlabelled cap of account PIs', async () => {
    const directory = instance.running.services.federation!;
    assert.ok(directory, 'federation is on');
    for (let i = 0; i < 200 && directory.status().serial === null; i++) await sleep(25);
    assert.equal(directory.status().lastError, null);
    assert.ok(directory.status().serial! >= 1);
    const standing = directory.standing();
    assert.equal(standing.labelValid, true);
    assert.equal(typeof standing.instancePi, 'number');
    const user = await instance.user('carol');
    const pi = await instance.api('GET', '/api/v1/privacy', { token: user.token });
    assert.equal(pi.status, 200, pi.text);
    assert.doesNotMatch(pi.text, /cap\.instance_unlabelled/);
    assert.match(pi.text, /instance\.labelled/);
    // The operator's console lists the instances of the verified feed (here: this one, labelled).
    const admin = await instance.user('root', 'admin');
    const peers = await instance.api('GET', '/api/v1/admin/peers', { token: admin.token });
    assert.equal(peers.status, 200, peers.text);
    assert.equal(peers.body.enabled, true);
    assert.deepEqual(
      peers.body.items.map((p: { domain: string; status: string; labelValid: boolean }) => [
        p.domain,
        p.status,
        p.labelValid,
      ]),
      [['alpha.test', 'labelled', true]],
    );
    assert.equal(peers.body.items[0].instancePi, standing.instancePi);
  });

  test('full feed, 304 on the next delta, then a revocation as a delta with a real consistency proof', async () => {
    const directory = new PeerDirectory({
      registryUrl: reg.url,
      keySet: readPinnedKeySet(keysJson),
      dataDir: tmp.dir,
      ownDomain: 'beta.test',
      clock: () => new Date(),
      syncSeconds: 300,
    });
    assert.equal(await directory.sync(), 'full');
    const peer = directory.peer('alpha.test')!;
    assert.equal(peer.labelValid, true);
    assert.equal(peer.certificateSha256, site.identity.tls.fingerprintSha256);
    assert.deepEqual(peer.keys.signing, site.signingJwk);
    const sizeBefore = directory.status().checkpointSize!;
    assert.equal(await directory.sync(), 'unchanged');

    // Revocation is the auditors' consensus: dave proposes (202, one approval of two), erin's approval revokes.
    const auditors = [await reg.auditor('dave'), await reg.auditor('erin')];
    const proposed = await reg.api('POST', '/v1/audit/instances/alpha.test/revoke', {
      token: auditors[0]!.token,
      body: { reason: 'test of revocation' },
    });
    assert.equal(proposed.status, 202, proposed.text);
    const revoked = await reg.api('POST', '/v1/audit/instances/alpha.test/revoke', {
      token: auditors[1]!.token,
      body: { reason: 'test of revocation' },
    });
    assert.equal(revoked.status, 200, revoked.text);
    assert.equal(await directory.sync(), 'delta');
    assert.equal(directory.status().lastError, null);
    assert.ok(directory.status().checkpointSize! > sizeBefore, 'the revocation grew the log');
    assert.equal(directory.peer('alpha.test')?.status, 'revoked');
    assert.equal(directory.peer('alpha.test')?.labelValid, false);

    // The instance learns it at its next sync; its users' open apps are told, and a notice says why in their words.
    const dora = await instance.user('dora');
    const live = await openSse(`${instance.url}/api/v1/events`, dora.token);
    await live.next((e) => e.event === 'hello');
    const own = instance.running.services.federation!;
    assert.equal(await own.sync(), 'delta');
    assert.deepEqual(own.standing().labelValid, false);
    const told = await live.next((e) => e.event === 'notices.changed');
    assert.equal(told.data.reason, 'standing.changed');
    live.close();
    const notices = await instance.api('GET', '/api/v1/notices', { token: dora.token });
    const standing = notices.body.items.find((n: { kind: string }) => n.kind === 'standing');
    assert.ok(standing, notices.text);
    assert.deepEqual(
      [standing.change, standing.status, standing.reason, standing.dismissed],
      ['stopped', 'revoked', 'test of revocation', false],
    );
  });

  test('a directory pinned to other keys refuses the real feed', async () => {
    const other = tempDir('caliopen-peer-directory-other-');
    try {
      const directory = new PeerDirectory({
        registryUrl: reg.url,
        keySet: readPinnedKeySet(JSON.stringify(keySetDocument)),
        dataDir: other.dir,
        ownDomain: 'beta.test',
        clock: () => new Date(),
        syncSeconds: 300,
      });
      assert.equal(await directory.sync(), 'refused');
      assert.equal(directory.status().lastError?.code, 'feed_unknown_key');
      assert.equal(directory.peer('alpha.test'), null);
    } finally {
      other.cleanup();
    }
  });
});
