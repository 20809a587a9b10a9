import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { MAX_FEED_AGE_SECONDS } from '@caliopen/federation-protocol';
import { PeerDirectory, readPinnedKeySet } from '@caliopen/instance/federation/peer-directory.ts';
import {
  applicationFor,
  startTestInstanceSite,
  startTestRegistry,
  type TestInstanceSite,
  type TestRegistry,
} from '../support/registry.ts';
import { startTestInstance, type TestInstance } from '../support/instance.ts';
import { Middleman } from '../support/middleman.ts';
import { waitFor } from '../support/net.ts';
import { tempDir } from '../support/tmp.ts';

/**
 * Freshness of the feed against a real registry, on a simulated clock shared by the registry and a peer
 * (issue 16 point 4 and R7; docs/adr/0017-feed-freshness-and-staleness-bound.md). The peer reaches the registry
 * through a man in the middle on loopback that can forward, cut the registry off (an outage), or answer 304 to every
 * feed request (a withheld revocation).
 */
describe('feed freshness: a registry outage is survived, a withheld revocation stops working, both within the ADR 0017 bound', () => {
  let offsetMs = 0;
  const clock = () => new Date(Date.now() + offsetMs);
  const nowSeconds = () => Math.floor(clock().getTime() / 1000);
  /** Moves the shared clock so that it reads `seconds` (NumericDate). */
  const setNow = (seconds: number) => {
    offsetMs += seconds * 1000 - clock().getTime();
  };
  let reg: TestRegistry;
  let site: TestInstanceSite;
  let middleman: Middleman;
  let directory: PeerDirectory;
  /** alpha.test itself, on the shared clock, following the registry through the man in the middle. */
  let alpha: TestInstance;
  const federationStatus = async () => {
    const user = await alpha.user(`u${Math.floor(Math.random() * 1e9)}`);
    const r = await alpha.api('GET', '/api/v1/federation', { token: user.token });
    assert.equal(r.status, 200, r.text);
    return r.body as { federationRoutes: string; explanation: string; directory: { stale: boolean } };
  };
  const tmp = tempDir('caliopen-freshness-');

  beforeAll(async () => {
    site = await startTestInstanceSite('alpha.test');
    reg = await startTestRegistry({ maintenance: false, clock });
    reg.connect(site.domain, site.connectTo);
    const [alice, bob] = [await reg.auditor('alice'), await reg.auditor('bob')];
    const applied = await reg.api('POST', '/v1/applications', { body: await applicationFor(site) });
    assert.equal(applied.status, 201, applied.text);
    site.publishChallenge(applied.body.challenge.token, applied.body.challenge.value);
    const verified = await reg.api('POST', `/v1/applications/${applied.body.id}/verify`, { token: applied.body.token });
    assert.equal(verified.status, 200, verified.text);
    for (const auditor of [alice!, bob!]) {
      const r = await reg.api('POST', `/v1/audit/applications/${applied.body.id}/votes`, {
        token: auditor.token,
        body: { vote: 'approve' },
      });
      assert.equal(r.status, 200, r.text);
    }
    middleman = new Middleman(reg.url);
    await middleman.start();
    alpha = await startTestInstance({
      domain: 'alpha.test',
      clock,
      env: {
        CALIOPEN_FEDERATION_REGISTRY_URL: middleman.url,
        CALIOPEN_FEDERATION_REGISTRY_KEYS: (await reg.api('GET', '/v1/keys')).text,
        CALIOPEN_FEDERATION_SYNC_SECONDS: '3600',
      },
    });
    await waitFor(async () => alpha.running.services.federation!.status().serial !== null, 60_000);
    directory = new PeerDirectory({
      registryUrl: middleman.url,
      keySet: readPinnedKeySet((await reg.api('GET', '/v1/keys')).text),
      dataDir: tmp.dir,
      ownDomain: 'beta.test',
      clock,
      syncSeconds: 300,
    });
  });
  afterAll(async () => {
    await alpha?.stop();
    await middleman?.stop();
    await reg?.stop();
    await site?.stop();
    tmp.cleanup();
  });

  test('R7: the registry unreachable for 48 h, federation goes on from the verified cached feed; past the bound it stops; back, the heartbeat makes it fresh', async () => {
    assert.equal(await directory.sync(), 'full', JSON.stringify(directory.status().lastError));
    assert.equal(directory.peer('alpha.test')?.labelValid, true);
    const signedAt = directory.status().feedIssuedAt!;
    const start = nowSeconds();

    middleman.mode = 'down';
    for (let hour = 1; hour <= 48; hour++) {
      setNow(start + hour * 3600);
      assert.equal(await directory.sync(), 'failed', `hour ${hour}`);
      assert.equal(directory.status().lastError?.code, 'feed_unreachable');
      assert.equal(directory.peer('alpha.test')?.labelValid, true, `alpha still trusted at hour ${hour}`);
    }
    assert.equal(directory.status().stale, false);
    assert.equal(await alpha.running.services.federation!.sync(), 'failed');
    assert.equal((await federationStatus()).federationRoutes, 'open', 'alpha itself still federates at hour 48');
    // Nothing is lost: a restart at hour 48 reads the same verified feed, and trusts alpha as well.
    const restarted = new PeerDirectory({
      registryUrl: middleman.url,
      keySet: readPinnedKeySet((await reg.api('GET', '/v1/keys')).text),
      dataDir: tmp.dir,
      ownDomain: 'beta.test',
      clock,
      syncSeconds: 300,
    });
    assert.equal(restarted.peer('alpha.test')?.labelValid, true);
    assert.equal(restarted.status().serial, directory.status().serial);

    // The bound: MAX_FEED_AGE_SECONDS after the last feed was signed, nobody is trusted from it.
    setNow(signedAt + MAX_FEED_AGE_SECONDS);
    assert.equal(directory.peer('alpha.test')?.labelValid, true);
    setNow(signedAt + MAX_FEED_AGE_SECONDS + 1);
    assert.equal(directory.peer('alpha.test')?.labelValid, false);
    assert.ok(directory.peer('alpha.test')!.labelExpiresAt > nowSeconds(), 'the label itself has not expired');
    assert.equal(directory.status().stale, true);
    assert.equal(await alpha.running.services.federation!.sync(), 'failed');
    const stale = await federationStatus();
    assert.equal(stale.directory.stale, true);
    assert.equal(stale.federationRoutes, 'closed');
    assert.match(stale.explanation, /more than 72 h ago .* waits or goes by email as each sender chose/);

    // The registry back: it has published nothing in 72 h, so asking publishes a heartbeat serial signed now.
    middleman.mode = 'forward';
    const serialBefore = directory.status().serial!;
    assert.equal(await directory.sync(), 'delta', JSON.stringify(directory.status().lastError));
    assert.ok(directory.status().serial! > serialBefore);
    assert.ok(directory.status().feedIssuedAt! >= nowSeconds() - 5, 'the heartbeat is signed now');
    assert.equal(directory.status().stale, false);
    assert.equal(directory.peer('alpha.test')?.labelValid, true);
    assert.equal(await alpha.running.services.federation!.sync(), 'delta');
    const fresh = await federationStatus();
    assert.equal(fresh.directory.stale, false);
    assert.equal(fresh.federationRoutes, 'open');
  });

  test('a revocation withheld by a man in the middle (304 to every feed request) stops working MAX_FEED_AGE_SECONDS after the last feed was signed', async () => {
    assert.equal(directory.status().stale, false);
    const signedAt = directory.status().feedIssuedAt!;
    middleman.mode = 'withhold';
    const auditors = [await reg.auditor('dave'), await reg.auditor('erin')];
    for (const [i, auditor] of auditors.entries()) {
      const r = await reg.api('POST', '/v1/audit/instances/alpha.test/revoke', {
        token: auditor.token,
        body: { reason: 'withheld revocation test' },
      });
      assert.equal(r.status, i === 0 ? 202 : 200, r.text);
    }
    assert.equal(await directory.sync(), 'unchanged');
    assert.equal(directory.peer('alpha.test')?.labelValid, true, 'withheld: the revocation is not known yet');
    setNow(signedAt + MAX_FEED_AGE_SECONDS - 60);
    assert.equal(await directory.sync(), 'unchanged');
    assert.equal(directory.peer('alpha.test')?.labelValid, true, 'within the bound (ADR 0017)');
    setNow(signedAt + MAX_FEED_AGE_SECONDS + 1);
    assert.equal(await directory.sync(), 'unchanged');
    assert.equal(directory.peer('alpha.test')?.labelValid, false, 'past the bound the withheld feed no longer vouches');
    assert.ok(directory.peer('alpha.test')!.labelExpiresAt > nowSeconds(), 'the label itself has not expired');
    assert.ok(middleman.seen.some((s) => s.startsWith('withhold /v1/index')));

    middleman.mode = 'forward';
    assert.equal(await directory.sync(), 'delta');
    assert.equal(directory.peer('alpha.test')?.status, 'revoked');
    assert.equal(directory.peer('alpha.test')?.labelValid, false);
  });
});
