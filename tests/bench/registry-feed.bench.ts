/**
 * The registry's feed at 10,000 labelled instances, built by the registry itself: applications stored and labels
 * issued through its domain services (no HTTP), then the figures a deployment cares about — issuing, building and
 * signing the feed, its size, a peer verifying it (envelope only, then parsed, then with every label), and a delta
 * of 10 changes (size, build, peer verify + apply). Prints figures; asserts nothing.
 *
 *     node --import tsx tests/bench/registry-feed.bench.ts [instances]
 */
import { createHash, createPublicKey, randomBytes, randomUUID, sign, verify, createPrivateKey } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  applyDelta,
  jwkThumbprint,
  verifyFeed,
  verifyFeedDelta,
  verifyFeedEnvelope,
  type Ed25519PublicJwk,
  type X25519PublicJwk,
} from '@caliopen/federation-protocol';
import {
  buildRegistryServices,
  initRegistry,
  loadRegistryConfig,
  type Application,
  type CheckRun,
} from '@caliopen/registry';
import { PublicationBatch } from '../../registry/src/labels/label.service.ts';
import { emptyDnsResolver, selfSignedCertificate } from '../support/registry.ts';
import { tempDir } from '../support/tmp.ts';

const members = Number(process.argv[2] ?? 10_000);
const { dir, cleanup } = tempDir('caliopen-registry-bench-');

function must<T>(result: { ok: true; value: T } | { ok: false; error: Error }): T {
  if (!result.ok) throw result.error;
  return result.value;
}

async function time<T>(label: string, task: () => Promise<T>): Promise<T> {
  const start = performance.now();
  const value = await task();
  console.log(`${label.padEnd(60)} ${(performance.now() - start).toFixed(1).padStart(10)} ms`);
  return value;
}

async function measure(label: string, runs: number, task: () => unknown): Promise<number> {
  await task();
  const start = performance.now();
  for (let run = 0; run < runs; run++) await task();
  const ms = (performance.now() - start) / runs;
  console.log(`${label.padEnd(60)} ${ms.toFixed(1).padStart(10)} ms`);
  return ms;
}

await initRegistry({ dataDir: dir, origin: 'registry.bench.test', httpPort: '0' }, () => {});
const config = loadRegistryConfig({ dataDir: dir, env: {}, overrides: { log: { level: 'silent' } } });
const services = await buildRegistryServices(config, {
  runChecks: async () => [],
  resolver: emptyDnsResolver,
  open: { queue: false },
});
const { storage, labels, feed, keys, exclusive } = services;

// One real certificate for every member (its fingerprint is all the feed carries); distinct keys per member.
const cert = await selfSignedCertificate('bench.caliopen.test');
const now = new Date();
const nowS = Math.floor(now.getTime() / 1000);
const PASSING = [
  'domain.control',
  'tls.certificate.san',
  'tls.certificate.validity',
  'tls.certificate.key',
  'tls.certificate.live',
  'tls.version',
  'federation.descriptor',
  'federation.descriptor.keys',
];

function application(index: number): Application {
  const domain = `member-${String(index).padStart(6, '0')}.caliopen.test`;
  const signing = { kty: 'OKP', crv: 'Ed25519', x: randomBytes(32).toString('base64url') } as Ed25519PublicJwk;
  const encryption = { kty: 'OKP', crv: 'X25519', x: randomBytes(32).toString('base64url') } as X25519PublicJwk;
  return {
    id: randomUUID(),
    domain,
    status: 'pending',
    endpoints: { https: `https://${domain}`, federation: `https://${domain}`, smtp: null },
    keys: { signing, encryption },
    keyThumbprints: { signing: jwkThumbprint(signing), encryption: jwkThumbprint(encryption) },
    certificatePem: cert.certPem,
    certFingerprint: cert.fingerprintSha256,
    declarationJws: 'bench.not.signed',
    declaration: {
      charterVersion: '1.0',
      domain,
      jurisdiction: (['DE', 'FR', 'CH', 'NL'] as const)[index % 4]!,
      retention: { messagesDays: null, logsDays: 7, backupsDays: 30, deletedAccountDays: 7 },
      logging: { ipAddresses: false, messageMetadata: false, retentionDays: 7 },
      keyStorageOptions: ['client', 'server'],
      noResaleOfUserData: true,
      noProfilingOrAds: true,
      spamHandling: { contentScanning: 'local' },
      adminContact: { name: 'Admins', email: `admin@${domain}` },
      incidentDisclosureDays: 3,
      doesEmail: false,
    },
    charterVersion: '1.0',
    nonce: randomBytes(18).toString('base64url'),
    listed: index % 10 !== 0,
    challenge: { token: randomBytes(24).toString('base64url'), value: randomBytes(32).toString('base64url') },
    applicantTokenHash: randomBytes(32).toString('hex'),
    createdAt: now,
    updatedAt: now,
    closedReason: null,
  };
}

function passingRun(app: Application): CheckRun {
  return {
    id: randomUUID(),
    applicationId: app.id,
    domain: app.domain,
    trigger: 'applicant',
    startedAt: now,
    finishedAt: now,
    mandatoryPassed: true,
    results: PASSING.map((id) => ({
      id,
      status: 'pass' as const,
      points: 10,
      maxPoints: 10,
      mandatory: !id.startsWith('tls.version'),
      evidence: `${id} passes`,
      checkedAt: now.toISOString(),
    })),
  };
}

console.log(`registry feed bench: ${members} labelled instances (data in ${dir})`);
const apps = Array.from({ length: members }, (_, i) => application(i));
const runs = new Map<string, CheckRun>();
await time(`store ${members} applications and a passing check run each`, async () => {
  for (const app of apps) {
    await storage.applications.create(app);
    const run = passingRun(app);
    await storage.checkRuns.add(run);
    runs.set(app.id, run);
  }
});
await exclusive.run(async () => {
  const batch = new PublicationBatch();
  await time(`issue ${members} labels (PI, sign, store member)`, async () => {
    for (const app of apps) await labels.issue(app, runs.get(app.id)!, 'issued', now, batch);
  });
  await time(`log ${members} entries + 1 checkpoint, publish the feed`, () => labels.flush(batch, now));
});

const build = await measure('build and sign the feed (members read, built, signed)', 3, () =>
  exclusive.run(() => feed.publish([], now)),
);
const current = await feed.current(now);
const envelope = current.envelope;
console.log(
  `${'feed size'.padEnd(60)} ${(envelope.byteLength / 1e6).toFixed(2).padStart(10)} MB (serial ${current.serial})`,
);

const keySet = await keys.keySet();
const options = { keySet, now: nowS + 60 };
const signer = await keys.signingKey(now);
const publicKey = createPublicKey({ key: { ...signer.publicJwk }, format: 'jwk' });
const message = Buffer.alloc(400, 1);
const signature = sign(null, message, createPrivateKey({ key: { ...signer.privateJwk }, format: 'jwk' }));
const limit = await measure('peer: limit, SHA-256 of the bytes + 1 Ed25519 verify', 10, () => {
  createHash('sha256').update(envelope).digest();
  verify(null, message, publicKey, signature);
});
const envelopeOnly = await measure('peer: verifyFeedEnvelope', 10, async () =>
  must(await verifyFeedEnvelope(envelope, options)),
);
await measure('peer: verifyFeed (parsed and validated)', 3, async () => must(await verifyFeed(envelope, options)));
await measure('peer: verifyFeed with every label verified', 1, async () =>
  must(await verifyFeed(envelope, { ...options, verifyLabels: true })),
);
const previous = must(await verifyFeed(envelope, options)).feed;

// 10 changes: 5 renewals, 5 revocations, published as one serial.
await exclusive.run(async () => {
  const batch = new PublicationBatch();
  for (const app of apps.slice(0, 5)) await labels.issue(app, runs.get(app.id)!, 'renewed', now, batch);
  for (const app of apps.slice(5, 10)) await labels.revoke(app.domain, 'bench revocation', now, batch);
  await time('publish 10 changes (log append + new serial)', () => labels.flush(batch, now));
});
const delta = (
  await time('build and sign the delta of 10 changes', async () => (await feed.delta(previous.serial, now))!)
).envelope;
const after = await feed.current(now);
console.log(
  `${'delta size (10 changes)'.padEnd(60)} ${(delta.byteLength / 1e3).toFixed(1).padStart(10)} kB (full feed ${(after.envelope.byteLength / 1e6).toFixed(2)} MB)`,
);
await measure('peer: verifyFeedDelta + applyDelta (result digest checked)', 3, async () => {
  const verified = must(await verifyFeedDelta(delta, { ...options, lastSerial: previous.serial }));
  must(applyDelta(previous, verified.delta, { checkResultDigest: true }));
});

console.log(
  `${'P4 ratio verifyFeedEnvelope / limit'.padEnd(60)} ${(envelopeOnly / limit).toFixed(2).padStart(10)}   (target <= 1.5)`,
);
console.log(`${'feed build+sign per member'.padEnd(60)} ${((build * 1000) / members).toFixed(1).padStart(10)} us`);
await services.close();
cleanup();
