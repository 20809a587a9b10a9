/**
 * A Sent copy's federation facts come from its recorded deliveries (DeliveryFact.federation): the weakest delivery
 * counts, as for the transport; malformed or missing stored facts read as "not verified", never as safer ones.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import fc from 'fast-check';
import type { DeliveryFact } from '../mail/delivery.fact.ts';
import type { Message } from '../mail/message.entity.ts';
import { messagePiFacts } from './message-pi.facts.ts';
import { computeMessagePi } from './message-pi.model.ts';

const TLS = { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' };
const AT = '2025-01-01T00:00:00.000Z';

function sentCopy(delivery: unknown, facts: Record<string, unknown> = {}): Message {
  return {
    id: 'm1',
    accountId: 'a1',
    conversationId: 'c1',
    protocol: 'email',
    direction: 'outbound',
    externalId: '<x@alpha.test>',
    contentHash: '00',
    from: { protocol: 'email', address: 'alice@alpha.test', name: null, contactId: null },
    to: [{ protocol: 'email', address: 'bob@beta.test', name: null, contactId: null }],
    cc: [],
    subject: 's',
    snippet: '',
    sentAt: null,
    receivedAt: new Date(AT),
    sizeBytes: 1,
    rawRef: null,
    threadKey: null,
    tags: ['sent'],
    read: true,
    archived: false,
    deletedAt: null,
    pi: null,
    importance: 0,
    facts: {
      transport: { via: 'local' },
      authentication: null,
      ...facts,
      ...(delivery === undefined ? {} : { delivery }),
    },
  };
}

const federated = (domain: string, over: Partial<NonNullable<DeliveryFact['federation']>> = {}): DeliveryFact => ({
  domain,
  via: 'federation',
  tls: TLS,
  peer: `127.0.0.1:4430`,
  at: AT,
  receipt: 'eyJ.x.y',
  federation: {
    labelValid: true,
    peerInstancePi: 90,
    sealed: true,
    forwardSecret: true,
    receiptVerified: true,
    e2e: false,
    ...over,
  },
});
const smtp = (domain: string): DeliveryFact => ({ domain, via: 'smtp', tls: TLS, peer: `mx.${domain}:25`, at: AT });
const local: DeliveryFact = { domain: 'alpha.test', via: 'local', tls: null, peer: null, at: AT };

const facts = (delivery: unknown, extra?: Record<string, unknown>) =>
  messagePiFacts(sentCopy(delivery, extra), { knownContact: false });
const ids = (delivery: unknown) => computeMessagePi(facts(delivery)).factors.map((f) => f.id);

describe('Sent copy: federation facts from its deliveries', () => {
  test('one federation delivery: the federation factors count, with the receipt as evidence', () => {
    const f = facts([federated('beta.test')]);
    assert.deepEqual(f.federation, {
      peerDomain: 'beta.test',
      labelValid: true,
      peerInstancePi: 90,
      sealed: true,
      forwardSecret: true,
      senderAuthenticated: true,
    });
    assert.equal(f.transport?.via, 'federation');
    const pi = computeMessagePi(f);
    for (const id of [
      'federation.label',
      'federation.instance_pi',
      'federation.sealed',
      'federation.forward_secret',
      'federation.authenticated',
      'transport.tls',
    ]) {
      assert.ok(
        pi.factors.some((x) => x.id === id && x.contribution > 0),
        id,
      );
    }
    assert.match(
      pi.factors.find((x) => x.id === 'federation.authenticated')!.evidence,
      /receipt signed by a key the registry's feed lists for beta\.test/i,
    );
    assert.ok(pi.score > computeMessagePi({ ...f, federation: null }).score);
  });

  test('not delivered yet, or only locally: no federation facts', () => {
    assert.equal(facts(undefined).federation, null);
    assert.equal(facts([]).federation, null);
    assert.equal(facts([local]).federation, null);
  });

  test('a local delivery beside a federation one weakens nothing', () => {
    assert.equal(facts([local, federated('beta.test')]).federation?.peerDomain, 'beta.test');
  });

  test('one delivery by email: the message is worth what email is (no federation factors)', () => {
    for (const delivery of [
      [federated('beta.test'), smtp('example.org')],
      [smtp('example.org'), federated('beta.test')],
    ]) {
      assert.equal(facts(delivery).federation, null);
      assert.ok(!ids(delivery).some((id) => id.startsWith('federation.')), ids(delivery).join());
    }
  });

  test('several peers: the least trusted names the facts, and each property holds only if it held for all', () => {
    const f = facts([
      federated('beta.test'),
      federated('gamma.test', { peerInstancePi: 40, forwardSecret: false }),
      federated('delta.test', { receiptVerified: false }),
    ]);
    assert.deepEqual(f.federation, {
      peerDomain: 'gamma.test',
      labelValid: true,
      peerInstancePi: 40,
      sealed: true,
      forwardSecret: false,
      senderAuthenticated: false,
    });
    const unlabelled = facts([
      federated('beta.test'),
      federated('gamma.test', { labelValid: false, peerInstancePi: 99 }),
    ]);
    assert.equal(unlabelled.federation?.peerDomain, 'gamma.test');
    assert.equal(unlabelled.federation?.labelValid, false);
    const noPi = facts([federated('beta.test'), federated('gamma.test', { peerInstancePi: null })]);
    assert.equal(noPi.federation?.peerDomain, 'gamma.test');
  });

  test('the weakest delivery bounds the score: adding a delivery never raises it', () => {
    const entry = fc.record({
      domain: fc.constantFrom('beta.test', 'gamma.test', 'delta.test', 'example.org', 'alpha.test'),
      via: fc.constantFrom('federation' as const, 'smtp' as const, 'local' as const),
      tls: fc.option(fc.constant(TLS), { nil: null }),
      labelValid: fc.boolean(),
      peerInstancePi: fc.option(fc.integer({ min: 0, max: 100 }), { nil: null }),
      sealed: fc.boolean(),
      forwardSecret: fc.boolean(),
      receiptVerified: fc.boolean(),
    });
    const toFact = (e: typeof entry extends fc.Arbitrary<infer T> ? T : never): DeliveryFact =>
      e.via === 'federation'
        ? {
            domain: e.domain,
            via: e.via,
            tls: e.tls,
            peer: null,
            at: AT,
            federation: {
              labelValid: e.labelValid,
              peerInstancePi: e.peerInstancePi,
              sealed: e.sealed,
              forwardSecret: e.forwardSecret,
              receiptVerified: e.receiptVerified,
              e2e: false,
            },
          }
        : { domain: e.domain, via: e.via, tls: e.via === 'local' ? null : e.tls, peer: null, at: AT };
    fc.assert(
      fc.property(fc.array(entry, { minLength: 1, maxLength: 6 }), entry, (list, extra) => {
        const before = list.map(toFact);
        const withOne = [...before, toFact(extra)];
        const score = (d: DeliveryFact[]) => computeMessagePi(facts(d)).score;
        // Only when the delivery added is not local and the list had a non-local one (a first real delivery
        // replaces "not delivered yet").
        if (extra.via !== 'local' && before.some((d) => d.via !== 'local'))
          assert.ok(score(withOne) <= score(before), `${score(withOne)} > ${score(before)}`);
      }),
      { numRuns: 300 },
    );
  });

  test('hostile stored facts read as not verified, never as safer ones', () => {
    const good = federated('beta.test');
    for (const delivery of [
      'beta.test',
      [null],
      [42],
      [{ ...good, federation: 'yes' }],
      [{ ...good, federation: undefined }],
      [{ ...good, domain: 7 }],
      [{ ...good, domain: 'x'.repeat(300) }],
      [{ ...good, via: 'carrier-pigeon' }],
      [good, { ...good, domain: 'gamma.test', federation: null }],
    ]) {
      assert.equal(facts(delivery).federation, null, JSON.stringify(delivery).slice(0, 200));
    }
    const liar = facts([
      {
        ...good,
        federation: {
          labelValid: 'true',
          peerInstancePi: 1000,
          sealed: 1,
          forwardSecret: 'yes',
          receiptVerified: {},
          e2e: true,
        },
      },
    ]);
    assert.deepEqual(liar.federation, {
      peerDomain: 'beta.test',
      labelValid: false,
      peerInstancePi: null,
      sealed: false,
      forwardSecret: false,
      senderAuthenticated: false,
    });
    assert.ok(!computeMessagePi(liar).factors.some((f) => f.id.startsWith('federation.') && f.contribution > 0));
    // A federation section stored on a Sent copy (not something deliveries write) is not read.
    assert.equal(
      facts([smtp('example.org')], {
        federation: {
          peerDomain: 'beta.test',
          labelValid: true,
          peerInstancePi: 100,
          sealed: true,
          forwardSecret: true,
          senderAuthenticated: true,
        },
      }).federation,
      null,
    );
  });
});

describe('OpenPGP signature by another key than the pinned one (point 11)', () => {
  const openpgp = (over: Record<string, unknown>) => ({
    openpgp: {
      kind: 'pgp-mime-signed',
      encrypted: false,
      signature: 'unknown_key',
      signerFingerprint: null,
      signerKeyTrust: null,
      problem: 'Signed by an unknown key …, not the key pinned for the sender (conflict).',
      ...over,
    },
  });
  const inbound = (extra: Record<string, unknown>) => {
    const m = sentCopy(undefined, extra);
    return messagePiFacts({ ...m, direction: 'inbound' }, { knownContact: true });
  };

  test('the factor says conflict, earns nothing, and no "add their key" suggestion is made', () => {
    const conflict = computeMessagePi(inbound(openpgp({ keyConflict: true })));
    const f = conflict.factors.find((x) => x.id === 'origin.signature_key_conflict');
    assert.equal(f?.contribution, 0);
    assert.match(f?.evidence ?? '', /key alert \(conflict\)/);
    assert.ok(!conflict.factors.some((x) => x.id === 'origin.signature_unknown_key'));
    assert.ok(!conflict.suggestions.some((s) => s.action === 'contact.add_public_key'));
    const unknown = computeMessagePi(inbound(openpgp({})));
    assert.ok(unknown.factors.some((x) => x.id === 'origin.signature_unknown_key'));
    assert.equal(conflict.score, unknown.score, 'a conflict is no better than an unknown key');
  });

  test('keyConflict is read only beside unknown_key, and only as true', () => {
    assert.equal(inbound(openpgp({ keyConflict: 'yes' })).openpgp?.keyConflict, undefined);
    assert.equal(
      inbound(openpgp({ signature: 'valid', signerKeyTrust: 'wkd', keyConflict: true })).openpgp?.keyConflict,
      undefined,
    );
    assert.equal(inbound(openpgp({ keyConflict: true })).openpgp?.keyConflict, true);
  });
});
