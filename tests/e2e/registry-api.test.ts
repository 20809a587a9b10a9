/**
 * The registry over HTTP, with the real automated checks against instance sites on loopback (real TLS, real signed
 * descriptors, the HTTPS domain-control challenge; no DNS zone exists for .test here, so the DNS checks report what
 * is missing): applications, consensus, labels in the signed feed and the transparency log, objections,
 * revocation, renewal and its refusal when a mandatory check fails, deltas, ETags, public records and the directory.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import {
  applyDelta,
  canonicalJson,
  decodeBase64,
  decodeProof,
  leafHash,
  parseKeySet,
  unwrap,
  utf8Encode,
  verifyCheckpoint,
  verifyConsistentWith,
  verifyFeed,
  verifyFeedDelta,
  verifyInclusion,
  verifyLabel,
  type Feed,
  type KeySet,
} from '@caliopen/federation-protocol';
import {
  applicationFor,
  startTestInstanceSite,
  startTestRegistry,
  type TestInstanceSite,
  type TestRegistry,
} from '../support/registry.ts';

const DAY_MS = 24 * 3600 * 1000;
const ORIGIN = 'registry.caliopen.test';

describe('registry API: from application to label, feed and log', () => {
  let offsetMs = 0;
  const clock = () => new Date(Date.now() + offsetMs);
  const nowSeconds = () => Math.floor(clock().getTime() / 1000);
  let reg: TestRegistry;
  const sites: Record<string, TestInstanceSite> = {};
  const apps: Record<string, { id: string; token: string }> = {};
  let alice: { token: string; password: string };
  let bob: { token: string };
  let keySet: KeySet;

  beforeAll(async () => {
    for (const d of ['alpha.test', 'beta.test', 'gamma.test', 'delta.test']) sites[d] = await startTestInstanceSite(d);
    reg = await startTestRegistry({ clock, maintenance: false });
    for (const site of Object.values(sites)) reg.connect(site.domain, site.connectTo);
    alice = await reg.auditor('alice');
    bob = await reg.auditor('bob');
    keySet = unwrap(parseKeySet((await reg.api('GET', '/v1/keys')).body));
  });
  afterAll(async () => {
    await reg?.stop();
    for (const site of Object.values(sites)) await site.stop();
  });

  async function apply(domain: string, options: { listed?: boolean } = {}): Promise<{ id: string; token: string }> {
    const site = sites[domain]!;
    const r = await reg.api('POST', '/v1/applications', {
      body: await applicationFor(site, { now: clock(), ...options }),
    });
    assert.equal(r.status, 201, r.text);
    assert.match(r.body.token, /^cal_/);
    assert.equal(r.body.challenge.dns.name, `_caliopen-challenge.${domain}`);
    assert.equal(
      r.body.challenge.https.url,
      `${site.httpsUrl}/.well-known/caliopen-challenge/${r.body.challenge.token}`,
    );
    site.publishChallenge(r.body.challenge.token, r.body.challenge.value);
    apps[domain] = { id: r.body.id, token: r.body.token };
    return apps[domain]!;
  }

  async function verify(domain: string) {
    const { id, token } = apps[domain]!;
    const r = await reg.api('POST', `/v1/applications/${id}/verify`, { token });
    assert.equal(r.status, 200, r.text);
    return r.body;
  }

  async function vote(who: { token: string }, domain: string, v: 'approve' | 'object' | 'abstain', reason?: string) {
    const r = await reg.api('POST', `/v1/audit/applications/${apps[domain]!.id}/votes`, {
      token: who.token,
      body: { vote: v, ...(reason ? { reason } : {}) },
    });
    assert.equal(r.status, 200, r.text);
    return r.body;
  }

  async function feed(): Promise<{ feed: Feed; bytes: Uint8Array; etag: string }> {
    const r = await reg.api('GET', '/v1/index');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/vnd.caliopen.feed');
    const verified = await verifyFeed(r.bytes, { keySet, now: nowSeconds(), verifyLabels: true });
    assert.ok(verified.ok, verified.ok ? '' : `${verified.error.code}: ${verified.error.message}`);
    return { feed: verified.value.feed, bytes: r.bytes, etag: r.headers.get('etag')! };
  }

  async function logEntries(): Promise<{ index: number; entry: any; leafHash: string }[]> {
    const cp = await reg.api('GET', '/v1/log/checkpoint');
    if (cp.body.treeSize === 0) return [];
    const r = await reg.api('GET', `/v1/log/entries?start=0&end=${cp.body.treeSize}`);
    assert.equal(r.status, 200, r.text);
    return r.body.entries;
  }

  test('an application signed with the instance key is accepted; the real checks pass once the challenge is published', async () => {
    await apply('alpha.test');
    const view = await reg.api('GET', `/v1/applications/${apps['alpha.test']!.id}`, {
      token: apps['alpha.test']!.token,
    });
    assert.equal(view.status, 200, view.text);
    assert.equal(view.body.status, 'pending');
    assert.equal(view.body.checks, null);
    // Before any check, the transport-security clause cannot be verified either.
    assert.deepEqual(view.body.decision.blockers, [
      'approvals: 0 of 2 needed',
      'no automated check has run yet',
      'mandatory charter clauses not met: C6.transport-security',
    ]);

    const body = await verify('alpha.test');
    const byId = Object.fromEntries(body.run.results.map((r: { id: string; status: string }) => [r.id, r.status]));
    for (const id of [
      'domain.control',
      'tls.certificate.san',
      'tls.certificate.live',
      'federation.descriptor',
      'federation.descriptor.keys',
    ]) {
      assert.equal(
        byId[id],
        'pass',
        `${id}: ${JSON.stringify(body.run.results.find((r: { id: string }) => r.id === id))}`,
      );
    }
    assert.equal(body.run.mandatoryPassed, true);
    assert.deepEqual(body.application.decision.blockers, ['approvals: 0 of 2 needed']);
  });

  test('two auditors approve: a label is issued, in the signed feed and in the log with an inclusion proof that verifies', async () => {
    const first = await vote(alice, 'alpha.test', 'approve');
    assert.equal(first.consensus.reached, false);
    assert.equal(first.status, 'pending');
    const second = await vote(bob, 'alpha.test', 'approve');
    assert.equal(second.consensus.reached, true, JSON.stringify(second.consensus));
    assert.equal(second.status, 'approved');

    const { feed: f } = await feed();
    const entry = f.instances.find((i) => i.domain === 'alpha.test');
    assert.ok(entry, 'alpha.test is in the feed');
    assert.equal(entry.status, 'labelled');
    assert.equal(entry.certFingerprint, sites['alpha.test']!.identity.tls.fingerprintSha256);
    const claims = unwrap(
      await verifyLabel(entry.label, {
        keySet,
        expectedDomain: 'alpha.test',
        expectedIssuer: ORIGIN,
        now: nowSeconds(),
      }),
    );
    assert.equal(claims.id, entry.labelId);
    assert.equal(claims.expiresAt - claims.issuedAt, 7 * 24 * 3600);
    assert.equal(claims.instanceKeys.signing, sites['alpha.test']!.identity.signing.thumbprint);
    assert.equal(claims.pi.score, entry.pi.score);
    assert.ok(
      entry.pi.factors.some((factor) => factor.id === 'jurisdiction' && factor.contribution > 0),
      'DE scores in the jurisdiction table',
    );

    // The applicant sees its label.
    const view = await reg.api('GET', `/v1/applications/${apps['alpha.test']!.id}`, {
      token: apps['alpha.test']!.token,
    });
    assert.equal(view.body.label.id, claims.id);
    assert.equal(view.body.label.status, 'labelled');

    // The log holds the issue, and the feed's checkpoint commits to it.
    const entries = await logEntries();
    const issued = entries.find((e) => e.entry.type === 'label.issued' && e.entry.labelId === claims.id);
    assert.ok(issued, 'label.issued is logged');
    const checkpoint = unwrap(
      await verifyCheckpoint(f.checkpoint, { keySet, now: nowSeconds(), expectedOrigin: `${ORIGIN}/log` }),
    ).checkpoint;
    const proof = await reg.api('GET', `/v1/log/proof/inclusion?index=${issued.index}&size=${checkpoint.treeSize}`);
    assert.equal(proof.status, 200, proof.text);
    const leaf = leafHash(utf8Encode(canonicalJson(issued.entry)));
    assert.equal(Buffer.from(leaf).toString('base64'), issued.leafHash, 'the leaf is the canonical JSON of the entry');
    assert.ok(
      verifyInclusion(
        leaf,
        issued.index,
        checkpoint.treeSize,
        decodeProof(proof.body.proof)!,
        decodeBase64(checkpoint.rootHash)!,
      ),
    );
  });

  test('the feed answers 304 to its ETag, a delta from an older serial applies to the same feed, and checkpoints stay consistent', async () => {
    const before = await feed();
    const notModified = await reg.api('GET', '/v1/index', { headers: { 'if-none-match': before.etag } });
    assert.equal(notModified.status, 304);
    const oldCheckpoint = unwrap(
      await verifyCheckpoint(before.feed.checkpoint, { keySet, now: nowSeconds() }),
    ).checkpoint;

    // delta.test is labelled, unlisted: in the signed feed for peers, not in the public directory.
    await apply('delta.test', { listed: false });
    await verify('delta.test');
    await vote(alice, 'delta.test', 'approve');
    await vote(bob, 'delta.test', 'approve');
    const afterFeed = await feed();
    assert.ok(afterFeed.feed.serial > before.feed.serial);
    assert.notEqual(afterFeed.etag, before.etag);
    assert.equal(afterFeed.feed.instances.find((i) => i.domain === 'delta.test')?.listed, false);

    const deltaResponse = await reg.api('GET', `/v1/index?since=${before.feed.serial}`);
    assert.equal(deltaResponse.status, 200, deltaResponse.text);
    assert.equal(deltaResponse.headers.get('content-type'), 'application/vnd.caliopen.feed-delta');
    const newCheckpoint = unwrap(
      await verifyCheckpoint(afterFeed.feed.checkpoint, { keySet, now: nowSeconds() }),
    ).checkpoint;
    const consistency = await reg.api(
      'GET',
      `/v1/log/proof/consistency?from=${oldCheckpoint.treeSize}&to=${newCheckpoint.treeSize}`,
    );
    assert.equal(consistency.status, 200, consistency.text);
    const proof = decodeProof(consistency.body.proof)!;
    unwrap(verifyConsistentWith(oldCheckpoint, newCheckpoint, proof));
    const delta = unwrap(
      await verifyFeedDelta(deltaResponse.bytes, {
        keySet,
        now: nowSeconds(),
        lastSerial: before.feed.serial,
        lastCheckpoint: oldCheckpoint,
        consistencyProof: proof,
      }),
    ).delta;
    assert.deepEqual(
      delta.changed.map((c) => c.domain),
      ['delta.test'],
    );
    const applied = unwrap(applyDelta(before.feed, delta, { checkResultDigest: true }));
    assert.deepEqual(applied, afterFeed.feed);
    assert.equal((await reg.api('GET', `/v1/index?since=${afterFeed.feed.serial}`)).status, 304);

    const directory = await reg.api('GET', '/v1/directory');
    const listed = directory.body.instances.map((i: { domain: string }) => i.domain);
    assert.ok(listed.includes('alpha.test'));
    assert.ok(!listed.includes('delta.test'), 'an unlisted member is hidden from the public directory');
  });

  test('an objection blocks the label until it is withdrawn', async () => {
    await apply('beta.test');
    await verify('beta.test');
    await vote(alice, 'beta.test', 'approve');
    const objected = await vote(
      bob,
      'beta.test',
      'object',
      'The declaration keeps IP logs longer than the privacy policy says.',
    );
    await vote(alice, 'beta.test', 'approve'); // a repeated vote changes nothing
    assert.equal(objected.consensus.reached, false);
    assert.deepEqual(objected.consensus.blockers, ['approvals: 1 of 2 needed', '1 standing objection']);
    const carol = await reg.auditor('carol');
    const third = await vote(carol, 'beta.test', 'approve');
    assert.equal(third.consensus.reached, false, 'K approvals do not override a standing objection');
    assert.deepEqual(third.consensus.blockers, ['1 standing objection']);
    assert.ok(!(await feed()).feed.instances.some((i) => i.domain === 'beta.test'));

    const applicant = await reg.api('GET', `/v1/applications/${apps['beta.test']!.id}`, {
      token: apps['beta.test']!.token,
    });
    assert.deepEqual(applicant.body.votes.objectionReasons, [
      'The declaration keeps IP logs longer than the privacy policy says.',
    ]);
    assert.ok(!applicant.text.includes('bob'), 'the applicant does not learn who objected');

    const withdrawn = await reg.api('DELETE', `/v1/audit/applications/${apps['beta.test']!.id}/votes`, {
      token: bob.token,
    });
    assert.equal(withdrawn.status, 200, withdrawn.text);
    assert.equal(withdrawn.body.consensus.reached, true);
    assert.equal((await feed()).feed.instances.find((i) => i.domain === 'beta.test')?.status, 'labelled');

    const events = await reg.api('GET', '/v1/audit/events?limit=100', { token: alice.token });
    const actions = events.body.events
      .filter((e: { domain: string }) => e.domain === 'beta.test')
      .map((e: { auditor: string | null; action: string }) => `${e.auditor ?? 'registry'}:${e.action}`);
    for (const expected of [
      'alice:vote.cast',
      'bob:vote.cast',
      'alice:vote.changed',
      'carol:vote.cast',
      'bob:vote.withdrawn',
      'registry:decision.reached',
      'registry:label.issued',
    ]) {
      assert.ok(actions.includes(expected), `${expected} in ${actions.join(', ')}`);
    }
  });

  test('revocation appears in the feed at once and in the log; the public record counts actions without names', async () => {
    const before = await feed();
    const labelId = before.feed.instances.find((i) => i.domain === 'beta.test')!.labelId;
    // One auditor proposes: nothing changes until the consensus rule holds (issue 16: no auditor revokes alone).
    const proposed = await reg.api('POST', '/v1/audit/instances/beta.test/revoke', {
      token: alice.token,
      body: { reason: 'Sold its users\u2019 address books to an advertiser.' },
    });
    assert.equal(proposed.status, 202, proposed.text);
    assert.equal(proposed.body.status, 'labelled');
    assert.deepEqual(proposed.body.proposal.consensus.blockers, ['approvals: 1 of 2 needed']);
    assert.equal((await feed()).feed.serial, before.feed.serial, 'a proposal publishes nothing');
    const r = await reg.api('POST', '/v1/audit/instances/beta.test/revocation/votes', {
      token: bob.token,
      body: { vote: 'approve' },
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.status, 'revoked');
    assert.equal(r.body.proposal.status, 'enacted');
    const after = await feed();
    assert.equal(after.feed.serial, before.feed.serial + 1);
    const entry = after.feed.instances.find((i) => i.domain === 'beta.test')!;
    assert.equal(entry.status, 'revoked');
    assert.equal(entry.labelId, labelId);
    const entries = await logEntries();
    const revoked = entries.find((e) => e.entry.type === 'label.revoked' && e.entry.domain === 'beta.test');
    assert.equal(revoked?.entry.labelId, labelId);
    assert.equal(revoked?.entry.reason, 'Sold its users\u2019 address books to an advertiser.');
    // A peer holding the revocation refuses the label.
    const refused = await verifyLabel(entry.label, {
      keySet,
      expectedDomain: 'beta.test',
      now: nowSeconds(),
      revokedIds: new Set([entry.labelId]),
    });
    assert.equal(refused.ok ? 'accepted' : refused.error.code, 'label_revoked');
    assert.equal(
      (await reg.api('POST', '/v1/audit/instances/beta.test/revoke', { token: alice.token, body: { reason: 'again' } }))
        .body.code,
      'instance_not_labelled',
    );

    const record = await reg.api('GET', '/v1/instances/beta.test');
    assert.equal(record.status, 200);
    assert.equal(record.body.status, 'revoked');
    assert.equal(record.body.revocation.labelId, labelId);
    assert.equal(record.body.audit.counts['instance.revoked'], 1);
    assert.equal(record.body.audit.counts['vote.cast'], 3);
    for (const name of ['alice', 'bob', 'carol'])
      assert.ok(!record.text.includes(name), `the public record names no auditor (${name})`);
    assert.ok(
      !(await reg.api('GET', '/v1/directory')).body.instances.some((i: { domain: string }) => i.domain === 'beta.test'),
    );
  });

  test('labels renew while checks pass; a failing mandatory check stops renewal and the label lapses', async () => {
    await apply('gamma.test');
    await verify('gamma.test');
    await vote(alice, 'gamma.test', 'approve');
    await vote(bob, 'gamma.test', 'approve');
    const issued = (await feed()).feed.instances.find((i) => i.domain === 'gamma.test')!;
    const alphaIssued = (await feed()).feed.instances.find((i) => i.domain === 'alpha.test')!;

    // gamma.test now presents another certificate than the one it declared.
    const other = await startTestInstanceSite('gamma.test');
    sites['gamma.test']!.serveCertificate(other.identity.tls.certPem, other.identity.tls.keyPem);
    await other.stop();

    offsetMs = 4 * DAY_MS; // past half-life
    const report = await reg.running.services.renewal.tick();
    assert.ok(report.renewed.includes('alpha.test'), JSON.stringify(report));
    assert.ok(report.blocked.includes('gamma.test'), JSON.stringify(report));
    const mid = await feed();
    const alpha = mid.feed.instances.find((i) => i.domain === 'alpha.test')!;
    assert.notEqual(alpha.labelId, alphaIssued.labelId, 'alpha.test got a new label');
    assert.ok(alpha.labelExpiresAt > alphaIssued.labelExpiresAt);
    const gamma = mid.feed.instances.find((i) => i.domain === 'gamma.test')!;
    assert.equal(gamma.labelId, issued.labelId, 'gamma.test was not renewed');
    assert.equal(gamma.status, 'labelled', 'still labelled until its label expires');
    const record = await reg.api('GET', '/v1/instances/gamma.test');
    assert.match(record.body.renewalBlocked, /tls\.certificate\.live/);

    offsetMs = 8 * DAY_MS; // past gamma's expiry
    const later = await reg.running.services.renewal.tick();
    assert.ok(later.lapsed.includes('gamma.test'), JSON.stringify(later));
    const lapsed = (await feed()).feed.instances.find((i) => i.domain === 'gamma.test')!;
    assert.equal(lapsed.status, 'suspended');
    const expired = await verifyLabel(lapsed.label, { keySet, expectedDomain: 'gamma.test', now: nowSeconds() });
    assert.equal(expired.ok ? 'accepted' : expired.error.code, 'label_expired');
    const entries = await logEntries();
    assert.ok(entries.some((e) => e.entry.type === 'label.renewed' && e.entry.domain === 'alpha.test'));
    assert.ok(entries.some((e) => e.entry.type === 'label.lapsed' && e.entry.domain === 'gamma.test'));
    assert.ok(!entries.some((e) => e.entry.type === 'label.renewed' && e.entry.domain === 'gamma.test'));
  });

  test('an emergency suspension holds renewal back and is lifted by the tick when no revocation confirmed it', async () => {
    // Days have passed on the registry's clock: a fresh session.
    const login = await reg.api('POST', '/v1/auth/login', { body: { name: 'alice', password: alice.password } });
    assert.equal(login.status, 200, login.text);
    const token = login.body.token as string;
    const r = await reg.api('POST', '/v1/audit/instances/alpha.test/suspend', {
      token,
      body: { reason: 'Serving a key it never declared.' },
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.status, 'suspended');
    assert.equal(r.body.proposal.status, 'open');
    assert.equal((await feed()).feed.instances.find((i) => i.domain === 'alpha.test')!.status, 'suspended');
    const labelId = (await feed()).feed.instances.find((i) => i.domain === 'alpha.test')!.labelId;

    offsetMs += 3600_000; // renewal is due and the checks pass, but the auditors decide: nothing renews
    const held = await reg.running.services.renewal.tick();
    assert.ok(!held.renewed.includes('alpha.test'), JSON.stringify(held));
    assert.deepEqual(held.lifted, []);
    assert.equal((await feed()).feed.instances.find((i) => i.domain === 'alpha.test')!.status, 'suspended');

    offsetMs += 72 * 3600_000; // past the 72 h: not confirmed, lifted; its label is still valid, so it is in force again
    const lifted = await reg.running.services.renewal.tick();
    assert.deepEqual(lifted.lifted, ['alpha.test']);
    const entry = (await feed()).feed.instances.find((i) => i.domain === 'alpha.test')!;
    assert.equal(entry.status, 'labelled');
    assert.equal(entry.labelId, labelId);
    const types = (await logEntries()).filter((e) => e.entry.domain === 'alpha.test').map((e) => e.entry.type);
    assert.ok(types.includes('label.suspended'), types.join());
    assert.ok(types.includes('label.reinstated'), types.join());
    const again = await reg.api('POST', '/v1/auth/login', { body: { name: 'alice', password: alice.password } });
    const events = (await reg.api('GET', '/v1/audit/events', { token: again.body.token })).body.events as {
      action: string;
      domain: string;
    }[];
    assert.ok(events.some((e) => e.action === 'suspension.lifted' && e.domain === 'alpha.test'));
  });

  test('the maintenance tick is scheduled through the queue', async () => {
    const counts = await reg.running.services.queue.counts('registry-maintenance');
    assert.equal(counts.delayed + counts.waiting + counts.active, 0, 'this registry was started without the worker');
    const other = await startTestRegistry();
    try {
      const scheduled = await other.running.services.queue.counts('registry-maintenance');
      assert.equal(scheduled.delayed + scheduled.waiting + scheduled.active + scheduled.completed, 1);
    } finally {
      await other.stop();
    }
  });
});
