import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, test } from 'vitest';
import {
  MAX_FEED_AGE_SECONDS,
  MerkleTree,
  buildFeed,
  canonicalJson,
  diffFeeds,
  encodeProof,
  entryLeafHash,
  feedDigest,
  leafHash,
  signFeed,
  signFeedDelta,
  signKeySetStatement,
  type Ed25519KeyPair,
  type Feed,
} from '@caliopen/federation-protocol';
import {
  DAY,
  REGISTRY,
  T0,
  feedEntryFor,
  instanceFixture,
  labelFor,
  keySetDocument,
  logEntry,
  nextRegistryKey,
  registryKey,
  signedCheckpointOf,
  strangerKey,
  type InstanceFixture,
} from '../../../federation-protocol/src/testing/fixtures.ts';
import {
  FEED_FORK_DETECTED,
  FEED_OWN_ENTRY_MISMATCH,
  FEED_STALE,
  PeerDirectory,
  peerDirectoryFromConfig,
  readPinnedKeySet,
} from './peer-directory.ts';

const alpha = instanceFixture('alpha.test', 85);
const beta = instanceFixture('beta.test', 70);
const gamma = instanceFixture('gamma.test', 60);

/**
 * A registry on loopback that serves feeds, deltas and consistency proofs built with the protocol library, so that a
 * test can make it lie: sign with another key, or show a history that forks from what it showed before.
 */
class FakeRegistry {
  readonly history = new Map<number, Feed>();
  current!: Feed;
  tree!: MerkleTree;
  signer: Ed25519KeyPair = registryKey;
  readonly requests: string[] = [];
  /** Answer 304 to every feed request, as a registry (or a man in the middle) withholding a revocation would. */
  withhold = false;
  /** Key rotation statements served at /v1/keys/statements. */
  statements: string[] = [];
  /** The honest log, as leaf hashes: what every honest publication extends. */
  private readonly honest: Uint8Array[] = [];
  /** Where each domain's current entry is bound in the honest log, by its canonical form without logIndex. */
  private readonly bound = new Map<string, { key: string; index: number }>();
  private server!: Server;
  url = '';

  async start() {
    this.server = createServer((req, res) => void this.handle(req.url ?? '/', req.headers['if-none-match'], res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop() {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /**
   * Publishes `serial`. Honestly by default: `add` other log entries, then a binding leaf for every entry that changed
   * (SPEC.md, "Entries bound to the log"), on the one append-only log. `fork` shows another history instead: the first
   * `keep` honest leaves, then others, `size` leaves in all. `unbound` domains keep the index of their previous
   * binding whatever their entry now says (an entry changed without a trace in the log).
   */
  async publish(
    serial: number,
    issuedAt: number,
    entries: (fixture: InstanceFixture[]) => Promise<Feed['instances']>,
    shape: { add?: number; fork?: { keep: number; size: number }; unbound?: readonly string[] } = {},
  ) {
    const made = await entries([alpha, beta, gamma]);
    const leaves = shape.fork ? this.honest.slice(0, shape.fork.keep) : this.honest;
    const other = shape.fork ? 'rewritten' : 'main';
    const fillTo = shape.fork ? shape.fork.size - made.length : leaves.length + (shape.add ?? 0);
    while (leaves.length < fillTo) leaves.push(leafHash(logEntry(leaves.length, other)));
    const instances = made.map((entry) => {
      const key = canonicalJson({ ...entry, logIndex: 0 });
      const before = this.bound.get(entry.domain);
      if (shape.unbound?.includes(entry.domain)) return { ...entry, logIndex: before?.index ?? 0 };
      if (!shape.fork && before?.key === key) return { ...entry, logIndex: before.index };
      const boundEntry = { ...entry, logIndex: leaves.length };
      leaves.push(entryLeafHash(boundEntry));
      if (!shape.fork) this.bound.set(entry.domain, { key, index: boundEntry.logIndex });
      return boundEntry;
    });
    this.tree = MerkleTree.fromLeafHashes(leaves);
    this.current = buildFeed({
      serial,
      issuedAt,
      registry: REGISTRY,
      checkpoint: await signCheckpointWith(this.tree, issuedAt, this.signer),
      instances,
    });
    this.history.set(serial, this.current);
  }

  private async handle(
    rawUrl: string,
    ifNoneMatch: string | string[] | undefined,
    res: import('node:http').ServerResponse,
  ) {
    this.requests.push(rawUrl);
    const url = new URL(rawUrl, 'http://x');
    if (url.pathname === '/v1/index') {
      if (this.withhold) return void res.writeHead(304).end();
      const since = url.searchParams.get('since');
      if (since !== null) {
        const from = this.history.get(Number(since));
        if (Number(since) === this.current.serial) return void res.writeHead(304).end();
        if (from === undefined)
          return void res.writeHead(400, { 'content-type': 'application/json' }).end('{"code":"feed_serial_unknown"}');
        const envelope = await signFeedDelta(diffFeeds(from, this.current), this.signer);
        return void res.writeHead(200, { 'content-type': 'application/vnd.caliopen.feed-delta' }).end(envelope);
      }
      const etag = `"${this.current.serial}-${feedDigest(this.current).slice(0, 8)}"`;
      if (ifNoneMatch === etag) return void res.writeHead(304).end();
      const envelope = await signFeed(this.current, this.signer);
      return void res.writeHead(200, { 'content-type': 'application/vnd.caliopen.feed', etag }).end(envelope);
    }
    if (url.pathname === '/v1/log/proof/consistency') {
      const from = Number(url.searchParams.get('from'));
      const to = Number(url.searchParams.get('to'));
      const proof = from > this.tree.size || to > this.tree.size ? [] : this.tree.consistencyProof(from, to);
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ from, to, proof: encodeProof(proof) }));
    }
    if (url.pathname === '/v1/keys/statements') {
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ statements: this.statements }));
    }
    if (url.pathname === '/v1/log/proof/inclusions') {
      const indices = (url.searchParams.get('indices') ?? '').split(',').map(Number);
      const size = Number(url.searchParams.get('size'));
      if (!(size <= this.tree.size && indices.every((i) => i < size))) return void res.writeHead(400).end();
      const proofs = indices.map((index) => ({ index, proof: encodeProof(this.tree.inclusionProof(index, size)) }));
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ size, proofs }));
    }
    res.writeHead(404).end();
  }
}

async function signCheckpointWith(tree: MerkleTree, timestamp: number, key: Ed25519KeyPair): Promise<string> {
  if (key === registryKey) return signedCheckpointOf(tree, timestamp);
  const { checkpointOf, signCheckpoint } = await import('@caliopen/federation-protocol');
  return signCheckpoint(checkpointOf(tree, { origin: `${REGISTRY}/log`, timestamp }), key);
}

const labelled =
  (issuedAt: number, overrides: Record<string, 'labelled' | 'revoked' | 'suspended'> = {}) =>
  (fixtures: InstanceFixture[]) =>
    Promise.all(fixtures.map((f) => feedEntryFor(f, issuedAt, { status: overrides[f.domain] ?? 'labelled' })));

describe('PeerDirectory against a registry on loopback', () => {
  const registry = new FakeRegistry();
  let dataDir: string;
  let nowSeconds = T0 + 3600;
  const clock = () => new Date(nowSeconds * 1000);
  const logs: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  const logger = {
    info: (obj: Record<string, unknown>, msg: string) => logs.push({ level: 'info', obj, msg }),
    warn: (obj: Record<string, unknown>, msg: string) => logs.push({ level: 'warn', obj, msg }),
    error: (obj: Record<string, unknown>, msg: string) => logs.push({ level: 'error', obj, msg }),
  } as unknown as import('pino').Logger;
  const keySet = readPinnedKeySet(JSON.stringify(keySetDocument));
  const directory = (dir = dataDir) =>
    new PeerDirectory({
      registryUrl: registry.url,
      keySet,
      dataDir: dir,
      ownDomain: 'alpha.test',
      clock,
      syncSeconds: 300,
      logger,
    });

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'peer-directory-'));
    await registry.start();
    await registry.publish(1, T0, labelled(T0), { add: 3 });
  });
  afterAll(async () => {
    await registry.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('before any sync nothing is known: peers are null, the instance is unlabelled', () => {
    const d = directory();
    assert.equal(d.peer('beta.test'), null);
    assert.deepEqual(d.current(), {
      status: 'not_synced',
      labelValid: false,
      instancePi: null,
      labelExpiresAt: null,
      serial: null,
    });
    assert.equal(d.status().serial, null);
  });

  test('first sync: the full feed, verified; peers, own standing and status answered from it', async () => {
    const d = directory();
    assert.equal(await d.sync(), 'full');
    // Each entry's inclusion in the log of the feed's checkpoint is checked (SPEC.md, "Entries bound to the log").
    assert.deepEqual(registry.requests, ['/v1/index', '/v1/log/proof/inclusions?size=6&indices=3,4,5']);
    const peer = d.peer('beta.test')!;
    assert.equal(peer.labelValid, true);
    assert.equal(peer.instancePi, 70);
    assert.equal(peer.certificateSha256, beta.certFingerprint);
    assert.deepEqual(peer.keys.signing, beta.signingKey.publicJwk);
    assert.equal(peer.labelExpiresAt, T0 + 7 * DAY);
    assert.equal(d.peer('BETA.test')?.domain, 'beta.test');
    assert.equal(d.peer('unknown.test'), null);
    assert.deepEqual(
      { ...d.standing(), labelExpiresAt: null },
      { status: 'labelled', labelValid: true, instancePi: 85, labelExpiresAt: null, serial: 1 },
    );
    assert.ok(d.standing().labelExpiresAt! > nowSeconds);
    const status = d.status();
    assert.equal(status.serial, 1);
    assert.equal(status.checkpointSize, 6, '3 other entries, then the 3 entries bound');
    assert.equal(status.instances, 3);
    assert.equal(status.lastError, null);
    assert.equal(status.fork, null);
    const file = join(dataDir, 'federation', 'peer-directory.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  test('the stored feed is reloaded at start, before any request; the next sync asks for a delta and gets 304', async () => {
    registry.requests.length = 0;
    const d = directory();
    assert.equal(d.peer('beta.test')?.labelValid, true);
    assert.equal(d.status().serial, 1);
    assert.equal(await d.sync(), 'unchanged');
    assert.deepEqual(registry.requests, ['/v1/index?since=1']);
  });

  test('a revocation arrives as a signed delta, the log grows with a consistency proof: the peer is no longer labelled', async () => {
    await registry.publish(2, T0 + DAY, labelled(T0, { 'beta.test': 'revoked' }), { add: 2 });
    registry.requests.length = 0;
    const d = directory();
    assert.equal(await d.sync(), 'delta');
    assert.deepEqual(registry.requests, [
      '/v1/index?since=1',
      '/v1/log/proof/consistency?from=6&to=9',
      '/v1/log/proof/inclusions?size=9&indices=8',
    ]);
    assert.equal(d.peer('beta.test')?.status, 'revoked');
    assert.equal(d.peer('beta.test')?.labelValid, false);
    assert.equal(d.peer('gamma.test')?.labelValid, true);
    assert.equal(d.status().serial, 2);
    assert.equal(d.status().checkpointSize, 9);
    // The label lapses with time alone, without a sync.
    nowSeconds = T0 + 7 * DAY + 1;
    assert.equal(d.peer('gamma.test')?.labelValid, false);
    assert.deepEqual(
      { ...d.standing(), labelExpiresAt: null },
      { status: 'expired', labelValid: false, instancePi: 85, labelExpiresAt: null, serial: 2 },
    );
    nowSeconds = T0 + 3600;
  });

  test("the feed's entry for this instance must list its own keys and certificate: a substitution alerts the operator (SPEC §3)", async () => {
    const d = directory();
    const own = {
      signingX: alpha.signingKey.publicJwk.x!,
      encryptionX: alpha.encryptionJwk.x!,
      certFingerprint: alpha.certFingerprint,
    };
    d.expectOwn(own);
    assert.equal(d.status().ownEntryMismatch, null, 'the feed lists our own keys');
    logs.length = 0;
    d.expectOwn({ ...own, certFingerprint: 'ab'.repeat(32), signingX: beta.signingKey.publicJwk.x! });
    assert.deepEqual(d.status().ownEntryMismatch?.fields, ['keys.signing', 'certFingerprint']);
    assert.equal(d.status().ownEntryMismatch?.code, FEED_OWN_ENTRY_MISMATCH);
    const alert = logs.filter((l) => l.level === 'error' && l.obj['code'] === FEED_OWN_ENTRY_MISMATCH);
    assert.equal(alert.length, 1);
    assert.deepEqual(alert[0]!.obj['fields'], ['keys.signing', 'certFingerprint']);
    d.expectOwn({ ...own, certFingerprint: 'ab'.repeat(32), signingX: beta.signingKey.publicJwk.x! });
    assert.equal(
      logs.filter((l) => l.obj['code'] === FEED_OWN_ENTRY_MISMATCH).length,
      1,
      'alerted once per change, not at every sync',
    );
    d.expectOwn(own);
    assert.equal(d.status().ownEntryMismatch, null, 'cleared once the entry is right again');
  });

  test('own standing is reported when it changes: a label lapsing with time, noticed at the next sync tick', async () => {
    const changes: { now: string; before: string }[] = [];
    const d = new PeerDirectory({
      registryUrl: registry.url,
      keySet,
      dataDir,
      ownDomain: 'alpha.test',
      clock,
      syncSeconds: 0.05,
      logger,
      events: {
        publish: async (_name, { now, before }) => {
          changes.push({ now: now.status, before: before.status });
        },
      },
    });
    assert.equal(d.standing().status, 'labelled', 'the stored feed, read at construction, is not a change');
    d.start();
    try {
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(changes, [], 'syncing the same feed reports nothing');
      nowSeconds = T0 + 7 * DAY + 1;
      for (let i = 0; i < 100 && changes.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(changes, [{ now: 'expired', before: 'labelled' }]);
    } finally {
      await d.stop();
      nowSeconds = T0 + 3600;
    }
  });

  test('a feed signed by a key that is not pinned is refused; the last good feed is kept', async () => {
    registry.signer = strangerKey;
    await registry.publish(3, T0 + 2 * DAY, labelled(T0 + 2 * DAY), { add: 1 });
    const d = directory();
    assert.equal(await d.sync(), 'refused');
    assert.equal(d.status().lastError?.code, 'feed_unknown_key');
    assert.equal(d.status().serial, 2);
    assert.equal(d.peer('beta.test')?.labelValid, false);

    // A fresh instance refuses it too, and knows nobody.
    const fresh = mkdtempSync(join(tmpdir(), 'peer-directory-fresh-'));
    try {
      const other = directory(fresh);
      assert.equal(await other.sync(), 'refused');
      assert.equal(other.status().lastError?.code, 'feed_unknown_key');
      assert.equal(other.peer('alpha.test'), null);
      assert.equal(existsSync(join(fresh, 'federation', 'peer-directory.json')), false);
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
    registry.signer = registryKey;
    registry.history.delete(3);
  });

  test('a forked log, validly signed by the pinned key but not extending the last checkpoint, is refused and recorded', async () => {
    // The registry shows a history that agrees on the first 2 entries only, grown to 8: its own proof cannot link.
    await registry.publish(4, T0 + 3 * DAY, labelled(T0 + 3 * DAY), { fork: { keep: 2, size: 11 } });
    logs.length = 0;
    const d = directory();
    assert.equal(await d.sync(), 'refused');
    const status = d.status();
    assert.equal(status.lastError?.code, FEED_FORK_DETECTED);
    assert.equal(status.fork?.code, FEED_FORK_DETECTED);
    assert.equal(status.fork?.accepted.treeSize, 9);
    assert.equal(status.fork?.offered.treeSize, 11);
    // The last good feed is kept: beta still revoked, serial 2.
    assert.equal(status.serial, 2);
    assert.equal(status.checkpointSize, 9);
    assert.equal(d.peer('beta.test')?.labelValid, false);
    const incident = logs.find((l) => l.obj['code'] === FEED_FORK_DETECTED);
    assert.equal(incident?.level, 'error');

    // The incident survives a restart.
    const reloaded = directory();
    assert.equal(reloaded.status().fork?.offered.treeSize, 11);
    assert.equal(reloaded.status().serial, 2);
  });

  test('a fork at the same size (another root for the same entries) is refused without asking for a proof', async () => {
    registry.history.delete(4);
    await registry.publish(4, T0 + 3 * DAY, labelled(T0 + 3 * DAY), { fork: { keep: 4, size: 9 } });
    registry.requests.length = 0;
    const d = directory();
    assert.equal(await d.sync(), 'refused');
    assert.equal(d.status().lastError?.code, FEED_FORK_DETECTED);
    assert.deepEqual(registry.requests, ['/v1/index?since=2']);
    assert.equal(d.status().serial, 2);
  });

  test('a log that went back (fewer entries) is a fork too', async () => {
    registry.history.delete(4);
    await registry.publish(4, T0 + 3 * DAY, labelled(T0 + 3 * DAY), { fork: { keep: 5, size: 8 } });
    const d = directory();
    assert.equal(await d.sync(), 'refused');
    assert.equal(d.status().lastError?.code, FEED_FORK_DETECTED);
  });

  test('the honest continuation is accepted again after a refusal', async () => {
    registry.history.delete(4);
    await registry.publish(4, T0 + 3 * DAY, labelled(T0 + 3 * DAY), { add: 1 });
    const d = directory();
    assert.equal(await d.sync(), 'delta');
    assert.equal(d.status().serial, 4);
    assert.equal(d.status().checkpointSize, 17);
    assert.equal(d.status().lastError, null);
    assert.equal(d.peer('beta.test')?.labelValid, true);
  });

  test('a delta whose changed entry carries a label the pinned keys did not sign is refused', async () => {
    await registry.publish(5, T0 + 4 * DAY, async (fixtures) => {
      const entries = await labelled(T0 + 3 * DAY)(fixtures);
      const forged = await labelFor(gamma, { issuedAt: T0 + 4 * DAY, key: strangerKey });
      return entries.map((e) =>
        e.domain === 'gamma.test'
          ? { ...e, label: forged.jws, labelId: forged.claims.id, labelExpiresAt: forged.claims.expiresAt }
          : e,
      );
    });
    const d = directory();
    assert.equal(await d.sync(), 'refused');
    assert.equal(d.status().lastError?.code, 'feed_invalid_label');
    assert.equal(d.status().serial, 4);
    assert.equal(d.peer('gamma.test')?.labelExpiresAt, T0 + 3 * DAY + 7 * DAY);
    registry.history.delete(5);
  });

  test('a delta that swaps a labelled peer’s signing key under its unchanged label is refused, as a full feed would be', async () => {
    await registry.publish(5, T0 + 4 * DAY, async (fixtures) => {
      const entries = await labelled(T0 + 3 * DAY)(fixtures);
      return entries.map((e) =>
        e.domain === 'gamma.test' ? { ...e, keys: { ...e.keys, signing: strangerKey.publicJwk } } : e,
      );
    });
    const d = directory();
    const keyBefore = d.peer('gamma.test')?.keys.signing;
    assert.equal(await d.sync(), 'refused');
    assert.equal(d.status().lastError?.code, 'feed_invalid_label');
    assert.match(d.status().lastError?.message ?? '', /signing key/);
    assert.equal(d.status().serial, 4);
    assert.deepEqual(d.peer('gamma.test')?.keys.signing, keyBefore);
    assert.notDeepEqual(keyBefore, strangerKey.publicJwk);
    registry.history.delete(5);
  });

  test('an entry whose keys differ from its log leaf is refused (feed_entry_not_in_log): a registry key alone cannot substitute a member', async () => {
    // Whoever holds the registry key signs a label for gamma with their own signing key, and a feed listing it, but
    // leaves the log alone: gamma's entry still names the leaf of its real keys.
    const impostor = { ...gamma, signingKey: strangerKey };
    await registry.publish(
      5,
      T0 + 4 * DAY,
      async (fixtures) => {
        const entries = await labelled(T0 + 3 * DAY)(fixtures);
        const swapped = await feedEntryFor(impostor, T0 + 4 * DAY);
        return entries.map((e) => (e.domain === 'gamma.test' ? swapped : e));
      },
      { unbound: ['gamma.test'] },
    );
    logs.length = 0;
    const d = directory();
    const keyBefore = d.peer('gamma.test')?.keys.signing;
    assert.equal(await d.sync(), 'refused');
    assert.equal(d.status().lastError?.code, 'feed_entry_not_in_log');
    assert.match(d.status().lastError?.message ?? '', /gamma\.test/);
    assert.equal(d.status().serial, 4, 'the last good feed is kept');
    assert.deepEqual(d.peer('gamma.test')?.keys.signing, keyBefore);
    assert.ok(logs.some((l) => l.level === 'error' && l.obj['code'] === 'feed_entry_not_in_log'));

    // A fresh instance taking the full feed refuses it too, and knows nobody.
    const fresh = mkdtempSync(join(tmpdir(), 'peer-directory-unbound-'));
    try {
      const other = directory(fresh);
      assert.equal(await other.sync(), 'refused');
      assert.equal(other.status().lastError?.code, 'feed_entry_not_in_log');
      assert.equal(other.peer('gamma.test'), null);
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
    registry.history.delete(5);
  });

  test('an entry naming a leaf beyond the checkpoint, or another entry’s leaf, is refused', async () => {
    await registry.publish(5, T0 + 4 * DAY, async (fixtures) => {
      const entries = await labelled(T0 + 3 * DAY)(fixtures);
      return entries.map((e) => (e.domain === 'beta.test' ? { ...e, listed: false } : e));
    });
    // The honest feed, bound, then two lies about where beta's leaf is.
    const honest = registry.current;
    const beta5 = honest.instances.find((e) => e.domain === 'beta.test')!;
    const alpha5 = honest.instances.find((e) => e.domain === 'alpha.test')!;
    for (const logIndex of [registry.tree.size + 3, alpha5.logIndex]) {
      registry.current = buildFeed({
        ...honest,
        instances: honest.instances.map((e) => (e.domain === 'beta.test' ? { ...beta5, logIndex } : e)),
      });
      registry.history.set(5, registry.current);
      const d = directory();
      assert.equal(await d.sync(), 'refused', `logIndex ${logIndex}`);
      assert.equal(d.status().lastError?.code, 'feed_entry_not_in_log');
      assert.equal(d.status().serial, 4);
    }
    registry.current = honest;
    registry.history.set(5, honest);
    const d = directory();
    assert.equal(await d.sync(), 'delta', 'the honest feed, bound, is accepted');
    assert.equal(d.status().serial, 5);
    assert.equal(d.status().lastError, null);
    const asked = registry.requests.filter((r) => r.startsWith(`/v1/log/proof/inclusions?size=${registry.tree.size}&`));
    assert.ok(
      asked.some((r) =>
        new URL(r, 'http://x').searchParams.get('indices')!.split(',').includes(String(beta5.logIndex)),
      ),
      asked.join(' '),
    );
  });

  test('a withheld revocation (the registry, or a man in the middle, answers 304) stops working MAX_FEED_AGE_SECONDS after the last feed was signed', async () => {
    const d = directory();
    const signedAt = d.status().feedIssuedAt!;
    assert.equal(signedAt, T0 + 4 * DAY);
    await registry.publish(6, T0 + 5 * DAY, labelled(T0 + 3 * DAY, { 'beta.test': 'revoked' }));
    registry.withhold = true;
    try {
      nowSeconds = signedAt + MAX_FEED_AGE_SECONDS - 60;
      assert.equal(await d.sync(), 'unchanged');
      assert.equal(d.peer('beta.test')?.labelValid, true, 'within the bound the withheld revocation still works');
      assert.equal(d.status().stale, false);
      logs.length = 0;
      nowSeconds = signedAt + MAX_FEED_AGE_SECONDS + 1;
      assert.equal(await d.sync(), 'unchanged');
      assert.equal(d.status().stale, true);
      assert.equal(
        logs.filter((l) => l.level === 'error' && l.obj['code'] === FEED_STALE).length,
        1,
        'the operator is told',
      );
      assert.equal(await d.sync(), 'unchanged');
      assert.equal(logs.filter((l) => l.obj['code'] === FEED_STALE).length, 1, 'once per episode');
      assert.equal(d.peer('beta.test')?.labelValid, false, 'past the bound nobody is trusted from the stale feed');
      assert.equal(d.peer('gamma.test')?.labelValid, false);
      assert.equal(d.standing().labelValid, true, 'a stale feed does not unlabel this instance itself');
      assert.equal(directory().peer('beta.test')?.labelValid, false, 'nor does a restart make it fresh');
    } finally {
      registry.withhold = false;
    }
    assert.equal(await d.sync(), 'delta');
    assert.equal(d.status().stale, false);
    assert.equal(d.peer('beta.test')?.status, 'revoked');
    assert.equal(d.peer('beta.test')?.labelValid, false);
    assert.equal(d.peer('gamma.test')?.labelValid, true);
    nowSeconds = T0 + 3600;
  });

  test('registry key rotation: the directory, pinned to the old key, follows a statement chained from it; a restart verifies it again; a feed signed by an unchained key is refused', async () => {
    const rotated = [
      ...keySetDocument.keys,
      { jwk: nextRegistryKey.publicJwk, kid: nextRegistryKey.kid, notBefore: T0, notAfter: T0 + 400 * DAY },
    ];
    registry.statements = [
      await signKeySetStatement(
        { registry: REGISTRY, sequence: 1, issuedAt: T0 + 6 * DAY, keys: rotated },
        registryKey,
      ),
    ];
    registry.signer = nextRegistryKey;
    nowSeconds = T0 + 6 * DAY + 60;
    try {
      await registry.publish(7, T0 + 6 * DAY, labelled(T0 + 3 * DAY));
      registry.requests.length = 0;
      const d = directory();
      assert.equal(d.status().registryKeys.sequence, 0);
      assert.equal(await d.sync(), 'delta', JSON.stringify(d.status().lastError));
      assert.ok(registry.requests.includes('/v1/keys/statements'));
      assert.equal(d.status().serial, 7);
      assert.equal(d.status().registryKeys.sequence, 1);
      assert.ok(d.status().registryKeys.kids.includes(nextRegistryKey.kid));

      // A restart verifies the kept statements again from the pinned set, without asking for them.
      await registry.publish(8, T0 + 6 * DAY + 600, labelled(T0 + 3 * DAY));
      registry.requests.length = 0;
      const restarted = directory();
      assert.equal(await restarted.sync(), 'delta');
      assert.equal(restarted.status().serial, 8);
      assert.ok(!registry.requests.includes('/v1/keys/statements'));
      assert.equal(restarted.status().registryKeys.sequence, 1);

      // An instance set up now, pinned to the old set, follows the chain from scratch.
      const fresh = mkdtempSync(join(tmpdir(), 'peer-directory-rotation-'));
      try {
        const other = directory(fresh);
        assert.equal(await other.sync(), 'full');
        assert.equal(other.status().registryKeys.sequence, 1);
      } finally {
        rmSync(fresh, { recursive: true, force: true });
      }

      // A key no statement chains to stays refused; so does a statement its own key signed.
      registry.signer = strangerKey;
      await registry.publish(9, T0 + 6 * DAY + 1200, labelled(T0 + 3 * DAY));
      assert.equal(await restarted.sync(), 'refused');
      assert.equal(restarted.status().lastError?.code, 'feed_unknown_key');
      registry.statements.push(
        await signKeySetStatement(
          {
            registry: REGISTRY,
            sequence: 2,
            issuedAt: T0 + 6 * DAY + 1200,
            keys: [
              ...rotated,
              { jwk: strangerKey.publicJwk, kid: strangerKey.kid, notBefore: T0, notAfter: T0 + 400 * DAY },
            ],
          },
          strangerKey,
        ),
      );
      assert.equal(await restarted.sync(), 'refused');
      assert.equal(restarted.status().lastError?.code, 'key_set_statement_unknown_key');
      assert.equal(restarted.status().serial, 8);
      assert.equal(restarted.status().registryKeys.sequence, 1);
      assert.ok(!restarted.status().registryKeys.kids.includes(strangerKey.kid));
    } finally {
      registry.signer = registryKey;
      registry.statements = registry.statements.slice(0, 1);
      registry.history.delete(9);
      nowSeconds = T0 + 3600;
    }
  });

  test('a damaged store is ignored (reported), and the registry unreachable is a recorded failure, not a crash', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'peer-directory-bad-'));
    try {
      const { mkdirSync } = await import('node:fs');
      mkdirSync(join(dir, 'federation'));
      writeFileSync(join(dir, 'federation', 'peer-directory.json'), '{"version":1,"feed":{"instances":"nope"}}');
      const d = new PeerDirectory({
        registryUrl: 'http://127.0.0.1:9',
        keySet,
        dataDir: dir,
        ownDomain: 'alpha.test',
        clock,
        syncSeconds: 300,
        logger,
        timeoutMs: 2000,
      });
      assert.equal(d.status().serial, null);
      logs.length = 0;
      assert.equal(await d.sync(), 'failed');
      assert.equal(d.status().lastError?.code, 'feed_unreachable');
      // Out of reach once or twice is routine (info); the third failure in a row is a warning.
      assert.equal(await d.sync(), 'failed');
      assert.equal(await d.sync(), 'failed');
      assert.deepEqual(
        logs.filter((l) => l.msg === 'registry feed refused or unreachable').map((l) => l.level),
        ['info', 'info', 'warn'],
      );
      assert.match(readFileSync(join(dir, 'federation', 'peer-directory.json'), 'utf8'), /nope/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the pinned key set: JSON or a file; anything else is refused with a clear message', () => {
    const dir = mkdtempSync(join(tmpdir(), 'peer-directory-keys-'));
    try {
      const file = join(dir, 'keys.json');
      writeFileSync(file, JSON.stringify(keySetDocument));
      assert.equal(readPinnedKeySet(file).document.keys.length, 2);
      assert.throws(() => readPinnedKeySet(join(dir, 'missing.json')), /cannot read/);
      assert.throws(() => readPinnedKeySet('{"keys":'), /not a JSON key set/);
      assert.throws(() => readPinnedKeySet('{"keys":[]}'), /holds no key/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('from configuration: off without a registry URL; a URL without a valid pinned key set stops the start', () => {
    const base = { domain: 'alpha.test', dataDir };
    const deps = { clock };
    assert.equal(
      peerDirectoryFromConfig(
        { ...base, federation: { registryUrl: null, registryKeys: null, syncSeconds: 300 } },
        deps,
      ),
      null,
    );
    assert.throws(
      () =>
        peerDirectoryFromConfig(
          { ...base, federation: { registryUrl: registry.url, registryKeys: null, syncSeconds: 300 } },
          deps,
        ),
      (e: Error) => e.name === 'ConfigError' && /CALIOPEN_FEDERATION_REGISTRY_KEYS/.test(e.message),
    );
    assert.throws(
      () =>
        peerDirectoryFromConfig(
          {
            ...base,
            federation: { registryUrl: registry.url, registryKeys: '{"keys":[{"kid":"x"}]}', syncSeconds: 300 },
          },
          deps,
        ),
      (e: Error) => e.name === 'ConfigError' && /registryKeys/.test(e.message),
    );
    const d = peerDirectoryFromConfig(
      {
        ...base,
        federation: { registryUrl: registry.url, registryKeys: JSON.stringify(keySetDocument), syncSeconds: 300 },
      },
      deps,
    );
    assert.equal(d?.status().serial, 8, 'it reads the stored feed');
    // The registry is reached over HTTPS: plain http:// only on loopback (a feed over http can be withheld by anyone).
    const keys = JSON.stringify(keySetDocument);
    for (const registryUrl of ['http://registry.example', 'http://10.0.0.1:8080', 'ftp://registry.example', 'nope']) {
      assert.throws(
        () =>
          peerDirectoryFromConfig({ ...base, federation: { registryUrl, registryKeys: keys, syncSeconds: 300 } }, deps),
        (e: Error) => e.name === 'ConfigError' && /registryUrl/.test(e.message),
        registryUrl,
      );
    }
    for (const registryUrl of [
      'https://registry.example',
      'http://localhost:8080',
      'http://127.0.0.1:9',
      'http://[::1]:9',
    ]) {
      assert.ok(
        peerDirectoryFromConfig({ ...base, federation: { registryUrl, registryKeys: keys, syncSeconds: 300 } }, deps),
        registryUrl,
      );
    }
  });
});
