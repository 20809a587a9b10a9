import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CompactSign } from 'jose';
import {
  MerkleTree,
  applyDelta,
  canonicalJson,
  decodeHex,
  decodeProof,
  ed25519KeyPairFromSeed,
  encodeBase64,
  encodeHex,
  entryLeafHash,
  entryLogLeaf,
  feedDigest,
  followKeySetChain,
  parseCheckpoint,
  jwkThumbprint,
  parseKeySet,
  sha256,
  unwrap,
  verifyCheckpoint,
  verifyConsistency,
  verifyConsistentWith,
  verifyEntryInLog,
  verifyFeed,
  verifyFeedDelta,
  verifyInclusion,
  verifyLabel,
} from './index.ts';
import {
  MemoryReplayStore,
  checkReplay,
  choosePrekey,
  decodeBase64Url,
  encodeBase64Url,
  openEnvelope,
  planPrekeyRotation,
  sealEnvelope,
  utf8Decode,
  verifyKeyDirectoryEntry,
  verifyPrekey,
  verifyPrekeyList,
  verifyReceipt,
  verifyRequest,
  verifyTrustStatement,
} from './index.ts';
import type { Checkpoint, Ed25519PublicJwk, LabelClaims, PrekeyPrivate, Result, SealEnvelopeInput } from './index.ts';
import { fixedRandom } from './testing/federation-fixtures.ts';
import { privateCryptoKey } from './keys.ts';
import { VECTORS_DIRECTORY, generateVectors, serializeVectors } from '../scripts/generate-vectors.ts';

/**
 * Replays every vector of test-vectors/ through the public API, as another implementation would, and checks that
 * the checked-in files are exactly what the generator produces (so a format change cannot go unnoticed).
 */

const FILES = [
  'canonical-json.json',
  'merkle.json',
  'keys.json',
  'labels.json',
  'checkpoints.json',
  'feeds.json',
  'entry-bindings.json',
  'key-set-statements.json',
  'prekeys.json',
  'envelopes.json',
  'request-signatures.json',
  'receipts.json',
  'directory.json',
];

// The vector files are JSON whose shape the generator fixes; reading them loosely keeps this test short.
type Loose = any;

function load(name: string): Loose {
  return JSON.parse(readFileSync(new URL(name, VECTORS_DIRECTORY), 'utf8'));
}

function hex(text: string): Uint8Array {
  const bytes = decodeHex(text);
  assert.ok(bytes, `bad hex in vectors: ${text}`);
  return bytes;
}

function hexes(list: readonly string[]): Uint8Array[] {
  return list.map(hex);
}

function proofOf(list: unknown): Uint8Array[] {
  const proof = decodeProof(list);
  assert.ok(proof, 'bad proof in vectors');
  return proof;
}

function assertExpected(result: Result<unknown>, expected: { ok: boolean; code?: string }, name: string): void {
  if (expected.ok) {
    assert.ok(result.ok, `${name}: ${result.ok ? '' : result.error.code + ' ' + result.error.message}`);
  } else {
    assert.ok(!result.ok, `${name}: expected ${expected.code}, got a valid result`);
    assert.equal(result.error.code, expected.code, `${name}: ${result.error.message}`);
  }
}

/** The signing key of a test instance, from the name its seed derives from (the vectors publish only the public half). */
function signingKeyOf(seedName: string) {
  return ed25519KeyPairFromSeed(sha256(`caliopen test vectors: ${seedName}`));
}

function labelClaimsFromWire(wire: Loose): LabelClaims {
  return {
    id: wire.jti,
    issuer: wire.iss,
    domain: wire.sub,
    issuedAt: wire.iat,
    expiresAt: wire.exp,
    charterVersion: wire.charterVersion,
    instanceKeys: wire.instanceKeys,
    certFingerprint: wire.certFingerprint,
    pi: wire.pi,
  };
}

describe('test vectors', () => {
  it('are up to date with the generator', async () => {
    const generated = await generateVectors();
    assert.deepEqual(Object.keys(generated).sort(), [...FILES].sort());
    for (const [name, vectors] of Object.entries(generated)) {
      const onDisk = readFileSync(new URL(name, VECTORS_DIRECTORY), 'utf8');
      assert.equal(
        onDisk,
        serializeVectors(vectors),
        `${name} is stale: run node --import tsx federation-protocol/scripts/generate-vectors.ts`,
      );
    }
  });

  it('canonical-json.json', () => {
    const vectors = load('canonical-json.json');
    for (const vector of vectors.cases) {
      const canonical = canonicalJson(JSON.parse(vector.json));
      assert.equal(canonical, vector.canonical, vector.name);
      assert.equal(encodeHex(sha256(canonical)), vector.sha256, vector.name);
    }
    for (const vector of vectors.numbers) {
      assert.equal(canonicalJson(Buffer.from(vector.ieee754, 'hex').readDoubleBE(0)), vector.canonical, vector.ieee754);
    }
    for (const vector of vectors.invalid) {
      assert.throws(() => canonicalJson(JSON.parse(vector.json)), { code: 'json_unsupported_value' }, vector.name);
    }
  });

  it('merkle.json', () => {
    const vectors = load('merkle.json');
    const tree = new MerkleTree();
    for (const entry of vectors.entries) tree.appendEntry(hex(entry));
    assert.deepEqual(
      vectors.leafHashes,
      vectors.entries.map((_: unknown, index: number) => encodeHex(tree.leafHash(index))),
    );
    for (const { treeSize, rootHash } of vectors.roots) assert.equal(encodeHex(tree.rootHash(treeSize)), rootHash);
    for (const { leafIndex, treeSize, proof } of vectors.inclusion) {
      assert.deepEqual(
        tree.inclusionProof(leafIndex, treeSize).map(encodeHex),
        proof,
        `inclusion ${leafIndex}/${treeSize}`,
      );
      assert.ok(verifyInclusion(tree.leafHash(leafIndex), leafIndex, treeSize, hexes(proof), tree.rootHash(treeSize)));
    }
    for (const { oldSize, newSize, proof } of vectors.consistency) {
      assert.deepEqual(
        tree.consistencyProof(oldSize, newSize).map(encodeHex),
        proof,
        `consistency ${oldSize}/${newSize}`,
      );
      assert.ok(verifyConsistency(oldSize, newSize, tree.rootHash(oldSize), tree.rootHash(newSize), hexes(proof)));
    }

    const large = new MerkleTree();
    for (let index = 0; index < vectors.large.treeSize; index++) {
      const entry = new Uint8Array(4);
      new DataView(entry.buffer).setUint32(0, index);
      large.appendEntry(entry);
    }
    const largeRoot = hex(vectors.large.rootHash);
    assert.equal(encodeHex(large.rootHash()), vectors.large.rootHash);
    for (const { treeSize, rootHash } of vectors.large.rootHashes)
      assert.equal(encodeHex(large.rootHash(treeSize)), rootHash);
    for (const { leafIndex, treeSize, leafHash, proof } of vectors.large.inclusion) {
      assert.deepEqual(large.inclusionProof(leafIndex, treeSize).map(encodeHex), proof);
      assert.ok(verifyInclusion(hex(leafHash), leafIndex, treeSize, hexes(proof), largeRoot));
    }
    for (const { oldSize, newSize, proof } of vectors.large.consistency) {
      assert.deepEqual(large.consistencyProof(oldSize, newSize).map(encodeHex), proof);
      assert.ok(verifyConsistency(oldSize, newSize, large.rootHash(oldSize), largeRoot, hexes(proof)));
    }

    for (const vector of vectors.invalidInclusion) {
      assert.ok(
        !verifyInclusion(
          hex(vector.leafHash),
          vector.leafIndex,
          vector.treeSize,
          hexes(vector.proof),
          hex(vector.rootHash),
        ),
        vector.name,
      );
    }
    for (const vector of vectors.invalidConsistency) {
      const { oldSize, newSize, oldRootHash, newRootHash, proof, name } = vector;
      assert.ok(!verifyConsistency(oldSize, newSize, hex(oldRootHash), hex(newRootHash), hexes(proof)), name);
    }
  });

  it('keys.json', async () => {
    const vectors = load('keys.json');
    const rfc = vectors.rfc8037;
    const rfcPair = ed25519KeyPairFromSeed(Buffer.from(rfc.privateJwk.d, 'base64url'));
    assert.equal(rfcPair.kid, rfc.thumbprint);
    const signed = await new CompactSign(new TextEncoder().encode(rfc.payload))
      .setProtectedHeader(rfc.protectedHeader)
      .sign(await privateCryptoKey(rfcPair));
    assert.equal(signed, rfc.jws);

    for (const key of vectors.keys) {
      const pair = ed25519KeyPairFromSeed(sha256(`caliopen test vectors: ${key.name}`));
      assert.equal(encodeHex(sha256(`caliopen test vectors: ${key.name}`)), key.seed);
      assert.deepEqual(pair.privateJwk, key.privateJwk);
      assert.equal(jwkThumbprint(key.publicJwk), key.kid);
    }
    const keySet = unwrap(parseKeySet(vectors.keySet));
    for (const { kid, at, expected } of vectors.lookups)
      assert.equal(keySet.lookup(kid, at).status, expected, `${kid} at ${at}`);
    for (const { name, document } of vectors.invalidKeySets) {
      const parsed = parseKeySet(document);
      assertExpected(parsed, { ok: false, code: 'key_set_malformed' }, name);
    }
  });

  it('labels.json', async () => {
    const vectors = load('labels.json');
    const keySet = unwrap(parseKeySet(vectors.keySet));
    for (const vector of vectors.cases) {
      const { revokedIds, ...verify } = vector.verify;
      const result = await verifyLabel(vector.jws, {
        keySet,
        ...verify,
        ...(revokedIds ? { revokedIds: new Set(revokedIds) } : {}),
      });
      assertExpected(result, vector.expected, vector.name);
      if (result.ok) assert.deepEqual(result.value, labelClaimsFromWire(vector.expected.claims), vector.name);
    }
  });

  it('checkpoints.json', async () => {
    const vectors = load('checkpoints.json');
    const keySet = unwrap(parseKeySet(vectors.keySet));
    const tree = new MerkleTree();
    for (const entry of vectors.entries) tree.appendEntry(new TextEncoder().encode(entry));
    for (const vector of vectors.signed) {
      const result = await verifyCheckpoint(vector.jws, { keySet, ...vector.verify });
      assertExpected(result, vector.expected, vector.name);
      if (result.ok) {
        assert.deepEqual(result.value.checkpoint, vector.expected.checkpoint);
        assert.equal(result.value.checkpoint.rootHash, encodeBase64(tree.rootHash(result.value.checkpoint.treeSize)));
      }
    }
    for (const vector of vectors.consistency) {
      const result = verifyConsistentWith(
        vector.previous as Checkpoint,
        vector.next as Checkpoint,
        proofOf(vector.proof),
      );
      assertExpected(result, vector.expected, vector.name);
    }
  });

  it('feeds.json', async () => {
    const vectors = load('feeds.json');
    const keySet = unwrap(parseKeySet(vectors.keySet));
    const optionsOf = (verify: Loose) => ({
      keySet,
      ...verify,
      ...(verify.consistencyProof ? { consistencyProof: proofOf(verify.consistencyProof) } : {}),
    });
    for (const vector of vectors.cases) {
      const result = await verifyFeed(vector.envelope, optionsOf(vector.verify));
      assertExpected(result, vector.expected, vector.name);
      if (result.ok) {
        assert.equal(result.value.feed.serial, vector.expected.serial);
        assert.deepEqual(
          result.value.feed.instances.map((entry) => entry.domain),
          vector.expected.domains,
        );
        assert.equal(feedDigest(result.value.feed), vector.expected.bodySha256);
      }
    }
    for (const vector of vectors.deltas) {
      const base = unwrap(await verifyFeed(vector.base, optionsOf(vector.verify))).feed;
      const delta = unwrap(
        await verifyFeedDelta(vector.delta, { ...optionsOf(vector.verify), lastSerial: base.serial }),
      ).delta;
      const result = applyDelta(base, delta, { checkResultDigest: true });
      assertExpected(result, vector.expected, vector.name);
      if (result.ok) {
        assert.equal(result.value.serial, vector.expected.serial);
        assert.deepEqual(
          result.value.instances.map((entry) => entry.domain),
          vector.expected.domains,
        );
        assert.equal(feedDigest(result.value), vector.expected.resultSha256);
      }
    }
  });
  it('entry-bindings.json', () => {
    const vectors = load('entry-bindings.json');
    const checkpoint = unwrap(parseCheckpoint(vectors.checkpoint));
    for (const { entry, leaf, leafHash } of vectors.bindings) {
      assert.equal(utf8Decode(entryLogLeaf(entry)), leaf);
      assert.equal(encodeBase64(entryLeafHash(entry)), leafHash);
    }
    for (const vector of vectors.cases) {
      const result = verifyEntryInLog(vector.entry, checkpoint, proofOf(vector.proof));
      assertExpected(result, vector.expected, vector.name);
    }
  });

  it('key-set-statements.json', async () => {
    const vectors = load('key-set-statements.json');
    const pinned = unwrap(parseKeySet(vectors.pinned));
    for (const vector of vectors.cases) {
      const result = await followKeySetChain(pinned, vector.chain, { now: vector.now, registry: vectors.registry });
      assertExpected(result, vector.expected, vector.name);
      if (result.ok) {
        assert.equal(result.value.sequence, vector.expected.sequence, vector.name);
        assert.deepEqual(
          result.value.keySet.document.keys.map((k) => k.kid),
          vector.expected.kids,
          vector.name,
        );
      }
    }
  });

  it('prekeys.json', async () => {
    const vectors = load('prekeys.json');
    for (const { randomness, privateJwk, prekey } of vectors.prekeys) {
      assert.equal(privateJwk.d, encodeBase64Url(hex(randomness)), 'the private key is the randomness');
      assert.equal(prekey.kid, jwkThumbprint(prekey.publicJwk));
      assert.equal(privateJwk.x, prekey.publicJwk.x);
    }
    for (const vector of vectors.cases) {
      const result = await verifyPrekey(vector.jws, vector.verify);
      assertExpected(result, vector.expected, vector.name);
      if (result.ok) assert.deepEqual(result.value, vector.expected.prekey, vector.name);
    }
    for (const vector of vectors.lists) {
      const result = await verifyPrekeyList(vector.document, vector.verify);
      assertExpected(result, vector.expected, vector.name);
      if (result.ok)
        assert.deepEqual(
          result.value.map((prekey) => prekey.kid),
          vector.expected.kids,
          vector.name,
        );
    }
    for (const { now, prekeys, expected } of vectors.choose) {
      assert.equal(
        choosePrekey(prekeys as { kid: string; notBefore: number; notAfter: number }[], now)?.kid ?? null,
        expected,
        `choose at ${now}`,
      );
    }
    for (const { now, held, expected } of vectors.rotation)
      assert.deepEqual(planPrekeyRotation(held, now), expected, `rotation at ${now}`);
  });

  it('envelopes.json', async () => {
    const vectors = load('envelopes.json');
    const prekeys = new Map<string, PrekeyPrivate>(
      vectors.recipientPrekeys.map((entry: Loose) => [
        entry.prekey.kid,
        { ...entry.prekey, privateJwk: entry.privateJwk },
      ]),
    );
    const senderKeys = (domain: string): Ed25519PublicJwk[] | undefined => vectors.senderKeys[domain];
    const optionsOf = (open: Loose) => ({ ...open, prekeyPrivate: (kid: string) => prekeys.get(kid), senderKeys });
    for (const vector of vectors.cases) {
      if (vector.seal) {
        // Sealing with the listed randomness reproduces the envelope byte for byte.
        const input: SealEnvelopeInput = { ...vector.seal.input, body: decodeBase64Url(vector.seal.input.body)! };
        const prekey = vectors.recipientPrekeys[0].prekey;
        const sealed = await sealEnvelope(input, {
          prekey,
          signingKey: signingKeyOf(vectors.sender.seedName),
          randomBytes: fixedRandom(hex(vector.seal.randomness)),
        });
        assert.equal(utf8Decode(sealed.bytes), vector.envelope, `${vector.name}: sealing`);
      }
      const result = await openEnvelope(vector.envelope, optionsOf(vector.open));
      assertExpected(result, vector.expected, vector.name);
      if (result.ok) {
        const { content, senderKid, prekeyKid, bucket } = result.value;
        assert.deepEqual({ ...content, body: encodeBase64Url(content.body) }, vector.expected.content, vector.name);
        assert.deepEqual(
          { senderKid, prekeyKid, bucket },
          {
            senderKid: vector.expected.senderKid,
            prekeyKid: vector.expected.prekeyKid,
            bucket: vector.expected.bucket,
          },
        );
      }
    }
    const store = new MemoryReplayStore();
    for (const expected of vectors.replay.expected) {
      const opened = unwrap(await openEnvelope(vectors.replay.envelope, optionsOf(vectors.replay.open)));
      assertExpected(
        await checkReplay(store, opened.content, { now: vectors.replay.open.now }),
        expected,
        vectors.replay.name,
      );
    }
    for (const { bucket, ciphertextLength } of vectors.buckets)
      assert.equal(ciphertextLength, Math.ceil((bucket * 4) / 3));
    for (const { bodyLength, bucket, ciphertextLength, envelopeLength } of vectors.padding) {
      const input: SealEnvelopeInput = { ...vectors.cases[0].seal.input, body: new Uint8Array(bodyLength).fill(0x41) };
      const sealed = await sealEnvelope(input, {
        prekey: vectors.recipientPrekeys[0].prekey,
        signingKey: signingKeyOf(vectors.sender.seedName),
      });
      assert.deepEqual(
        {
          bucket: sealed.bucket,
          ciphertextLength: sealed.envelope.jwe.split('.')[3]!.length,
          envelopeLength: sealed.bytes.byteLength,
        },
        { bucket, ciphertextLength, envelopeLength },
        `padding of ${bodyLength} bytes`,
      );
    }
  });

  it('request-signatures.json', async () => {
    const vectors = load('request-signatures.json');
    for (const vector of vectors.cases) {
      const { method, path, body, signature } = vector.request;
      const result = await verifyRequest(
        { method, path, body: decodeBase64Url(body)!, signature: signature ?? undefined },
        { ...vector.verify, keysOf: (domain: string) => vectors.keys[domain] },
      );
      assertExpected(result, vector.expected, vector.name);
      if (result.ok) {
        assert.deepEqual(
          result.value,
          { instance: vector.expected.instance, kid: vector.expected.kid, claims: vector.expected.claims },
          vector.name,
        );
      }
    }
  });

  it('receipts.json', async () => {
    const vectors = load('receipts.json');
    for (const vector of vectors.cases) {
      const result = await verifyReceipt(vector.jws, vector.verify);
      assertExpected(result, vector.expected, vector.name);
      if (result.ok) assert.deepEqual(result.value, vector.expected.receipt, vector.name);
    }
  });

  it('directory.json', async () => {
    const vectors = load('directory.json');
    for (const vector of vectors.keyDirectory) {
      const result = await verifyKeyDirectoryEntry(vector.jws, vector.verify);
      assertExpected(result, vector.expected, vector.name);
      if (result.ok)
        assert.deepEqual(
          { ...result.value, openpgpKey: encodeBase64Url(result.value.openpgpKey) },
          vector.expected.entry,
          vector.name,
        );
    }
    for (const vector of vectors.trust) {
      const result = await verifyTrustStatement(vector.jws, vector.verify);
      assertExpected(result, vector.expected, vector.name);
      if (result.ok) assert.deepEqual(result.value, vector.expected.statement, vector.name);
    }
  });
});
