import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import {
  buildFeed,
  diffFeeds,
  parseKeySet,
  signFeedDelta,
  signKeySetStatement,
  unwrap,
  verifyFeed,
} from '@caliopen/federation-protocol';
import { PeerDirectory, readPinnedKeySet } from '@caliopen/instance/federation/peer-directory.ts';
import { strangerKey } from '../../federation-protocol/src/testing/fixtures.ts';
import { Middleman } from '../support/middleman.ts';
import {
  applicationFor,
  startTestInstanceSite,
  startTestRegistry,
  type TestInstanceSite,
  type TestRegistry,
} from '../support/registry.ts';
import { tempDir } from '../support/tmp.ts';

const DAY = 86_400;

/**
 * Registry key rotation end to end (issue 16 point 7): a real registry rotates its signing key; a peer that pinned
 * the old key set follows the statement chained from it (GET /v1/keys/statements) and keeps federating; a feed
 * signed by a key no statement chains to — a man in the middle's — is refused, and so is a statement signed by that
 * key itself. Registry and peer share a simulated clock.
 */
describe('registry key rotation: followed from the pinned key, unchained keys refused', () => {
  let offsetMs = 0;
  const clock = () => new Date(Date.now() + offsetMs);
  const nowSeconds = () => Math.floor(clock().getTime() / 1000);
  let reg: TestRegistry;
  let site: TestInstanceSite;
  let middleman: Middleman;
  let pinnedJson = '';
  const dirs = [tempDir('caliopen-rotation-'), tempDir('caliopen-rotation-late-')];
  const directory = (dataDir: string) =>
    new PeerDirectory({
      registryUrl: middleman.url,
      keySet: readPinnedKeySet(pinnedJson),
      dataDir,
      ownDomain: 'beta.test',
      clock,
      syncSeconds: 300,
    });

  beforeAll(async () => {
    site = await startTestInstanceSite('alpha.test');
    reg = await startTestRegistry({ maintenance: false, clock });
    reg.connect(site.domain, site.connectTo);
    const auditors = [await reg.auditor('alice'), await reg.auditor('bob')];
    const applied = await reg.api('POST', '/v1/applications', { body: await applicationFor(site) });
    assert.equal(applied.status, 201, applied.text);
    site.publishChallenge(applied.body.challenge.token, applied.body.challenge.value);
    const verified = await reg.api('POST', `/v1/applications/${applied.body.id}/verify`, { token: applied.body.token });
    assert.equal(verified.status, 200, verified.text);
    for (const auditor of auditors) {
      const r = await reg.api('POST', `/v1/audit/applications/${applied.body.id}/votes`, {
        token: auditor.token,
        body: { vote: 'approve' },
      });
      assert.equal(r.status, 200, r.text);
    }
    pinnedJson = (await reg.api('GET', '/v1/keys')).text;
    middleman = new Middleman(reg.url);
    await middleman.start();
  });
  afterAll(async () => {
    await middleman?.stop();
    await reg?.stop();
    await site?.stop();
    for (const d of dirs) d.cleanup();
  });

  test('the registry rotates: a peer pinned to the old key set follows the signed statement and keeps trusting alpha; so does one set up later with the old pin', async () => {
    const peer = directory(dirs[0]!.dir);
    assert.equal(await peer.sync(), 'full', JSON.stringify(peer.status().lastError));
    const oldKid = unwrap(parseKeySet(JSON.parse(pinnedJson))).document.keys[0]!.kid;

    const { kid: newKid } = await reg.running.services.keys.rotate(clock(), {
      activateInSeconds: 3600,
      overlapSeconds: 14 * DAY,
      lifetimeDays: 365,
    });
    const statements = await reg.api('GET', '/v1/keys/statements');
    assert.equal(statements.status, 200, statements.text);
    assert.equal(statements.body.statements.length, 1);

    // Two hours on, the new key signs; asking for the feed publishes a heartbeat serial signed by it.
    offsetMs += 2 * 3600 * 1000;
    assert.equal(await peer.sync(), 'delta', JSON.stringify(peer.status().lastError));
    assert.ok(middleman.seen.includes('forward /v1/keys/statements'), 'the peer asked for the statements');
    assert.equal(peer.status().registryKeys.sequence, 1);
    assert.deepEqual([...peer.status().registryKeys.kids].sort(), [oldKid, newKid].sort());
    assert.equal(peer.peer('alpha.test')?.labelValid, true, "alpha's label, signed by the old key, still verifies");
    const fresh = await fetch(`${reg.url}/v1/index`);
    const head = unwrap(
      await verifyFeed(new Uint8Array(await fresh.arrayBuffer()), {
        keySet: readPinnedKeySet((await reg.api('GET', '/v1/keys')).text),
        now: nowSeconds(),
      }),
    );
    assert.equal(head.kid, newKid, 'the feed the peer accepted is signed by the new key');

    const late = directory(dirs[1]!.dir);
    assert.equal(await late.sync(), 'full', JSON.stringify(late.status().lastError));
    assert.equal(late.status().registryKeys.sequence, 1);
    assert.equal(late.peer('alpha.test')?.labelValid, true);
  });

  test('a delta signed by a key no statement chains to is refused; so is a statement that key signed itself', async () => {
    const peer = directory(dirs[0]!.dir);
    const serial = peer.status().serial!;
    const keySet = readPinnedKeySet((await reg.api('GET', '/v1/keys')).text);
    const real = unwrap(
      await verifyFeed(new Uint8Array(await (await fetch(`${reg.url}/v1/index`)).arrayBuffer()), {
        keySet,
        now: nowSeconds(),
      }),
    ).feed;
    assert.equal(real.serial, serial);
    const forgedNext = buildFeed({ ...real, serial: serial + 1, issuedAt: nowSeconds() });
    const forgedDelta = await signFeedDelta(diffFeeds(real, forgedNext), strangerKey);
    const realStatements: string[] = (await reg.api('GET', '/v1/keys/statements')).body.statements;
    let forgedStatements: string[] | null = null;
    middleman.mode = 'forge';
    middleman.forge = async (path) => {
      if (path.startsWith('/v1/index?since=')) {
        return { status: 200, type: 'application/vnd.caliopen.feed-delta', body: forgedDelta };
      }
      if (path === '/v1/keys/statements' && forgedStatements !== null) {
        return { status: 200, type: 'application/json', body: JSON.stringify({ statements: forgedStatements }) };
      }
      return null;
    };
    try {
      assert.equal(await peer.sync(), 'refused');
      assert.equal(peer.status().lastError?.code, 'feed_unknown_key');
      forgedStatements = [
        ...realStatements,
        await signKeySetStatement(
          {
            registry: real.registry,
            sequence: realStatements.length + 1,
            issuedAt: nowSeconds(),
            keys: [
              ...keySet.document.keys,
              {
                jwk: strangerKey.publicJwk,
                kid: strangerKey.kid,
                notBefore: nowSeconds() - 60,
                notAfter: nowSeconds() + 365 * DAY,
              },
            ],
          },
          strangerKey,
        ),
      ];
      assert.equal(await peer.sync(), 'refused');
      assert.equal(peer.status().lastError?.code, 'key_set_statement_unknown_key');
      assert.equal(peer.status().serial, serial, 'the last good feed is kept');
      assert.ok(!peer.status().registryKeys.kids.includes(strangerKey.kid));
    } finally {
      middleman.mode = 'forward';
    }
    assert.equal(await peer.sync(), 'unchanged');
    assert.equal(peer.status().lastError, null);
  });
});
