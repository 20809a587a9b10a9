import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { test } from 'vitest';
import {
  FEED_HEARTBEAT_SECONDS,
  applyDelta,
  entryBinding,
  issueLabel,
  jwkThumbprint,
  levelForScore,
  unwrap,
  verifyFeed,
  verifyEntryInLog,
  verifyFeedDelta,
  type Checkpoint,
  type Ed25519KeyPair,
  type FeedInstance,
  type X25519PublicJwk,
} from '@caliopen/federation-protocol';
import type { Member } from '../labels/label.entity.ts';
import { Exclusive } from '../shared/exclusive.ts';
import { unitRegistry } from '../testing/unit-registry.ts';
import { FeedService } from './feed.service.ts';

const NOW = new Date('2026-03-01T00:00:00.000Z');
const nowS = Math.floor(NOW.getTime() / 1000);

async function member(domain: string, key: Ed25519KeyPair, score: number, over: Partial<Member> = {}): Promise<Member> {
  const signing = { kty: 'OKP' as const, crv: 'Ed25519' as const, x: randomBytes(32).toString('base64url') };
  const encryption = {
    kty: 'OKP',
    crv: 'X25519',
    x: (generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' }) as { x: string }).x,
  } as X25519PublicJwk;
  const pi = {
    score,
    level: levelForScore(score),
    factors: [{ id: 'jurisdiction', contribution: 40, evidence: 'DE' }],
    suggestions: [],
    modelVersion: 'instance-pi/1',
  };
  const certFingerprint = randomBytes(32).toString('hex');
  const { jws, claims } = await issueLabel(
    {
      issuer: 'registry.unit.test',
      domain,
      issuedAt: nowS,
      charterVersion: '1.0',
      instanceKeys: { signing: jwkThumbprint(signing), encryption: jwkThumbprint(encryption) },
      certFingerprint,
      pi: { score, level: pi.level, modelVersion: pi.modelVersion },
    },
    key,
  );
  return {
    domain,
    applicationId: '00000000-0000-4000-8000-000000000000',
    status: 'labelled',
    listed: true,
    currentLabelId: claims.id,
    labelIssuedAt: NOW,
    labelExpiresAt: new Date(claims.expiresAt * 1000),
    entry: {
      domain,
      endpoints: { federation: `https://${domain}` },
      keys: { signing, encryption },
      certFingerprint,
      labelId: claims.id,
      labelExpiresAt: claims.expiresAt,
      label: jws,
      pi,
      status: 'labelled',
      listed: true,
      logIndex: 0,
    },
    pi,
    renewalBlocked: null,
    lastCheckAt: NOW,
    lastPassingCheckAt: NOW,
    decidedAt: NOW,
    updatedAt: NOW,
    revokedAt: null,
    revocationReason: null,
    ...over,
  };
}

test('serials follow each other; a delta leads a peer from any older serial to exactly the current feed', async () => {
  const r = await unitRegistry(NOW);
  try {
    const feed = new FeedService(r.storage, r.keys, r.log, 'registry.unit.test', new Exclusive());
    const key = await r.keys.signingKey(NOW);
    const keySet = await r.keys.keySet();
    const empty = await feed.current(NOW);
    assert.equal(empty.serial, 1, 'the first feed is published on demand, empty');

    for (const d of ['c.test', 'a.test', 'b.test']) await r.storage.members.put(await member(d, key, 60));
    await r.log.append([{ type: 'label.issued', domain: 'a.test', at: nowS }], NOW);
    const second = await feed.publish(['a.test', 'b.test', 'c.test'], NOW);
    assert.equal(second.serial, 2);
    const full2 = unwrap(await verifyFeed(second.envelope, { keySet, now: nowS, verifyLabels: true })).feed;
    assert.deepEqual(
      full2.instances.map((i) => i.domain),
      ['a.test', 'b.test', 'c.test'],
    );

    const b = (await r.storage.members.get('b.test'))!;
    await r.storage.members.put({ ...b, status: 'revoked', entry: { ...b.entry, status: 'revoked' } });
    await r.storage.members.put(await member('d.test', key, 80, { listed: false }));
    const third = await feed.publish(['b.test', 'd.test'], NOW);
    const full3 = unwrap(await verifyFeed(third.envelope, { keySet, now: nowS, verifyLabels: true })).feed;

    const from2 = (await feed.delta(2, NOW))!;
    const delta = unwrap(await verifyFeedDelta(from2.envelope, { keySet, now: nowS, lastSerial: 2 })).delta;
    assert.deepEqual(
      delta.changed.map((c) => c.domain),
      ['b.test', 'd.test'],
    );
    assert.deepEqual(unwrap(applyDelta(full2, delta, { checkResultDigest: true })), full3);
    const from1 = unwrap(await verifyFeedDelta((await feed.delta(1, NOW))!.envelope, { keySet, now: nowS })).delta;
    assert.equal(from1.changed.length, 4);
    assert.equal(await feed.delta(3, NOW), null, 'nothing to send from the current serial');
    await assert.rejects(feed.delta(4, NOW), (e: { code?: string }) => e.code === 'feed_serial_unknown');
    assert.match(third.etag, /^"3-/);
  } finally {
    await r.close();
  }
});

test('every published entry is bound to a leaf of the log its checkpoint signs; a changed entry gets a new leaf', async () => {
  const r = await unitRegistry(NOW);
  try {
    const feed = new FeedService(r.storage, r.keys, r.log, 'registry.unit.test', new Exclusive());
    const key = await r.keys.signingKey(NOW);
    const keySet = await r.keys.keySet();
    // Stored without a binding (as before bindings existed): bound at publication.
    for (const d of ['a.test', 'b.test']) await r.storage.members.put(await member(d, key, 60));
    const first = unwrap(
      await verifyFeed((await feed.publish(['a.test', 'b.test'], NOW)).envelope, { keySet, now: nowS }),
    );
    const inLog = async (entry: FeedInstance, checkpoint: Checkpoint) => {
      const { proof } = await r.log.inclusionProof(entry.logIndex, checkpoint.treeSize);
      return verifyEntryInLog(entry, checkpoint, proof);
    };
    for (const entry of first.feed.instances)
      assert.ok((await inLog(entry, first.checkpoint.checkpoint)).ok, entry.domain);
    const logged = await r.log.entries(first.feed.instances[0]!.logIndex, first.feed.instances[0]!.logIndex + 1);
    assert.deepEqual(logged[0]?.entry, entryBinding(first.feed.instances[0]!), 'the leaf is readable in the log API');

    const b = (await r.storage.members.get('b.test'))!;
    await r.storage.members.put({ ...b, status: 'revoked', entry: { ...b.entry, status: 'revoked' } });
    const second = unwrap(await verifyFeed((await feed.publish(['b.test'], NOW)).envelope, { keySet, now: nowS }));
    const [a1, b1] = first.feed.instances;
    const [a2, b2] = second.feed.instances;
    assert.equal(a2!.logIndex, a1!.logIndex, 'an unchanged entry keeps its leaf');
    assert.ok(b2!.logIndex > b1!.logIndex, 'a changed entry gets a new leaf');
    assert.equal(b2!.status, 'revoked');
    for (const entry of second.feed.instances) assert.ok((await inLog(entry, second.checkpoint.checkpoint)).ok);
    // The old leaf no longer describes the entry.
    const { proof } = await r.log.inclusionProof(b1!.logIndex, second.checkpoint.checkpoint.treeSize);
    assert.equal(verifyEntryInLog({ ...b2!, logIndex: b1!.logIndex }, second.checkpoint.checkpoint, proof).ok, false);
  } finally {
    await r.close();
  }
});

test('a heartbeat: once the latest feed is FEED_HEARTBEAT_SECONDS old, asking for it publishes a new serial, signed now, same entries', async () => {
  const r = await unitRegistry(NOW);
  try {
    const feed = new FeedService(r.storage, r.keys, r.log, 'registry.unit.test', new Exclusive());
    const keySet = await r.keys.keySet();
    await r.storage.members.put(await member('a.test', await r.keys.signingKey(NOW), 60));
    const first = await feed.publish(['a.test'], NOW);
    const soon = new Date(NOW.getTime() + (FEED_HEARTBEAT_SECONDS - 1) * 1000);
    assert.equal((await feed.current(soon)).serial, first.serial);
    assert.equal(await feed.delta(first.serial, soon), null, 'nothing new within the heartbeat');
    const later = new Date(NOW.getTime() + FEED_HEARTBEAT_SECONDS * 1000);
    const delta = (await feed.delta(first.serial, later))!;
    const verified = unwrap(
      await verifyFeedDelta(delta.envelope, { keySet, now: nowS + FEED_HEARTBEAT_SECONDS, lastSerial: first.serial }),
    ).delta;
    assert.equal(verified.serial, first.serial + 1);
    assert.equal(
      verified.issuedAt,
      nowS + FEED_HEARTBEAT_SECONDS,
      'signed at the heartbeat: the freshness peers check',
    );
    assert.deepEqual(verified.changed, [], 'nothing changed');
    assert.equal((await feed.current(later)).serial, first.serial + 1);
  } finally {
    await r.close();
  }
});
