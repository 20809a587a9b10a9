import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, test } from 'vitest';
import {
  buildFeed,
  diffFeeds,
  encodeProof,
  feedDigest,
  signFeed,
  signFeedDelta,
  type Ed25519KeyPair,
  type Feed,
  type MerkleTree,
} from '@caliopen/federation-protocol';
import {
  DAY,
  REGISTRY,
  T0,
  feedEntryFor,
  instanceFixture,
  labelFor,
  keySetDocument,
  logTree,
  registryKey,
  signedCheckpointOf,
  strangerKey,
  type InstanceFixture,
} from '../../../federation-protocol/src/testing/fixtures.ts';
import {
  FEED_FORK_DETECTED,
  FEED_OWN_ENTRY_MISMATCH,
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

  async publish(
    serial: number,
    issuedAt: number,
    tree: MerkleTree,
    entries: (fixture: InstanceFixture[]) => Promise<Feed['instances']>,
  ) {
    this.tree = tree;
    this.current = buildFeed({
      serial,
      issuedAt,
      registry: REGISTRY,
      checkpoint: await signCheckpointWith(tree, issuedAt, this.signer),
      instances: await entries([alpha, beta, gamma]),
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
    await registry.publish(1, T0, logTree(3), labelled(T0));
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
    assert.deepEqual(registry.requests, ['/v1/index']);
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
    assert.equal(status.checkpointSize, 3);
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
    await registry.publish(2, T0 + DAY, logTree(5), labelled(T0, { 'beta.test': 'revoked' }));
    registry.requests.length = 0;
    const d = directory();
    assert.equal(await d.sync(), 'delta');
    assert.deepEqual(registry.requests, ['/v1/index?since=1', '/v1/log/proof/consistency?from=3&to=5']);
    assert.equal(d.peer('beta.test')?.status, 'revoked');
    assert.equal(d.peer('beta.test')?.labelValid, false);
    assert.equal(d.peer('gamma.test')?.labelValid, true);
    assert.equal(d.status().serial, 2);
    assert.equal(d.status().checkpointSize, 5);
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
    await registry.publish(3, T0 + 2 * DAY, logTree(6), labelled(T0 + 2 * DAY));
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
    await registry.publish(4, T0 + 3 * DAY, logTree(8, 'rewritten', 2), labelled(T0 + 3 * DAY));
    logs.length = 0;
    const d = directory();
    assert.equal(await d.sync(), 'refused');
    const status = d.status();
    assert.equal(status.lastError?.code, FEED_FORK_DETECTED);
    assert.equal(status.fork?.code, FEED_FORK_DETECTED);
    assert.equal(status.fork?.accepted.treeSize, 5);
    assert.equal(status.fork?.offered.treeSize, 8);
    // The last good feed is kept: beta still revoked, serial 2.
    assert.equal(status.serial, 2);
    assert.equal(status.checkpointSize, 5);
    assert.equal(d.peer('beta.test')?.labelValid, false);
    const incident = logs.find((l) => l.obj['code'] === FEED_FORK_DETECTED);
    assert.equal(incident?.level, 'error');

    // The incident survives a restart.
    const reloaded = directory();
    assert.equal(reloaded.status().fork?.offered.treeSize, 8);
    assert.equal(reloaded.status().serial, 2);
  });

  test('a fork at the same size (another root for the same entries) is refused without asking for a proof', async () => {
    registry.history.delete(4);
    await registry.publish(4, T0 + 3 * DAY, logTree(5, 'other', 4), labelled(T0 + 3 * DAY));
    registry.requests.length = 0;
    const d = directory();
    assert.equal(await d.sync(), 'refused');
    assert.equal(d.status().lastError?.code, FEED_FORK_DETECTED);
    assert.deepEqual(registry.requests, ['/v1/index?since=2']);
    assert.equal(d.status().serial, 2);
  });

  test('a log that went back (fewer entries) is a fork too', async () => {
    registry.history.delete(4);
    await registry.publish(4, T0 + 3 * DAY, logTree(4), labelled(T0 + 3 * DAY));
    const d = directory();
    assert.equal(await d.sync(), 'refused');
    assert.equal(d.status().lastError?.code, FEED_FORK_DETECTED);
  });

  test('the honest continuation is accepted again after a refusal', async () => {
    registry.history.delete(4);
    await registry.publish(4, T0 + 3 * DAY, logTree(9), labelled(T0 + 3 * DAY));
    const d = directory();
    assert.equal(await d.sync(), 'delta');
    assert.equal(d.status().serial, 4);
    assert.equal(d.status().checkpointSize, 9);
    assert.equal(d.status().lastError, null);
    assert.equal(d.peer('beta.test')?.labelValid, true);
  });

  test('a delta whose changed entry carries a label the pinned keys did not sign is refused', async () => {
    await registry.publish(5, T0 + 4 * DAY, logTree(10), async (fixtures) => {
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
    await registry.publish(5, T0 + 4 * DAY, logTree(10), async (fixtures) => {
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
    assert.equal(d?.status().serial, 4, 'it reads the stored feed');
  });
});
