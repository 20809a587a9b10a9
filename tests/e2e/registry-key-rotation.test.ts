import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import {
  INSTANCE_KEY_OVERLAP_SECONDS,
  buildFeed,
  diffFeeds,
  jwkThumbprint,
  parseKeySet,
  signFeedDelta,
  signKeySetStatement,
  signRequest,
  unwrap,
  verifyFeed,
  verifyRequest,
  type Ed25519KeyPair,
  type Ed25519PrivateJwk,
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

function keyPairOf(privateJwk: { x: string; d?: string }): Ed25519KeyPair {
  const publicJwk = { kty: 'OKP' as const, crv: 'Ed25519' as const, x: privateJwk.x };
  return { kid: jwkThumbprint(publicJwk), publicJwk, privateJwk: privateJwk as Ed25519PrivateJwk };
}

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
  test('instance key rotation: alpha re-applies with a new signing key; peers accept both keys during the overlap, the old one is refused after', async () => {
    const peer = directory(dirs[0]!.dir);
    const oldPair = keyPairOf(site.identity.signing.privateJwk);
    await site.rotateSigningKey(clock());
    const newPair = keyPairOf(site.identity.signing.privateJwk);
    const applied = await reg.api('POST', '/v1/applications', { body: await applicationFor(site, { now: clock() }) });
    assert.equal(applied.status, 201, applied.text);
    site.publishChallenge(applied.body.challenge.token, applied.body.challenge.value);
    const verified = await reg.api('POST', `/v1/applications/${applied.body.id}/verify`, { token: applied.body.token });
    assert.equal(verified.status, 200, verified.text);
    for (const auditor of [await reg.auditor('carol'), await reg.auditor('dan')]) {
      const r = await reg.api('POST', `/v1/audit/applications/${applied.body.id}/votes`, {
        token: auditor.token,
        body: { vote: 'approve' },
      });
      assert.equal(r.status, 200, r.text);
    }
    assert.equal(await peer.sync(), 'delta', JSON.stringify(peer.status().lastError));
    const during = peer.peer('alpha.test')!;
    assert.equal(during.labelValid, true);
    assert.deepEqual(during.keys.signing, newPair.publicJwk);
    assert.deepEqual(during.signingKeys, [newPair.publicJwk, oldPair.publicJwk]);

    // A request alpha signed with either key is authenticated during the overlap, as the inbox does (keysOf).
    const signedBy = async (pair: Ed25519KeyPair) => {
      const body = new TextEncoder().encode('{}');
      const signature = await signRequest(
        {
          instance: 'alpha.test',
          method: 'POST',
          path: '/federation/v1/inbox',
          destination: 'beta.test',
          body,
          created: nowSeconds(),
        },
        pair,
      );
      return verifyRequest(
        { method: 'POST', path: '/federation/v1/inbox', signature, body },
        { expectedDestination: 'beta.test', now: nowSeconds(), keysOf: (d) => peer.peer(d)?.signingKeys },
      );
    };
    assert.ok((await signedBy(oldPair)).ok, 'the old key during the overlap');
    assert.ok((await signedBy(newPair)).ok);

    // After the overlap (the registry's heartbeat keeps the feed fresh), only the new key is accepted.
    offsetMs += (INSTANCE_KEY_OVERLAP_SECONDS + 60) * 1000;
    assert.equal(await peer.sync(), 'delta', JSON.stringify(peer.status().lastError));
    assert.equal(peer.peer('alpha.test')?.labelValid, true);
    assert.deepEqual(peer.peer('alpha.test')?.signingKeys, [newPair.publicJwk]);
    const late = await signedBy(oldPair);
    assert.ok(!late.ok, 'the old key after the overlap');
    assert.ok((await signedBy(newPair)).ok);
  });
});
