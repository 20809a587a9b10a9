import assert from 'node:assert/strict';
import { test } from 'vitest';
import fc from 'fast-check';
import { levelForScore, parsePrivacyIndex, type PrivacyIndex } from '@caliopen/federation-protocol';
import { computeAccountPi, type AccountPiFacts } from './account-pi.model.ts';
import { computeContactPi, type ContactPiFacts } from './contact-pi.model.ts';
import { computeConversationPi } from './conversation-pi.model.ts';
import { computeDevicePi, type DevicePiFacts } from './device-pi.model.ts';
import { computeMessagePi, type MessagePiFacts } from './message-pi.model.ts';
import { KEY_TRUST_RANK, type KeyTrust } from './pi.shared.ts';

/**
 * The laws of PRIVACY-INDEX.md as properties over generated facts, for every model:
 * integers in 0–100 with the level of the score; contributions that add up to the score exactly; pure (same facts,
 * same result); monotone: each "safer fact" of the principles never lowers the PI, each worse fact never raises it.
 */
const RUNS = { numRuns: 400 };
const TRUSTS = Object.keys(KEY_TRUST_RANK) as KeyTrust[];
const tlsArb = fc.option(
  fc.record({
    version: fc.constantFrom('TLSv1.3', 'TLSv1.2', 'TLSv1.1', 'TLSv1'),
    cipher: fc.constantFrom('TLS_AES_256_GCM_SHA384', 'ECDHE-RSA-AES128-GCM-SHA256', 'AES128-SHA'),
  }),
  { nil: null },
);
const TLS_ORDER = [null, 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

const messageArb: fc.Arbitrary<MessagePiFacts> = fc.record({
  direction: fc.constantFrom('inbound' as const, 'outbound' as const),
  transport: fc.option(
    fc.record({
      via: fc.constantFrom(
        'smtp' as const,
        'imap-import' as const,
        'local' as const,
        'federation' as const,
        'xmpp' as const,
      ),
      tls: tlsArb,
      peer: fc.option(fc.domain(), { nil: null }),
      plaintextHops: fc.nat(6),
    }),
    { nil: null },
  ),
  authentication: fc.option(
    fc.record({
      spf: fc.record({ pass: fc.boolean(), domain: fc.option(fc.domain(), { nil: null }) }),
      dkim: fc.record({
        result: fc.constantFrom('aligned' as const, 'unaligned' as const, 'failed' as const, 'none' as const),
        domain: fc.option(fc.domain(), { nil: null }),
      }),
      dmarc: fc.record({ pass: fc.boolean(), domain: fc.option(fc.domain(), { nil: null }) }),
    }),
    { nil: null },
  ),
  provider: fc.option(
    fc.record({ id: fc.constant('google'), name: fc.constant('Google'), evidence: fc.constant('Sent from gmail.com') }),
    { nil: null },
  ),
  openpgp: fc.option(
    fc.record({
      encrypted: fc.boolean(),
      signature: fc.constantFrom(
        'none' as const,
        'valid' as const,
        'invalid' as const,
        'unknown_key' as const,
        'unverifiable' as const,
      ),
      signerKeyTrust: fc.option(fc.constantFrom(...TRUSTS), { nil: null }),
      signerFingerprint: fc.option(fc.stringMatching(/^[0-9a-f]{40}$/), { nil: null }),
      problem: fc.option(fc.string(), { nil: null }),
    }),
    { nil: null },
  ),
  knownContact: fc.boolean(),
  correspondent: fc.option(fc.emailAddress(), { nil: null }),
  federation: fc.option(
    fc.record({
      peerDomain: fc.domain(),
      labelValid: fc.boolean(),
      peerInstancePi: fc.option(fc.integer({ min: 0, max: 100 }), { nil: null }),
      sealed: fc.boolean(),
      forwardSecret: fc.boolean(),
      senderAuthenticated: fc.boolean(),
    }),
    { nil: null },
  ),
});

function assertWellFormed(pi: PrivacyIndex): void {
  assert.ok(Number.isInteger(pi.score) && pi.score >= 0 && pi.score <= 100, `score ${pi.score}`);
  assert.equal(pi.level, levelForScore(pi.score));
  assert.equal(
    pi.factors.reduce((s, f) => s + f.contribution, 0),
    pi.score,
    'contributions add up to the score',
  );
  for (const f of pi.factors) assert.ok(Number.isInteger(f.contribution) && f.evidence.length > 0, `factor ${f.id}`);
  for (const s of pi.suggestions)
    assert.ok(Number.isInteger(s.gain) && s.gain >= 1 && s.element.length > 0, `suggestion ${s.action}`);
  assert.ok(parsePrivacyIndex(JSON.parse(JSON.stringify(pi))).ok, 'crosses the wire as a valid PI');
}

/** Each entry makes the facts strictly safer in one way named by the principles (or leaves them alone when n/a). */
const SAFER_MESSAGE: Record<string, (f: MessagePiFacts) => MessagePiFacts> = {
  'adds TLS / a newer TLS': (f) => {
    if (f.transport === null) return f;
    const i = TLS_ORDER.indexOf(f.transport.tls?.version ?? null);
    const next = TLS_ORDER[Math.min(TLS_ORDER.length - 1, i + 1)]!;
    return { ...f, transport: { ...f.transport, tls: { version: next, cipher: 'TLS_AES_256_GCM_SHA384' } } };
  },
  'one plaintext hop fewer': (f) =>
    f.transport === null
      ? f
      : { ...f, transport: { ...f.transport, plaintextHops: Math.max(0, f.transport.plaintextHops - 1) } },
  'SPF passes': (f) =>
    f.authentication === null
      ? f
      : { ...f, authentication: { ...f.authentication, spf: { ...f.authentication.spf, pass: true } } },
  'DKIM verifies, aligned': (f) =>
    f.authentication === null
      ? f
      : { ...f, authentication: { ...f.authentication, dkim: { result: 'aligned', domain: 'example.org' } } },
  'DMARC passes': (f) =>
    f.authentication === null
      ? f
      : { ...f, authentication: { ...f.authentication, dmarc: { ...f.authentication.dmarc, pass: true } } },
  'encrypted end to end': (f) => ({
    ...f,
    openpgp: {
      ...(f.openpgp ?? { signature: 'none', signerKeyTrust: null, signerFingerprint: null, problem: null }),
      encrypted: true,
    },
  }),
  'signature verified': (f) => ({
    ...f,
    openpgp: {
      ...(f.openpgp ?? { encrypted: false, signerFingerprint: null, problem: null }),
      signature: 'valid',
      signerKeyTrust:
        f.openpgp?.signature === 'valid' && f.openpgp.signerKeyTrust ? f.openpgp.signerKeyTrust : 'autocrypt',
    },
  }),
  'signer key better verified': (f) =>
    f.openpgp === null || f.openpgp.signerKeyTrust === null
      ? f
      : {
          ...f,
          openpgp: {
            ...f.openpgp,
            signerKeyTrust: TRUSTS.find(
              (t) => KEY_TRUST_RANK[t] === Math.min(7, KEY_TRUST_RANK[f.openpgp!.signerKeyTrust!] + 1),
            )!,
          },
        },
  'known contact': (f) => ({ ...f, knownContact: true }),
  'no data-exploiting provider': (f) => ({ ...f, provider: null }),
  'valid peer label': (f) => (f.federation === null ? f : { ...f, federation: { ...f.federation, labelValid: true } }),
  'higher peer instance PI': (f) =>
    f.federation === null
      ? f
      : {
          ...f,
          federation: { ...f.federation, peerInstancePi: Math.min(100, (f.federation.peerInstancePi ?? 0) + 7) },
        },
  'sealed envelope': (f) => (f.federation === null ? f : { ...f, federation: { ...f.federation, sealed: true } }),
  'forward secret': (f) => (f.federation === null ? f : { ...f, federation: { ...f.federation, forwardSecret: true } }),
};

test('message PI: well formed, pure, and every safer fact never lowers it', () => {
  fc.assert(
    fc.property(messageArb, (facts) => {
      const pi = computeMessagePi(facts);
      assertWellFormed(pi);
      assert.deepEqual(computeMessagePi(structuredClone(facts)), pi, 'pure');
      for (const [name, safer] of Object.entries(SAFER_MESSAGE)) {
        const better = computeMessagePi(safer(facts)).score;
        assert.ok(better >= pi.score, `${name}: ${pi.score} -> ${better}`);
      }
      // Worse facts never raise it.
      if (facts.federation !== null)
        assert.ok(
          computeMessagePi({ ...facts, federation: { ...facts.federation, labelValid: false } }).score <= pi.score,
          'revoked label',
        );
      assert.ok(
        computeMessagePi({ ...facts, provider: { id: 'google', name: 'Google', evidence: 'x' } }).score <= pi.score,
        'data-exploiting provider',
      );
    }),
    RUNS,
  );
});

test('message PI: suggestions promise exactly what the model gives', () => {
  fc.assert(
    fc.property(messageArb, (facts) => {
      const pi = computeMessagePi(facts);
      for (const s of pi.suggestions)
        assert.ok(s.gain >= 1 && s.gain <= 100 - pi.score, `${s.action} +${s.gain} from ${pi.score}`);
    }),
    RUNS,
  );
});

test('message PI: an expired or revoked peer label scores no better than the same message as email', () => {
  fc.assert(
    fc.property(messageArb, fc.domain(), (facts, peer) => {
      const asEmail: MessagePiFacts = { ...facts, federation: null };
      const revoked: MessagePiFacts = {
        ...facts,
        federation: {
          peerDomain: peer,
          labelValid: false,
          peerInstancePi: 95,
          sealed: true,
          forwardSecret: true,
          senderAuthenticated: true,
        },
      };
      assert.ok(computeMessagePi(revoked).score <= computeMessagePi(asEmail).score);
    }),
    RUNS,
  );
});

test('message PI: a chat message claiming OMEMO or OpenPGP for XMPP scores what it scores without the claim', () => {
  fc.assert(
    fc.property(messageArb, fc.constantFrom('omemo' as const, 'openpgp' as const), (facts, claim) => {
      const plain: MessagePiFacts = { ...facts, xmpp: { server: 'chat.example', e2eClaim: null } };
      const claimed: MessagePiFacts = { ...facts, xmpp: { server: 'chat.example', e2eClaim: claim } };
      const a = computeMessagePi(plain);
      const b = computeMessagePi(claimed);
      assert.equal(b.score, a.score, 'unverifiable means absent');
      assert.ok(
        b.factors.some((f) => f.id === 'e2e.xmpp_claim' && f.contribution === 0),
        'but it is shown',
      );
    }),
    RUNS,
  );
});

test('message PI: on the email scale, a TLS hop to an XMPP server counts what the same TLS hop counts for mail', () => {
  fc.assert(
    fc.property(messageArb, tlsArb, (facts, tls) => {
      const base: MessagePiFacts = { ...facts, authentication: null, provider: null, federation: null };
      const chat = computeMessagePi({
        ...base,
        transport: { via: 'xmpp', tls, peer: 'chat.example', plaintextHops: 0 },
        xmpp: { server: 'chat.example', e2eClaim: null },
      });
      const mail = computeMessagePi({ ...base, transport: { via: 'smtp', tls, peer: 'mx.example', plaintextHops: 0 } });
      assert.equal(chat.score, mail.score);
    }),
    RUNS,
  );
});

const contactArb: fc.Arbitrary<ContactPiFacts> = fc.record({
  address: fc.option(fc.emailAddress(), { nil: null }),
  email: fc.record({ reachable: fc.boolean(), tlsSeen: fc.boolean(), authenticatedSeen: fc.boolean() }),
  key: fc.option(fc.record({ trust: fc.constantFrom(...TRUSTS), fingerprint: fc.stringMatching(/^[0-9a-f]{40}$/) }), {
    nil: null,
  }),
  keyConflict: fc.boolean(),
  provider: fc.option(fc.record({ id: fc.constant('google'), name: fc.constant('Google') }), { nil: null }),
  federation: fc.option(
    fc.record({
      peerDomain: fc.domain(),
      labelValid: fc.boolean(),
      peerInstancePi: fc.option(fc.integer({ min: 0, max: 100 }), { nil: null }),
      sharedAccountPi: fc.option(fc.integer({ min: 0, max: 100 }), { nil: null }),
    }),
    { nil: null },
  ),
});

test('contact PI: well formed, pure, monotone (key known, better verified, conflict resolved, TLS seen, labelled peer)', () => {
  const safer: Record<string, (f: ContactPiFacts) => ContactPiFacts> = {
    'key known': (f) => (f.key !== null ? f : { ...f, key: { trust: 'autocrypt', fingerprint: 'ab'.repeat(20) } }),
    'key better verified': (f) =>
      f.key === null
        ? f
        : {
            ...f,
            key: {
              ...f.key,
              trust: TRUSTS.find((t) => KEY_TRUST_RANK[t] === Math.min(7, KEY_TRUST_RANK[f.key!.trust] + 1))!,
            },
          },
    'conflict resolved': (f) => ({ ...f, keyConflict: false }),
    'TLS seen': (f) => ({ ...f, email: { ...f.email, tlsSeen: true } }),
    'authenticated mail seen': (f) => ({ ...f, email: { ...f.email, authenticatedSeen: true } }),
    'no data-exploiting provider': (f) => ({ ...f, provider: null }),
    'valid peer label': (f) =>
      f.federation === null ? f : { ...f, federation: { ...f.federation, labelValid: true } },
  };
  fc.assert(
    fc.property(contactArb, (facts) => {
      const pi = computeContactPi(facts);
      assertWellFormed(pi);
      assert.deepEqual(computeContactPi(structuredClone(facts)), pi);
      for (const [name, f] of Object.entries(safer)) assert.ok(computeContactPi(f(facts)).score >= pi.score, name);
      assert.ok(computeContactPi({ ...facts, keyConflict: true }).score <= pi.score, 'a key conflict never raises it');
    }),
    RUNS,
  );
});

const VERDICT_OS = ['unsupported', 'outdated', 'unknown', 'supported'] as const;
const deviceArb: fc.Arbitrary<DevicePiFacts> = fc.record({
  id: fc.uuid(),
  os: fc.constantFrom(...VERDICT_OS),
  osEvidence: fc.constant('Windows 11'),
  browser: fc.constantFrom('outdated' as const, 'unknown' as const, 'supported' as const),
  browserEvidence: fc.constant('Firefox 140'),
});

test('device PI: an outdated or unsupported OS is eliminatory; a supported OS or browser never lowers it', () => {
  fc.assert(
    fc.property(deviceArb, (facts) => {
      const pi = computeDevicePi(facts);
      assertWellFormed(pi);
      if (facts.os === 'outdated' || facts.os === 'unsupported')
        assert.ok(pi.score <= 5, `eliminatory, got ${pi.score}`);
      assert.ok(computeDevicePi({ ...facts, os: 'supported' }).score >= pi.score);
      assert.ok(computeDevicePi({ ...facts, browser: 'supported' }).score >= pi.score);
    }),
    RUNS,
  );
});

const accountArb: fc.Arbitrary<AccountPiFacts> = fc.record({
  authentication: fc.constantFrom('password' as const, 'password+totp' as const, 'client-certificate' as const),
  clientCertificateAvailable: fc.boolean(),
  keyStorage: fc.constantFrom('none' as const, 'server' as const, 'client' as const),
  devices: fc.array(
    fc.record({ id: fc.uuid(), name: fc.string({ maxLength: 10 }), score: fc.integer({ min: 0, max: 100 }) }),
    { maxLength: 5 },
  ),
  exchanges: fc.record({ count: fc.nat(200), meanScore: fc.integer({ min: 0, max: 100 }) }),
  instance: fc.record({
    labelValid: fc.boolean(),
    instancePi: fc.option(fc.integer({ min: 0, max: 100 }), { nil: null }),
  }),
});

test('account PI: stronger authentication, keys on devices, better devices and exchanges never lower it; it never exceeds the instance PI', () => {
  const AUTH = ['password', 'password+totp', 'client-certificate'] as const;
  const KEYS = ['none', 'server', 'client'] as const;
  fc.assert(
    fc.property(accountArb, (facts) => {
      const pi = computeAccountPi(facts);
      assertWellFormed(pi);
      const up = <T>(list: readonly T[], v: T) => list[Math.min(list.length - 1, list.indexOf(v) + 1)]!;
      assert.ok(
        computeAccountPi({ ...facts, authentication: up(AUTH, facts.authentication) }).score >= pi.score,
        'auth',
      );
      assert.ok(computeAccountPi({ ...facts, keyStorage: up(KEYS, facts.keyStorage) }).score >= pi.score, 'keys');
      assert.ok(
        computeAccountPi({ ...facts, devices: facts.devices.slice(1) }).score >= pi.score ||
          facts.devices[0]!.score > Math.min(...facts.devices.map((d) => d.score)),
        'revoking the weakest device',
      );
      assert.ok(
        computeAccountPi({
          ...facts,
          exchanges: { ...facts.exchanges, meanScore: Math.min(100, facts.exchanges.meanScore + 5) },
        }).score >= pi.score,
        'exchanges',
      );
      if (facts.instance.labelValid && facts.instance.instancePi !== null) {
        assert.ok(pi.score <= facts.instance.instancePi, 'capped by the instance PI');
        assert.ok(
          computeAccountPi({
            ...facts,
            instance: { labelValid: true, instancePi: Math.min(100, facts.instance.instancePi + 5) },
          }).score >= pi.score,
          'instance PI',
        );
      }
    }),
    RUNS,
  );
});

test('conversation PI: the weakest of the recent messages, with its suggestions', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 25 }), (scores) => {
      const recent = scores.map((score, i) => ({
        id: String(i),
        receivedAt: new Date(1_700_000_000_000 - i * 1000),
        pi: { score, suggestions: [{ action: 'contact.add_public_key', element: `contact:${i}`, gain: 3 }] },
      }));
      const pi = computeConversationPi({ recent });
      assertWellFormed(pi);
      assert.equal(pi.score, scores.length === 0 ? 0 : Math.min(...scores.slice(0, 10)));
    }),
    RUNS,
  );
});
