import { beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canonicalJson, canonicalJsonBytes, sha256 } from './canonical-json.ts';
import { checkpointOf } from './checkpoint.ts';
import { encodeBase64, encodeBase64Url, utf8Decode, utf8Encode } from './encoding.ts';
import { signingKeysAt } from './entry-binding.ts';
import type { ErrorCode, Result } from './errors.ts';
import {
  applyDelta,
  buildFeed,
  diffFeeds,
  feedDigest,
  signFeed,
  signFeedDelta,
  verifyFeed,
  verifyFeedDelta,
  verifyFeedEnvelope,
} from './feed.ts';
import { parseFeed } from './feed.parse.ts';
import { FEED_DELTA_JWS_TYPE, FEED_JWS_TYPE } from './feed.types.ts';
import type { Feed, FeedInstance } from './feed.types.ts';
import { signJws } from './jws.ts';
import {
  DAY,
  LOG_ORIGIN,
  REGISTRY,
  T0,
  feedEntryFor,
  feedOf,
  instanceFixture,
  keySet,
  logTree,
  registryKey,
  retiredRegistryKey,
  samplePi,
  signedCheckpointOf,
  strangerKey,
} from './testing/fixtures.ts';

function assertCode(result: Result<unknown>, code: ErrorCode): void {
  assert.ok(!result.ok, `expected ${code}, got a valid result`);
  assert.equal(result.error.code, code, result.error.message);
}

function envelopeParts(envelope: Uint8Array): { jws: string; body: string } {
  const text = utf8Decode(envelope)!;
  const newline = text.indexOf('\n');
  return { jws: text.slice(0, newline), body: text.slice(newline + 1) };
}

const instances = ['alpha.caliopen.test', 'beta.caliopen.test', 'gamma.caliopen.test'].map((domain, index) =>
  instanceFixture(domain, 60 + 10 * index),
);
const tree = logTree(30);
const forkedTree = logTree(30, 'fork', 10);

describe('registry feed', () => {
  let feed: Feed;
  let envelope: Uint8Array;
  const options = { keySet, now: T0 + DAY };
  const lastCheckpoint = checkpointOf(tree, { origin: LOG_ORIGIN, timestamp: T0 - DAY, size: 20 });

  beforeAll(async () => {
    feed = await feedOf(instances.slice().reverse(), { serial: 7, issuedAt: T0, tree });
    envelope = await signFeed(feed, registryKey);
  });

  it('is a JWS line over the digest, then the canonical JSON body', () => {
    const { jws, body } = envelopeParts(envelope);
    assert.equal(body, canonicalJson(feed));
    const header = JSON.parse(Buffer.from(jws.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;
    assert.deepEqual(header, { alg: 'EdDSA', kid: registryKey.kid, typ: FEED_JWS_TYPE });
    const head = JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    assert.equal(head['bodySha256'], encodeBase64(sha256(body)));
    assert.equal(head['bodySha256'], feedDigest(feed));
    assert.equal(head['instances'], undefined);
    assert.deepEqual(
      feed.instances.map((entry) => entry.domain),
      ['alpha.caliopen.test', 'beta.caliopen.test', 'gamma.caliopen.test'],
    );
  });

  it('verifies, from bytes or text, to the same feed', async () => {
    for (const input of [envelope, utf8Decode(envelope)!]) {
      const verified = await verifyFeed(input, options);
      assert.ok(verified.ok, verified.ok ? '' : verified.error.message);
      assert.deepEqual(verified.value.feed, feed);
      assert.equal(verified.value.kid, registryKey.kid);
      assert.equal(verified.value.checkpoint.checkpoint.treeSize, 30);
    }
  });

  it('verifies the envelope without parsing the body', async () => {
    const garbage = utf8Encode('this is not JSON');
    const { instances: _, ...head } = feed;
    const jws = await signJws({ ...head, bodySha256: encodeBase64(sha256(garbage)) }, registryKey, FEED_JWS_TYPE);
    const forged = utf8Encode(`${jws}\n${utf8Decode(garbage)}`);
    const envelopeOnly = await verifyFeedEnvelope(forged, options);
    assert.ok(envelopeOnly.ok);
    assert.equal(utf8Decode(envelopeOnly.value.body), 'this is not JSON');
    assertCode(await verifyFeed(forged, options), 'feed_malformed');
  });

  it('feed_bad_signature: one byte of the body changed, or the signature', async () => {
    const tampered = envelope.slice();
    const scoreAt = utf8Decode(tampered)!.lastIndexOf('"score":') + 8;
    tampered[scoreAt] = tampered[scoreAt] === 0x37 ? 0x38 : 0x37;
    assertCode(await verifyFeed(tampered, options), 'feed_bad_signature');
    const { jws, body } = envelopeParts(envelope);
    const otherHead = envelopeParts(await signFeed({ ...feed, serial: 8 }, registryKey)).jws.split('.')[1];
    const [header, , signature] = jws.split('.');
    assertCode(await verifyFeed(`${header}.${otherHead}.${signature}\n${body}`, options), 'feed_bad_signature');
  });

  it('feed_unknown_key and feed_key_outside_validity', async () => {
    assertCode(await verifyFeed(await signFeed(feed, strangerKey), options), 'feed_unknown_key');
    assertCode(await verifyFeed(await signFeed(feed, retiredRegistryKey), options), 'feed_key_outside_validity');
  });

  it('feed_malformed: no signature line, a delta presented as a feed, a body that contradicts its head', async () => {
    assertCode(await verifyFeed(canonicalJson(feed), options), 'feed_malformed');
    assertCode(await verifyFeed('', options), 'feed_malformed');
    const next = await feedOf(instances.slice(0, 2), { serial: 8, issuedAt: T0 + DAY, tree });
    const delta = await signFeedDelta(diffFeeds(feed, next), registryKey);
    assertCode(await verifyFeed(delta, options), 'feed_malformed');

    const body = canonicalJsonBytes({ ...feed, serial: 99 });
    const { instances: _, ...head } = feed;
    const jws = await signJws({ ...head, bodySha256: encodeBase64(sha256(body)) }, registryKey, FEED_JWS_TYPE);
    const contradicted = await verifyFeed(`${jws}\n${utf8Decode(body)}`, options);
    assertCode(contradicted, 'feed_malformed');
    assert.match(contradicted.ok ? '' : contradicted.error.message, /serial/);
  });

  it('feed_stale_serial: refuses an older feed, accepts the same one again', async () => {
    assertCode(await verifyFeed(envelope, { ...options, lastSerial: 8 }), 'feed_stale_serial');
    assert.ok((await verifyFeed(envelope, { ...options, lastSerial: 7 })).ok);
  });

  it('links the feed checkpoint to the last one seen with a consistency proof', async () => {
    const proof = tree.consistencyProof(20, 30);
    assert.ok((await verifyFeed(envelope, { ...options, lastCheckpoint, consistencyProof: proof })).ok);
    const same = checkpointOf(tree, { origin: LOG_ORIGIN, timestamp: T0, size: 30 });
    assert.ok((await verifyFeed(envelope, { ...options, lastCheckpoint: same })).ok, 'same tree, no proof needed');
    assertCode(await verifyFeed(envelope, { ...options, lastCheckpoint }), 'feed_consistency_proof_required');
  });

  it('feed_inconsistent_log: a forked log, a rolled-back log, another log', async () => {
    const forkedFeed = buildFeed({ ...feed, checkpoint: await signedCheckpointOf(forkedTree, T0) });
    const forkedEnvelope = await signFeed(forkedFeed, registryKey);
    const proofInFork = forkedTree.consistencyProof(20, 30);
    assertCode(
      await verifyFeed(forkedEnvelope, { ...options, lastCheckpoint, consistencyProof: proofInFork }),
      'feed_inconsistent_log',
    );
    const ahead = checkpointOf(tree, { origin: LOG_ORIGIN, timestamp: T0, size: 30 });
    const rolledBack = await signFeed(
      buildFeed({ ...feed, checkpoint: await signedCheckpointOf(tree, T0, 25) }),
      registryKey,
    );
    assertCode(
      await verifyFeed(rolledBack, { ...options, lastCheckpoint: ahead, consistencyProof: [] }),
      'feed_inconsistent_log',
    );
    assertCode(
      await verifyFeed(envelope, { ...options, lastCheckpoint: { ...ahead, origin: 'other/log' } }),
      'feed_inconsistent_log',
    );
  });

  it('checks labels only when asked, and then every labelled entry against its label', async () => {
    assert.ok((await verifyFeed(envelope, { ...options, verifyLabels: true })).ok);

    const [alpha, beta] = feed.instances as [FeedInstance, FeedInstance];
    const mismatches: Feed[] = [
      buildFeed({ ...feed, instances: [{ ...alpha, label: beta.label }, ...feed.instances.slice(1)] }),
      buildFeed({
        ...feed,
        instances: [{ ...alpha, labelExpiresAt: alpha.labelExpiresAt + 1 }, ...feed.instances.slice(1)],
      }),
      buildFeed({ ...feed, instances: [{ ...alpha, keys: beta.keys }, ...feed.instances.slice(1)] }),
      buildFeed({ ...feed, instances: [{ ...alpha, pi: samplePi(12) }, ...feed.instances.slice(1)] }),
    ];
    for (const mismatch of mismatches) {
      const signed = await signFeed(mismatch, registryKey);
      assert.ok((await verifyFeed(signed, options)).ok, 'not checked unless asked');
      assertCode(await verifyFeed(signed, { ...options, verifyLabels: true }), 'feed_invalid_label');
    }
    const suspended = buildFeed({
      ...feed,
      instances: [{ ...alpha, label: beta.label, status: 'suspended' }, ...feed.instances.slice(1)],
    });
    assert.ok((await verifyFeed(await signFeed(suspended, registryKey), { ...options, verifyLabels: true })).ok);
  });

  it('builds feeds sorted by domain and refuses what peers would refuse', async () => {
    const [alpha] = feed.instances as [FeedInstance];
    assert.throws(() => buildFeed({ ...feed, instances: [alpha, alpha] }), { code: 'feed_malformed' });
    assert.throws(
      () => buildFeed({ ...feed, instances: [{ ...alpha, endpoints: { federation: 'http://alpha.caliopen.test/' } }] }),
      {
        code: 'feed_malformed',
      },
    );
    assert.ok(
      parseFeed({ ...feed, instances: [{ ...alpha, endpoints: { federation: 'http://127.0.0.1:8443/fed' } }] }).ok,
    );
    assert.throws(() => buildFeed({ ...feed, instances: [{ ...alpha, status: 'pending' as 'labelled' }] }), {
      code: 'feed_malformed',
    });
  });

  describe('deltas', () => {
    let next: Feed;

    beforeAll(async () => {
      const delta = instanceFixture('delta.caliopen.test', 75);
      const changedBeta = { ...(await feedEntryFor(instances[1]!, T0 + DAY)), status: 'suspended' as const };
      next = buildFeed({
        serial: 8,
        issuedAt: T0 + DAY,
        registry: REGISTRY,
        checkpoint: await signedCheckpointOf(logTree(34), T0 + DAY),
        instances: [feed.instances[0]!, changedBeta, await feedEntryFor(delta, T0 + DAY)],
      });
    });

    it('carries only the changes, and applying it gives the next feed', async () => {
      const delta = diffFeeds(feed, next);
      assert.deepEqual(
        delta.changed.map((entry) => entry.domain),
        ['beta.caliopen.test', 'delta.caliopen.test'],
      );
      assert.deepEqual(delta.removed, ['gamma.caliopen.test']);
      const verified = await verifyFeedDelta(await signFeedDelta(delta, registryKey), { ...options, lastSerial: 7 });
      assert.ok(verified.ok, verified.ok ? '' : verified.error.message);
      assert.deepEqual(verified.value.delta, delta);
      const applied = applyDelta(feed, verified.value.delta, { checkResultDigest: true });
      assert.ok(applied.ok);
      assert.deepEqual(applied.value, next);
    });

    it('refuses a delta for another base, a wrong result, a feed presented as a delta', async () => {
      const delta = diffFeeds(feed, next);
      assertCode(applyDelta(next, delta), 'feed_delta_base_mismatch');
      assertCode(applyDelta({ ...feed, registry: 'other.registry' }, delta), 'feed_delta_base_mismatch');
      assertCode(
        applyDelta(buildFeed({ ...feed, instances: feed.instances.slice(0, 2) }), delta),
        'feed_delta_base_mismatch',
      );
      const wrong = { ...delta, resultSha256: feedDigest(feed) };
      assert.ok(applyDelta(feed, wrong).ok, 'the digest is only checked when asked');
      assertCode(applyDelta(feed, wrong, { checkResultDigest: true }), 'feed_delta_result_mismatch');
      assertCode(await verifyFeedDelta(envelope, options), 'feed_malformed');
      assertCode(
        await verifyFeedDelta(await signFeedDelta(delta, registryKey), { ...options, lastSerial: 9 }),
        'feed_stale_serial',
      );
      const header = JSON.parse(
        Buffer.from(envelopeParts(await signFeedDelta(delta, registryKey)).jws.split('.')[0]!, 'base64url').toString(),
      ) as { typ: string };
      assert.equal(header.typ, FEED_DELTA_JWS_TYPE);
    });

    it('property: applyDelta(previous, diffFeeds(previous, next)) is next, for random membership changes', () => {
      const pool = ['a.test', 'b.test', 'c.test', 'd.test', 'e.test', 'f.test'];
      const template = feed.instances[0]!;
      const state = fc.dictionary(fc.constantFrom(...pool), fc.integer({ min: 0, max: 100 }), { maxKeys: pool.length });
      const feedFrom = (scores: Record<string, number>, serial: number): Feed =>
        buildFeed({
          ...feed,
          serial,
          instances: Object.entries(scores).map(([domain, score]) => ({ ...template, domain, pi: samplePi(score) })),
        });
      fc.assert(
        fc.property(state, state, (before, after) => {
          const previous = feedFrom(before, 1);
          const following = feedFrom(after, 2);
          const delta = diffFeeds(previous, following);
          const applied = applyDelta(previous, delta, { checkResultDigest: true });
          assert.ok(applied.ok);
          assert.deepEqual(applied.value, following);
          const unchanged = Object.keys(after).filter((domain) => before[domain] === after[domain]);
          assert.ok(
            delta.changed.every((entry) => !unchanged.includes(entry.domain)),
            'unchanged entries are not sent',
          );
        }),
        { numRuns: 50 },
      );
    });
  });
});

describe('instance key rotation in a feed entry (previousSigning)', () => {
  const entryWith = async (previousSigning: unknown) => {
    const entry = await feedEntryFor(instances[0]!, T0);
    return { ...entry, keys: { ...entry.keys, previousSigning } };
  };
  const parseEntry = async (previousSigning: unknown) =>
    parseFeed({
      version: 1,
      serial: 1,
      issuedAt: T0,
      registry: REGISTRY,
      checkpoint: await signedCheckpointOf(tree, T0),
      instances: [await entryWith(previousSigning)],
    });

  it('is kept through parsing, and its keys are accepted until their notAfter only', async () => {
    const previous = [{ jwk: strangerKey.publicJwk, notAfter: T0 + DAY }];
    const parsed = await parseEntry(previous);
    assert.ok(parsed.ok);
    const entry = parsed.value.instances[0]!;
    assert.deepEqual(entry.keys.previousSigning, previous);
    assert.deepEqual(signingKeysAt(entry, T0 + DAY - 1), [entry.keys.signing, strangerKey.publicJwk]);
    assert.deepEqual(signingKeysAt(entry, T0 + DAY), [entry.keys.signing], 'refused once the overlap is over');
    const { keys, ...rest } = entry;
    const plain = { ...rest, keys: { signing: keys.signing, encryption: keys.encryption } };
    assert.deepEqual(signingKeysAt(plain, T0), [keys.signing]);
  });

  it('refuses an empty list, the current key again, a duplicate, a private key, a missing notAfter, too many', async () => {
    const current = instances[0]!.signingKey.publicJwk;
    const other = (i: number) => ({ kty: 'OKP', crv: 'Ed25519', x: encodeBase64Url(sha256(`key ${i}`)) });
    for (const bad of [
      [],
      [{ jwk: current, notAfter: T0 }],
      [
        { jwk: strangerKey.publicJwk, notAfter: T0 },
        { jwk: strangerKey.publicJwk, notAfter: T0 + 1 },
      ],
      [{ jwk: strangerKey.privateJwk, notAfter: T0 }],
      [{ jwk: strangerKey.publicJwk }],
      [0, 1, 2, 3, 4].map((i) => ({ jwk: other(i), notAfter: T0 })),
      'nope',
    ]) {
      assertCode(await parseEntry(bad), 'feed_malformed');
    }
  });
});
