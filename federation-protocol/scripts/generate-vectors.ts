/**
 * Writes the test vectors of federation-protocol/test-vectors/ from fixed keys and fixed times, so the output is
 * the same on every run (Ed25519 signatures are deterministic). Another implementation replays these files; ours
 * does in src/test-vectors.test.ts, which also checks that the checked-in files are what this script produces.
 *
 *     node --import tsx federation-protocol/scripts/generate-vectors.ts
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { CompactSign } from 'jose';
import {
  MerkleTree,
  buildFeed,
  canonicalJson,
  canonicalJsonBytes,
  checkpointOf,
  decodeBase64Url,
  diffFeeds,
  ed25519KeyPairFromSeed,
  encodeBase64Url,
  encodeHex,
  encodeProof,
  signKeySetStatement,
  entryLeafHash,
  entryLogLeaf,
  sha256,
  signCheckpoint,
  signFeed,
  signFeedDelta,
  utf8Decode,
} from '../src/index.ts';
import type { Checkpoint, Ed25519KeyPair, Feed, Hash } from '../src/index.ts';
import { privateCryptoKey } from '../src/keys.ts';
import {
  DAY,
  LOG_ORIGIN,
  bindEntries,
  REGISTRY,
  T0,
  feedEntryFor,
  instanceFixture,
  keySetDocument,
  labelFor,
  logEntry,
  logTree,
  nextRegistryKey,
  registryKey,
  retiredRegistryKey,
  seedOf,
  signedCheckpointOf,
  strangerKey,
} from '../src/testing/fixtures.ts';
import {
  directoryVectors,
  envelopeVectors,
  prekeyVectors,
  receiptVectors,
  requestSignatureVectors,
} from './federation-vectors.ts';

export const VECTORS_DIRECTORY = new URL('../test-vectors/', import.meta.url);

const GENERATED_BY = 'federation-protocol/scripts/generate-vectors.ts';

/** Every vector file, by file name. */
export async function generateVectors(): Promise<Record<string, unknown>> {
  return {
    'canonical-json.json': canonicalJsonVectors(),
    'merkle.json': merkleVectors(),
    'keys.json': keyVectors(),
    'labels.json': await labelVectors(),
    'checkpoints.json': await checkpointVectors(),
    'feeds.json': await feedVectors(),
    'entry-bindings.json': await entryBindingVectors(),
    'key-set-statements.json': await keySetStatementVectors(),
    'prekeys.json': await prekeyVectors(),
    'envelopes.json': await envelopeVectors(),
    'request-signatures.json': await requestSignatureVectors(),
    'receipts.json': await receiptVectors(),
    'directory.json': await directoryVectors(),
  };
}

// ---------------------------------------------------------------------------------------------------------------

function canonicalJsonVectors() {
  const texts: [string, string][] = [
    [
      'RFC 8785 §3.2.2 sample',
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}',
    ],
    [
      'RFC 8785 §3.2.3 member order (UTF-16 code units)',
      '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One", "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control", "\\u00f6": "Latin Small Letter O With Diaeresis"}',
    ],
    [
      'nested members sorted at every depth, arrays kept in order',
      '{"b": [{"z": 1, "a": 2}, [3, 1, 2]], "a": {"d": {"y": null, "x": true}, "c": false}}',
    ],
    ['empty containers and whitespace', ' { "empty" : { } , "list" : [ ] } '],
    [
      'number spellings',
      '[1.0, -0, 1E2, 0.1, 1e-7, 123456789012345678901234567890, -1.5e-10, 100000000000000000000, 1e21]',
    ],
    [
      'string escapes: only the required ones',
      '["\\u0000\\u001f\\b\\f\\n\\r\\t", "\\u007f\\u00e9\\u2028", "\\"quoted\\" \\\\ \\/"]',
    ],
    [
      'a label payload',
      '{"sub": "alpha.caliopen.test", "iss": "registry.caliopen.test", "pi": {"score": 90, "level": "sealed", "modelVersion": "instance-pi/1"}, "iat": 1767225600, "exp": 1767830400}',
    ],
  ];
  const numbers = [
    '0000000000000000',
    '8000000000000000',
    '0000000000000001',
    '8000000000000001',
    '7fefffffffffffff',
    'ffefffffffffffff',
    '4340000000000000',
    'c340000000000000',
    '4430000000000000',
    '44b52d02c7e14af5',
    '44b52d02c7e14af6',
    '44b52d02c7e14af7',
    '444b1ae4d6e2ef4e',
    '444b1ae4d6e2ef4f',
    '444b1ae4d6e2ef50',
    '3eb0c6f7a0b5ed8c',
    '3eb0c6f7a0b5ed8d',
    '41b3de4355555553',
    '41b3de4355555554',
    '41b3de4355555555',
    '41b3de4355555556',
    '41b3de4355555557',
    'becbf647612f3696',
    '43143ff3c1cb0959',
  ];
  return {
    description:
      'RFC 8785 canonical JSON. cases: canonical(parse(json)) must equal canonical, and sha256 (hex) is the SHA-256 of ' +
      'its UTF-8 bytes. numbers: the IEEE 754 double with these bits (big-endian hex) writes as canonical (RFC 8785 ' +
      'appendix B). invalid: parsing json gives a value outside I-JSON that must be rejected (json_unsupported_value).',
    generatedBy: GENERATED_BY,
    cases: texts.map(([name, json]) => {
      const canonical = canonicalJson(JSON.parse(json));
      return { name, json, canonical, sha256: encodeHex(sha256(canonical)) };
    }),
    numbers: numbers.map((ieee754) => ({
      ieee754,
      canonical: canonicalJson(Buffer.from(ieee754, 'hex').readDoubleBE(0)),
    })),
    invalid: [
      { name: 'lone high surrogate in a string', json: '["\\ud800"]' },
      { name: 'lone low surrogate in a member name', json: '{"\\udc00": 1}' },
      { name: 'number beyond binary64 (parses to Infinity)', json: '[1e400]' },
    ],
  };
}

// ---------------------------------------------------------------------------------------------------------------

function merkleVectors() {
  const entries = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'];
  const tree = new MerkleTree();
  for (const entry of entries) tree.appendEntry(Buffer.from(entry, 'hex'));
  const hex = (proof: readonly Hash[]) => proof.map(encodeHex);

  const inclusion = [];
  const consistency = [];
  for (let treeSize = 1; treeSize <= entries.length; treeSize++) {
    for (let leafIndex = 0; leafIndex < treeSize; leafIndex++) {
      inclusion.push({ leafIndex, treeSize, proof: hex(tree.inclusionProof(leafIndex, treeSize)) });
    }
  }
  for (let newSize = 0; newSize <= entries.length; newSize++) {
    for (let oldSize = 0; oldSize <= newSize; oldSize++) {
      consistency.push({ oldSize, newSize, proof: hex(tree.consistencyProof(oldSize, newSize)) });
    }
  }

  const large = new MerkleTree();
  for (let index = 0; index < 1000; index++) large.appendEntry(uint32be(index));
  const forked = MerkleTree.fromLeafHashes(Array.from({ length: 8 }, (_, index) => tree.leafHash(index)));
  forked.appendEntry(Buffer.from('ff', 'hex'));
  const root = (size: number, source = tree) => encodeHex(source.rootHash(size));
  const leaf = (index: number) => encodeHex(tree.leafHash(index));
  const flip = (hash: Hash) => encodeHex(hash.map((byte, index) => (index === 0 ? byte ^ 1 : byte)));

  return {
    description:
      'RFC 9162 Merkle tree hashing (leaf = SHA-256(0x00 || entry), node = SHA-256(0x01 || left || right)); hashes and ' +
      'entries in hex. The 8 entries, their roots and the proofs marked "reference" are the RFC 6962 reference test ' +
      'data of Certificate Transparency; the rest is generated. Every proof listed must be produced exactly and ' +
      'must verify; every invalid case must fail verification.',
    generatedBy: GENERATED_BY,
    entries,
    leafHashes: entries.map((_, index) => leaf(index)),
    roots: Array.from({ length: entries.length + 1 }, (_, treeSize) => ({ treeSize, rootHash: root(treeSize) })),
    inclusion,
    consistency,
    large: {
      description: 'Entry i is the 4-byte big-endian encoding of i.',
      treeSize: 1000,
      rootHash: root(1000, large),
      rootHashes: [1, 2, 511, 512, 513, 999].map((treeSize) => ({ treeSize, rootHash: root(treeSize, large) })),
      inclusion: [0, 1, 511, 512, 998, 999].map((leafIndex) => ({
        leafIndex,
        treeSize: 1000,
        leafHash: encodeHex(large.leafHash(leafIndex)),
        proof: hex(large.inclusionProof(leafIndex)),
      })),
      consistency: [1, 2, 511, 512, 513, 999].map((oldSize) => ({
        oldSize,
        newSize: 1000,
        proof: hex(large.consistencyProof(oldSize)),
      })),
    },
    invalidInclusion: [
      {
        name: 'tampered proof hash',
        leafHash: leaf(5),
        leafIndex: 5,
        treeSize: 8,
        rootHash: root(8),
        proof: [flip(tree.inclusionProof(5)[0]!), ...hex(tree.inclusionProof(5).slice(1))],
      },
      {
        name: 'another leaf',
        leafHash: leaf(4),
        leafIndex: 5,
        treeSize: 8,
        rootHash: root(8),
        proof: hex(tree.inclusionProof(5)),
      },
      {
        name: 'another index',
        leafHash: leaf(5),
        leafIndex: 4,
        treeSize: 8,
        rootHash: root(8),
        proof: hex(tree.inclusionProof(5)),
      },
      {
        name: 'another size with its own root',
        leafHash: leaf(5),
        leafIndex: 5,
        treeSize: 7,
        rootHash: root(7),
        proof: hex(tree.inclusionProof(5)),
      },
      {
        name: 'truncated proof',
        leafHash: leaf(5),
        leafIndex: 5,
        treeSize: 8,
        rootHash: root(8),
        proof: hex(tree.inclusionProof(5).slice(0, 2)),
      },
      {
        name: 'index beyond the tree',
        leafHash: leaf(5),
        leafIndex: 8,
        treeSize: 8,
        rootHash: root(8),
        proof: hex(tree.inclusionProof(5)),
      },
    ],
    invalidConsistency: [
      {
        name: 'old root of a rewritten history',
        oldSize: 6,
        newSize: 8,
        oldRootHash: flip(tree.rootHash(6)),
        newRootHash: root(8),
        proof: hex(tree.consistencyProof(6, 8)),
      },
      {
        name: 'new root of a forked log',
        oldSize: 6,
        newSize: 9,
        oldRootHash: root(6),
        newRootHash: flip(forked.rootHash(9)),
        proof: hex(forked.consistencyProof(6, 9)),
      },
      {
        name: 'tampered proof hash',
        oldSize: 6,
        newSize: 8,
        oldRootHash: root(6),
        newRootHash: root(8),
        proof: [flip(tree.consistencyProof(6, 8)[0]!), ...hex(tree.consistencyProof(6, 8).slice(1))],
      },
      {
        name: 'same size, different roots',
        oldSize: 8,
        newSize: 8,
        oldRootHash: root(8),
        newRootHash: flip(tree.rootHash(8)),
        proof: [],
      },
      {
        name: 'same size with a superfluous proof',
        oldSize: 8,
        newSize: 8,
        oldRootHash: root(8),
        newRootHash: root(8),
        proof: [root(8)],
      },
      {
        name: 'a tree that shrank',
        oldSize: 8,
        newSize: 6,
        oldRootHash: root(8),
        newRootHash: root(6),
        proof: hex(tree.consistencyProof(6, 8)),
      },
      { name: 'missing proof', oldSize: 6, newSize: 8, oldRootHash: root(6), newRootHash: root(8), proof: [] },
    ],
  };
}

function uint32be(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value);
  return bytes;
}

// ---------------------------------------------------------------------------------------------------------------

function describeKey(name: string, keyPair: Ed25519KeyPair) {
  return {
    name,
    seed: encodeHex(seedOf(name)),
    privateJwk: keyPair.privateJwk,
    publicJwk: keyPair.publicJwk,
    kid: keyPair.kid,
  };
}

function keyVectors() {
  const rfc8037 = ed25519KeyPairFromSeed(decodeBase64Url('nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A')!);
  const [retired, current] = keySetDocument.keys as [(typeof keySetDocument.keys)[0], (typeof keySetDocument.keys)[0]];
  return {
    description:
      'Ed25519 keys as JWK (RFC 8037), kid = RFC 7638 SHA-256 thumbprint, and the registry key set document. Test keys ' +
      'derive from a name: seed = SHA-256("caliopen test vectors: " + name). lookups: the status of a kid at a time ' +
      '(valid when notBefore <= at < notAfter). invalidKeySets must be refused (key_set_malformed). rfc8037: ' +
      'appendix A of RFC 8037, whose JWS a conforming signer reproduces exactly.',
    generatedBy: GENERATED_BY,
    rfc8037: {
      privateJwk: rfc8037.privateJwk,
      thumbprint: 'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k',
      payload: 'Example of Ed25519 signing',
      protectedHeader: { alg: 'EdDSA' },
      jws: 'eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg',
    },
    keys: [
      describeKey('registry key 2026', registryKey),
      describeKey('registry key 2025', retiredRegistryKey),
      describeKey('stranger key', strangerKey),
    ],
    keySet: keySetDocument,
    lookups: [
      { kid: registryKey.kid, at: T0, expected: 'valid' },
      { kid: registryKey.kid, at: current.notBefore, expected: 'valid' },
      { kid: registryKey.kid, at: current.notAfter, expected: 'outside_validity' },
      { kid: retiredRegistryKey.kid, at: T0, expected: 'outside_validity' },
      { kid: retiredRegistryKey.kid, at: retired.notAfter - 1, expected: 'valid' },
      { kid: strangerKey.kid, at: T0, expected: 'unknown' },
    ],
    invalidKeySets: [
      { name: 'kid is not the thumbprint of the key', document: { keys: [{ ...current, kid: strangerKey.kid }] } },
      { name: 'private key material published', document: { keys: [{ ...current, jwk: registryKey.privateJwk }] } },
      { name: 'the same key twice', document: { keys: [current, current] } },
      { name: 'empty validity window', document: { keys: [{ ...current, notAfter: current.notBefore }] } },
      { name: 'not an Ed25519 key', document: { keys: [{ ...current, jwk: { ...current.jwk, crv: 'X25519' } }] } },
    ],
  };
}

// ---------------------------------------------------------------------------------------------------------------

/** A label-typed JWS over arbitrary claims, to describe claims a registry must never sign. */
async function signRawLabel(claims: unknown): Promise<string> {
  return new CompactSign(canonicalJsonBytes(claims))
    .setProtectedHeader({ alg: 'EdDSA', kid: registryKey.kid, typ: 'caliopen-label+jwt' })
    .sign(await privateCryptoKey(registryKey));
}

function payloadOf(jws: string): Record<string, unknown> {
  return JSON.parse(utf8Decode(decodeBase64Url(jws.split('.')[1]!)!)!) as Record<string, unknown>;
}

function withFlippedSignature(jws: string): string {
  const [header, payload, signature] = jws.split('.') as [string, string, string];
  const bytes = decodeBase64Url(signature)!;
  bytes[10]! ^= 0x01;
  return `${header}.${payload}.${encodeBase64Url(bytes)}`;
}

async function labelVectors() {
  const alpha = instanceFixture('alpha.caliopen.test');
  const valid = await labelFor(alpha, { issuedAt: T0 });
  const now = T0 + DAY;
  const verify = { expectedDomain: alpha.domain, now };
  const rejected = (name: string, jws: string, code: string, options: Record<string, unknown> = {}) => ({
    name,
    jws,
    verify: { ...verify, ...options },
    expected: { ok: false, code },
  });
  const checkpoint = await signedCheckpointOf(logTree(3), T0);
  return {
    description:
      'Labels: compact JWS, EdDSA, typ "caliopen-label+jwt", kid = thumbprint of a key of keySet. verify gives the ' +
      'options of the check (expectedDomain, now in seconds, optional expectedIssuer and revokedIds; clock tolerance ' +
      '60 s). expected is either { ok: true, claims } with the wire claims, or { ok: false, code } with the stable ' +
      'error code. Order of checks: shape, key, signature, claims, issuer, domain, revocation, time.',
    generatedBy: GENERATED_BY,
    keySet: keySetDocument,
    cases: [
      { name: 'valid label', jws: valid.jws, verify, expected: { ok: true, claims: payloadOf(valid.jws) } },
      {
        name: 'valid label, issuer and revocation list checked',
        jws: valid.jws,
        verify: { ...verify, expectedIssuer: REGISTRY, revokedIds: ['label-other'] },
        expected: { ok: true, claims: payloadOf(valid.jws) },
      },
      rejected('bad signature (one bit flipped)', withFlippedSignature(valid.jws), 'label_bad_signature'),
      rejected('unknown key', (await labelFor(alpha, { issuedAt: T0, key: strangerKey })).jws, 'label_unknown_key'),
      rejected(
        'registry key outside its validity window',
        (await labelFor(alpha, { issuedAt: T0, key: retiredRegistryKey })).jws,
        'label_key_outside_validity',
      ),
      rejected('expired', valid.jws, 'label_expired', { now: valid.claims.expiresAt + 3600 }),
      rejected('not yet valid', valid.jws, 'label_not_yet_valid', { now: T0 - 3600 }),
      rejected('wrong domain', valid.jws, 'label_wrong_domain', { expectedDomain: 'mallory.example' }),
      rejected('wrong issuer', valid.jws, 'label_wrong_issuer', { expectedIssuer: 'other-registry.example' }),
      rejected('revoked', valid.jws, 'label_revoked', { revokedIds: [valid.claims.id] }),
      rejected('a checkpoint is not a label (typ)', checkpoint, 'label_malformed'),
      rejected(
        'lifetime beyond 14 days',
        await signRawLabel({ ...payloadOf(valid.jws), exp: T0 + 30 * DAY }),
        'label_malformed',
      ),
      rejected(
        'level that does not match the score',
        await signRawLabel({
          ...payloadOf(valid.jws),
          pi: { score: 90, level: 'basic', modelVersion: 'instance-pi/1' },
        }),
        'label_malformed',
      ),
      rejected(
        'alg none',
        `${encodeBase64Url(Buffer.from('{"alg":"none","typ":"caliopen-label+jwt"}'))}.${valid.jws.split('.')[1]}.`,
        'label_malformed',
      ),
    ],
  };
}

// ---------------------------------------------------------------------------------------------------------------

async function checkpointVectors() {
  const tree = logTree(12);
  const forked = logTree(12, 'fork', 5);
  const at = (size: number, source = tree): Checkpoint =>
    checkpointOf(source, { origin: LOG_ORIGIN, timestamp: T0 + size, size });
  const signed = await signCheckpoint(at(12), registryKey);
  return {
    description:
      'Checkpoints: compact JWS, EdDSA, typ "caliopen-checkpoint+jws", payload { origin, treeSize, rootHash (base64), ' +
      'timestamp }. entries are the UTF-8 log entries whose RFC 9162 tree the checkpoints describe; forkedEntries a ' +
      'second history sharing the first 5. consistency: verifyConsistentWith(previous, next, proof (base64)) accepts ' +
      'or fails with the code given.',
    generatedBy: GENERATED_BY,
    keySet: keySetDocument,
    entries: Array.from({ length: 12 }, (_, index) => utf8Decode(logEntry(index))),
    forkedEntries: Array.from({ length: 12 }, (_, index) => utf8Decode(logEntry(index, index < 5 ? 'main' : 'fork'))),
    signed: [
      {
        name: 'valid checkpoint',
        jws: signed,
        verify: { now: T0, expectedOrigin: LOG_ORIGIN },
        expected: { ok: true, checkpoint: at(12) },
      },
      {
        name: 'bad signature',
        jws: withFlippedSignature(signed),
        verify: { now: T0 },
        expected: { ok: false, code: 'checkpoint_bad_signature' },
      },
      {
        name: 'unknown key',
        jws: await signCheckpoint(at(12), strangerKey),
        verify: { now: T0 },
        expected: { ok: false, code: 'checkpoint_unknown_key' },
      },
      {
        name: 'wrong origin',
        jws: signed,
        verify: { now: T0, expectedOrigin: 'other.example/log' },
        expected: { ok: false, code: 'checkpoint_wrong_origin' },
      },
    ],
    consistency: [
      {
        name: 'append-only growth',
        previous: at(5),
        next: at(12),
        proof: encodeProof(tree.consistencyProof(5, 12)),
        expected: { ok: true },
      },
      { name: 'same tree', previous: at(12), next: at(12), proof: [], expected: { ok: true } },
      {
        name: 'fork after entry 5, with a proof valid in the fork',
        previous: at(8),
        next: at(12, forked),
        proof: encodeProof(forked.consistencyProof(8, 12)),
        expected: { ok: false, code: 'checkpoint_inconsistent' },
      },
      {
        name: 'two roots for the same size',
        previous: at(8),
        next: at(8, forked),
        proof: [],
        expected: { ok: false, code: 'checkpoint_inconsistent' },
      },
      {
        name: 'rollback',
        previous: at(12),
        next: at(8),
        proof: encodeProof(tree.consistencyProof(8, 12)),
        expected: { ok: false, code: 'checkpoint_inconsistent' },
      },
      {
        name: 'another log',
        previous: at(5),
        next: { ...at(12), origin: 'other.example/log' },
        proof: encodeProof(tree.consistencyProof(5, 12)),
        expected: { ok: false, code: 'checkpoint_wrong_origin' },
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------------------------

async function feedVectors() {
  const fixtures = ['alpha.caliopen.test', 'beta.caliopen.test'].map((domain, index) =>
    instanceFixture(domain, 90 - 25 * index),
  );
  const tree = logTree(12);
  const forked = logTree(12, 'fork', 5);
  const issuedAt = T0;
  const entries = await Promise.all(fixtures.map((fixture) => feedEntryFor(fixture, issuedAt)));
  const feed = buildFeed({
    serial: 42,
    issuedAt,
    registry: REGISTRY,
    checkpoint: await signedCheckpointOf(tree, issuedAt),
    instances: entries,
  });
  const envelope = text(await signFeed(feed, registryKey));
  const forkedEnvelope = text(
    await signFeed(buildFeed({ ...feed, checkpoint: await signedCheckpointOf(forked, issuedAt) }), registryKey),
  );
  const lastCheckpoint = checkpointOf(tree, { origin: LOG_ORIGIN, timestamp: issuedAt - DAY, size: 8 });
  const mislabelled = buildFeed({ ...feed, instances: [{ ...entries[0]!, label: entries[1]!.label }, entries[1]!] });

  const gamma = instanceFixture('gamma.caliopen.test', 70);
  const next: Feed = buildFeed({
    serial: 43,
    issuedAt: issuedAt + DAY,
    registry: REGISTRY,
    checkpoint: await signedCheckpointOf(logTree(14), issuedAt + DAY),
    instances: [{ ...entries[0]!, listed: false }, await feedEntryFor(gamma, issuedAt + DAY)],
  });
  const delta = text(await signFeedDelta(diffFeeds(feed, next), registryKey));
  const now = issuedAt + 3600;
  const summary = (document: Feed) => ({
    ok: true,
    serial: document.serial,
    domains: document.instances.map((entry) => entry.domain),
    bodySha256: encodeBase64Sha256(canonicalJsonBytes(document)),
  });
  const tamperedBody = envelope.replace('"score":90', '"score":91');
  if (tamperedBody === envelope) throw new Error('The tampered-body vector did not change the body.');

  return {
    description:
      'Signed feeds: "<compact JWS>\\n<canonical JSON body>" (UTF-8; given here as text). The JWS (typ ' +
      '"caliopen-feed+jws") signs the head: the document without "instances", plus bodySha256 (base64 SHA-256 of the ' +
      'body bytes). verify gives now (seconds) and optionally lastSerial, lastCheckpoint, consistencyProof (base64) ' +
      'and verifyLabels. expected: { ok: true, serial, domains, bodySha256 } or { ok: false, code }. deltas: verify ' +
      'base as a feed, verify delta (typ "caliopen-feed-delta+jws") with lastSerial = base serial, apply it and ' +
      'compare the canonical result with resultSha256; or expect the code given.',
    generatedBy: GENERATED_BY,
    keySet: keySetDocument,
    cases: [
      { name: 'valid feed', envelope, verify: { now }, expected: summary(feed) },
      { name: 'valid feed, labels checked', envelope, verify: { now, verifyLabels: true }, expected: summary(feed) },
      {
        name: 'valid feed extending the last checkpoint seen',
        envelope,
        verify: { now, lastSerial: 41, lastCheckpoint, consistencyProof: encodeProof(tree.consistencyProof(8, 12)) },
        expected: summary(feed),
      },
      {
        name: 'forked log: the feed checkpoint does not extend the last one seen',
        envelope: forkedEnvelope,
        verify: { now, lastCheckpoint, consistencyProof: encodeProof(forked.consistencyProof(8, 12)) },
        expected: { ok: false, code: 'feed_inconsistent_log' },
      },
      {
        name: 'log grew but no consistency proof given',
        envelope,
        verify: { now, lastCheckpoint },
        expected: { ok: false, code: 'feed_consistency_proof_required' },
      },
      {
        name: 'stale serial (replayed older feed)',
        envelope,
        verify: { now, lastSerial: 43 },
        expected: { ok: false, code: 'feed_stale_serial' },
      },
      {
        name: 'body changed after signing',
        envelope: tamperedBody,
        verify: { now },
        expected: { ok: false, code: 'feed_bad_signature' },
      },
      {
        name: 'signed by an unknown key',
        envelope: text(await signFeed(feed, strangerKey)),
        verify: { now },
        expected: { ok: false, code: 'feed_unknown_key' },
      },
      {
        name: 'an entry carries the label of another instance',
        envelope: text(await signFeed(mislabelled, registryKey)),
        verify: { now, verifyLabels: true },
        expected: { ok: false, code: 'feed_invalid_label' },
      },
      {
        name: 'no signature line',
        envelope: canonicalJson(feed),
        verify: { now },
        expected: { ok: false, code: 'feed_malformed' },
      },
    ],
    deltas: [
      {
        name: 'delta from serial 42 to 43',
        base: envelope,
        delta,
        verify: { now: now + DAY },
        expected: {
          ok: true,
          serial: 43,
          domains: ['alpha.caliopen.test', 'gamma.caliopen.test'],
          resultSha256: encodeBase64Sha256(canonicalJsonBytes(next)),
        },
      },
      {
        name: 'delta applied to another base',
        base: text(await signFeed(next, registryKey)),
        delta,
        verify: { now: now + DAY },
        expected: { ok: false, code: 'feed_delta_base_mismatch' },
      },
    ],
  };
}

async function entryBindingVectors() {
  const fixtures = ['alpha.caliopen.test', 'beta.caliopen.test'].map((domain, index) =>
    instanceFixture(domain, 90 - 25 * index),
  );
  const tree = logTree(5);
  const [alphaEntry, betaEntry] = await Promise.all(fixtures.map((fixture) => feedEntryFor(fixture, T0)));
  // beta rotated its signing key: the previous one is accepted until the end of the overlap, and bound as well.
  const betaOldKey = ed25519KeyPairFromSeed(seedOf('beta.caliopen.test previous signing key'));
  const betaRotated = {
    ...betaEntry!,
    keys: { ...betaEntry!.keys, previousSigning: [{ jwk: betaOldKey.publicJwk, notAfter: T0 + 3 * DAY }] },
  };
  const [alpha, beta] = bindEntries(tree, [alphaEntry!, betaRotated]) as [
    Feed['instances'][number],
    Feed['instances'][number],
  ];
  tree.appendEntry(logEntry(7));
  const checkpoint = checkpointOf(tree, { origin: LOG_ORIGIN, timestamp: T0 });
  const proofOf = (index: number) => encodeProof(tree.inclusionProof(index, tree.size));
  const leafOf = (entry: Feed['instances'][number]) => ({
    leaf: utf8Decode(entryLogLeaf(entry))!,
    leafHash: Buffer.from(entryLeafHash(entry)).toString('base64'),
  });
  return {
    description:
      'Feed entries bound to the transparency log (SPEC.md, "Entries bound to the log"). leaf is the canonical JSON ' +
      'of the entry\'s binding { type: "feed.entry", domain, status, labelId, keys: { signing, encryption } (RFC 7638 ' +
      'thumbprints), certFingerprint, entrySha256 (base64 SHA-256 of the canonical entry without logIndex) }; ' +
      'leafHash its RFC 9162 leaf hash. Each case: recompute the leaf from entry and verify its inclusion at ' +
      'entry.logIndex in the tree of checkpoint (treeSize, rootHash) with proof (base64); expected { ok: true } or ' +
      '{ ok: false, code }.',
    generatedBy: GENERATED_BY,
    checkpoint,
    bindings: [alpha, beta].map((entry) => ({ entry, ...leafOf(entry) })),
    cases: [
      { name: 'bound entry', entry: alpha, proof: proofOf(alpha.logIndex), expected: { ok: true } },
      { name: 'second bound entry', entry: beta, proof: proofOf(beta.logIndex), expected: { ok: true } },
      {
        name: 'signing key swapped after binding',
        entry: { ...beta, keys: { ...beta.keys, signing: strangerKey.publicJwk } },
        proof: proofOf(beta.logIndex),
        expected: { ok: false, code: 'feed_entry_not_in_log' },
      },
      {
        name: 'status changed after binding (a revocation hidden)',
        entry: { ...alpha, status: 'labelled' as const, listed: false },
        proof: proofOf(alpha.logIndex),
        expected: { ok: false, code: 'feed_entry_not_in_log' },
      },
      {
        name: 'previous signing key dropped after binding',
        entry: { ...beta, keys: { signing: beta.keys.signing, encryption: beta.keys.encryption } },
        proof: proofOf(beta.logIndex),
        expected: { ok: false, code: 'feed_entry_not_in_log' },
      },
      {
        name: 'logIndex pointing at another leaf',
        entry: { ...alpha, logIndex: beta.logIndex },
        proof: proofOf(beta.logIndex),
        expected: { ok: false, code: 'feed_entry_not_in_log' },
      },
      {
        name: 'logIndex beyond the checkpoint',
        entry: { ...alpha, logIndex: tree.size },
        proof: [],
        expected: { ok: false, code: 'feed_entry_not_in_log' },
      },
    ],
  };
}

async function keySetStatementVectors() {
  const thirdKey = ed25519KeyPairFromSeed(seedOf('registry key 2028'));
  const pinned = keySetDocument.keys;
  const set1 = [
    ...pinned.map((k) => (k.kid === registryKey.kid ? { ...k, notAfter: T0 + 30 * DAY } : k)),
    { jwk: nextRegistryKey.publicJwk, kid: nextRegistryKey.kid, notBefore: T0 + DAY, notAfter: T0 + 400 * DAY },
  ];
  const set2 = [
    ...set1,
    { jwk: thirdKey.publicJwk, kid: thirdKey.kid, notBefore: T0 + 100 * DAY, notAfter: T0 + 800 * DAY },
  ];
  const first = await signKeySetStatement({ registry: REGISTRY, sequence: 1, issuedAt: T0, keys: set1 }, registryKey);
  const second = await signKeySetStatement(
    { registry: REGISTRY, sequence: 2, issuedAt: T0 + 50 * DAY, keys: set2 },
    nextRegistryKey,
  );
  const now = T0 + 60 * DAY;
  const flipped = `${second.slice(0, -2)}${second.endsWith('AA') ? 'BA' : 'AA'}`;
  return {
    description:
      'Registry key rotation statements (SPEC.md §3, "Registry key rotation"): compact JWS, typ ' +
      '"caliopen-key-set+jws", payload { registry, sequence, issuedAt, keys } (keys as in a key set document), signed ' +
      'by a key of the previous set valid at issuedAt; sequence 0 is the pinned set. Each case: follow chain from ' +
      'pinned at now (registry given); expected { ok: true, sequence, kids } (the kids of the set reached) or ' +
      '{ ok: false, code }.',
    generatedBy: GENERATED_BY,
    pinned: keySetDocument,
    registry: REGISTRY,
    cases: [
      {
        name: 'no statement: the pinned set',
        chain: [],
        now,
        expected: { ok: true, sequence: 0, kids: pinned.map((k) => k.kid) },
      },
      {
        name: 'two rotations',
        chain: [first, second],
        now,
        expected: { ok: true, sequence: 2, kids: set2.map((k) => k.kid) },
      },
      {
        name: 'signed by a key not in the set it chains from',
        chain: [await signKeySetStatement({ registry: REGISTRY, sequence: 1, issuedAt: T0, keys: set1 }, strangerKey)],
        now,
        expected: { ok: false, code: 'key_set_statement_unknown_key' },
      },
      {
        name: 'the second link alone',
        chain: [second],
        now,
        expected: { ok: false, code: 'key_set_statement_unknown_key' },
      },
      {
        name: 'a gap in the sequence',
        chain: [await signKeySetStatement({ registry: REGISTRY, sequence: 2, issuedAt: T0, keys: set1 }, registryKey)],
        now,
        expected: { ok: false, code: 'key_set_chain_broken' },
      },
      {
        name: 'signed by the retired key, outside its window',
        chain: [
          await signKeySetStatement({ registry: REGISTRY, sequence: 1, issuedAt: T0, keys: set1 }, retiredRegistryKey),
        ],
        now,
        expected: { ok: false, code: 'key_set_statement_key_outside_validity' },
      },
      {
        name: 'signature changed',
        chain: [first, flipped],
        now,
        expected: { ok: false, code: 'key_set_statement_bad_signature' },
      },
      {
        name: 'issued in the future',
        chain: [first, second],
        now: T0 + 10 * DAY,
        expected: { ok: false, code: 'key_set_chain_broken' },
      },
    ],
  };
}

function text(bytes: Uint8Array): string {
  return utf8Decode(bytes)!;
}

function encodeBase64Sha256(bytes: Uint8Array): string {
  return Buffer.from(sha256(bytes)).toString('base64');
}

// ---------------------------------------------------------------------------------------------------------------

export function serializeVectors(vectors: unknown): string {
  return `${JSON.stringify(vectors, null, 2)}\n`;
}

async function main(): Promise<void> {
  const files = await generateVectors();
  for (const [name, vectors] of Object.entries(files)) {
    writeFileSync(new URL(name, VECTORS_DIRECTORY), serializeVectors(vectors));
    console.log(`wrote test-vectors/${name}`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
