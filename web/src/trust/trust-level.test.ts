import { describe, expect, test } from 'vitest';
import type { FederationFacts, MessageFacts, OpenPgpFacts } from '../api/types.ts';
import { TRUST_LEVELS, trustOf } from './trust-level.ts';

const smtpTls = {
  via: 'smtp',
  tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
  plaintextHops: 0,
  externalHops: 1,
};
const federationTransport = { via: 'federation', tls: null, plaintextHops: 0, externalHops: 0 };
const fed = (over: Partial<FederationFacts> = {}): FederationFacts => ({
  peerDomain: 'beta.test',
  labelValid: true,
  peerInstancePi: 82,
  sealed: true,
  forwardSecret: true,
  senderAuthenticated: true,
  e2e: false,
  ...over,
});
const signed = (signerKeyTrust: string | null, signature = 'valid'): OpenPgpFacts => ({
  kind: 'pgp-mime-signed',
  encrypted: false,
  signature,
  signerFingerprint: 'ABCD',
  signerKeyTrust,
  problem: null,
});
const auth = (o: { dmarc?: string; dkim?: { result: string; aligned: boolean }[] }) => ({
  spf: { result: 'pass', domain: 'x.example' },
  dkim: (o.dkim ?? []).map((d) => ({ ...d, domain: 'x.example', selector: 's1' })),
  dmarc: { result: o.dmarc ?? 'none', domain: 'x.example', policy: 'reject' },
});
const facts = (over: Partial<MessageFacts>): MessageFacts => ({
  transport: null,
  authentication: null,
  openpgp: null,
  federation: null,
  ...over,
});

describe('trustOf: the correspondent trust level from verified facts only', () => {
  test('federation from a labelled instance, key verified by you: verified member', () => {
    const t = trustOf(facts({ transport: federationTransport, federation: fed(), openpgp: signed('verified') }));
    expect(t.level).toBe('verified_member');
    expect(t.reasons.map((r) => r.key)).toEqual([
      'trust.reason.label_valid',
      'trust.reason.instance_pi',
      'trust.reason.key_verified',
    ]);
  });

  test('federation from a labelled instance: member, with the instance and its PI as reasons', () => {
    const t = trustOf(facts({ transport: federationTransport, federation: fed() }));
    expect(t.level).toBe('member');
    expect(t.reasons[0]).toEqual({ key: 'trust.reason.label_valid', values: { instance: 'beta.test' } });
    expect(t.reasons[1]).toEqual({ key: 'trust.reason.instance_pi', values: { instance: 'beta.test', pi: 82 } });
  });

  test('a key trusted only on first use, or a signature that does not verify, does not make a verified member', () => {
    expect(trustOf(facts({ federation: fed(), openpgp: signed('tofu') })).level).toBe('member');
    expect(trustOf(facts({ federation: fed(), openpgp: signed('verified', 'invalid') })).level).toBe('member');
  });

  test('an instance whose label is not valid is authenticated, not a member, even with a verified key', () => {
    const t = trustOf(facts({ federation: fed({ labelValid: false }), openpgp: signed('verified') }));
    expect(t.level).toBe('authenticated');
    expect(t.reasons[0]!.key).toBe('trust.reason.label_not_valid');
  });

  test('federation facts without an authenticated sender count for nothing', () => {
    expect(trustOf(facts({ federation: fed({ senderAuthenticated: false }) })).level).toBe('unauthenticated');
  });

  test('federation facts on a message that did not come over the federation are ignored', () => {
    expect(trustOf(facts({ transport: smtpTls, federation: fed() })).level).toBe('unauthenticated');
  });

  test('email with DMARC passed, or an aligned verified DKIM signature: authenticated email', () => {
    expect(trustOf(facts({ transport: smtpTls, authentication: auth({ dmarc: 'pass' }) })).level).toBe('authenticated');
    const dkim = trustOf(
      facts({ transport: smtpTls, authentication: auth({ dkim: [{ result: 'pass', aligned: true }] }) }),
    );
    expect(dkim.level).toBe('authenticated');
    expect(dkim.reasons).toEqual([{ key: 'trust.reason.dkim_aligned', values: { domain: 'x.example' } }]);
  });

  test('a DKIM signature that is not aligned or does not verify, or SPF alone, leaves email unauthenticated', () => {
    const t = trustOf(
      facts({
        transport: smtpTls,
        authentication: auth({
          dmarc: 'fail',
          dkim: [
            { result: 'pass', aligned: false },
            { result: 'fail', aligned: true },
          ],
        }),
      }),
    );
    expect(t.level).toBe('unauthenticated');
    expect(t.reasons).toEqual([{ key: 'trust.reason.nothing_verified' }]);
  });

  test('a message from an account of this instance is authenticated', () => {
    expect(trustOf(facts({ transport: { ...smtpTls, via: 'local' } })).level).toBe('authenticated');
  });

  test('no facts at all: unauthenticated', () => {
    expect(trustOf(null).level).toBe('unauthenticated');
    expect(trustOf(undefined).level).toBe('unauthenticated');
    expect(trustOf(facts({})).level).toBe('unauthenticated');
  });

  test('monotone: adding a verified fact never lowers the level', () => {
    const rank = (f: MessageFacts) => TRUST_LEVELS.indexOf(trustOf(f).level);
    const base = facts({ transport: federationTransport, authentication: auth({}) });
    const steps: Partial<MessageFacts>[] = [
      { authentication: auth({ dmarc: 'pass' }) },
      { federation: fed({ labelValid: false }) },
      { federation: fed() },
      { federation: fed(), openpgp: signed('verified') },
    ];
    let last = rank(base);
    for (const s of steps) {
      const r = rank({ ...base, ...s });
      expect(r).toBeGreaterThanOrEqual(last);
      last = r;
    }
  });
});
