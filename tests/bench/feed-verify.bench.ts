/**
 * P4: verifying the registry's signed feed of 10,000 instances, against its physical limit measured in the same
 * run (SHA-256 of the same bytes + one Ed25519 verification). Also prints the cost of parsing the feed, of a delta,
 * and of the transparency log at 100k entries. Prints figures; asserts nothing.
 *
 *     node --import tsx tests/bench/feed-verify.bench.ts [instances]
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  MerkleTree,
  applyDelta,
  buildFeed,
  diffFeeds,
  signFeed,
  signFeedDelta,
  verifyFeed,
  verifyFeedDelta,
  verifyFeedEnvelope,
} from '@caliopen/federation-protocol';
import {
  REGISTRY,
  T0,
  feedEntryFor,
  instanceFixture,
  keySet,
  logTree,
  registryKey,
  signedCheckpointOf,
} from '../../federation-protocol/src/testing/fixtures.ts';

const members = Number(process.argv[2] ?? 10_000);

async function measure(label: string, runs: number, task: () => unknown): Promise<number> {
  await task(); // warm up
  const start = performance.now();
  for (let run = 0; run < runs; run++) await task();
  const ms = (performance.now() - start) / runs;
  console.log(`${label.padEnd(52)} ${ms.toFixed(2).padStart(9)} ms`);
  return ms;
}

function must<T>(result: { ok: true; value: T } | { ok: false; error: Error }): T {
  if (!result.ok) throw result.error;
  return result.value;
}

// One real label and entry, copied under distinct domains: labels are not verified on the P4 path.
const template = await feedEntryFor(instanceFixture('template.caliopen.test'), T0);
const feed = buildFeed({
  serial: 1,
  issuedAt: T0,
  registry: REGISTRY,
  checkpoint: await signedCheckpointOf(logTree(100), T0),
  instances: Array.from({ length: members }, (_, index) => ({
    ...template,
    domain: `member-${String(index).padStart(6, '0')}.caliopen.test`,
  })),
});
const envelope = await signFeed(feed, registryKey);
const options = { keySet, now: T0 + 60 };
console.log(`feed of ${members} instances: ${(envelope.byteLength / 1e6).toFixed(1)} MB`);

const publicKey = createPublicKey({ key: { ...registryKey.publicJwk }, format: 'jwk' });
const message = Buffer.alloc(400, 1);
const signature = sign(null, message, createPrivateKey({ key: { ...registryKey.privateJwk }, format: 'jwk' }));

const limit = await measure('limit: SHA-256 of the bytes + 1 Ed25519 verify', 20, () => {
  createHash('sha256').update(envelope).digest();
  verify(null, message, publicKey, signature);
});
const envelopeOnly = await measure('verifyFeedEnvelope (all checks, body not parsed)', 20, async () =>
  must(await verifyFeedEnvelope(envelope, options)),
);
const full = await measure('verifyFeed (plus JSON.parse and validation)', 5, async () =>
  must(await verifyFeed(envelope, options)),
);
console.log(
  `P4 ratio verifyFeedEnvelope / limit: ${(envelopeOnly / limit).toFixed(2)} (target <= 1.5); verifyFeed / limit: ${(full / limit).toFixed(2)}`,
);

await measure('registry: signFeed', 3, () => signFeed(feed, registryKey));
const next = buildFeed({
  ...feed,
  serial: 2,
  instances: feed.instances.map((entry, index) => (index % 1000 === 0 ? { ...entry, listed: false } : entry)),
});
const delta = await signFeedDelta(diffFeeds(feed, next), registryKey);
console.log(`delta with ${Math.ceil(members / 1000)} changes: ${delta.byteLength} bytes`);
await measure('peer: verifyFeedDelta + applyDelta', 10, async () =>
  must(applyDelta(feed, must(await verifyFeedDelta(delta, options)).delta)),
);

const leaves = Array.from({ length: 100_000 }, (_, index) => createHash('sha256').update(String(index)).digest());
let tree = new MerkleTree();
await measure('log: MerkleTree.fromLeafHashes(100k)', 1, () => {
  tree = MerkleTree.fromLeafHashes(leaves);
});
await measure('log: inclusion proof at 100k', 1000, () => tree.inclusionProof(77_777));
await measure('log: consistency proof 70,001 -> 100k', 1000, () => tree.consistencyProof(70_001));
