import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeProtectedHeader } from 'jose';
import { canonicalJson } from './canonical-json.ts';
import { encodeBase64Url, utf8Decode, utf8Encode } from './encoding.ts';
import type { ErrorCode, Result } from './errors.ts';
import {
  MAX_BUCKET_BYTES,
  MAX_ENVELOPE_BYTES,
  MAX_ENVELOPE_LIFETIME_SECONDS,
  MIN_BUCKET_BYTES,
  bucketFor,
  openEnvelope,
  sealEnvelope,
} from './envelope.ts';
import type { OpenEnvelopeOptions, SealEnvelopeInput } from './envelope.ts';
import { DEFAULT_PREKEY_GRACE_SECONDS } from './prekeys.ts';
import {
  alpha,
  beta,
  betaPrekey,
  flipBase64UrlChar,
  gamma,
  keyLookups,
  padded,
  payloadFor,
  prekeyFixture,
  sealRaw,
  seededRandom,
} from './testing/federation-fixtures.ts';
import { T0, strangerKey } from './testing/fixtures.ts';

const now = T0 + 60;
const message = utf8Encode(
  'From: alice@alpha.caliopen.test\r\nTo: bob@beta.caliopen.test\r\nSubject: hi\r\n\r\nHello Bob.\r\n',
);
const input: SealEnvelopeInput = {
  from: { instance: alpha.domain, account: 'alice' },
  to: { instance: beta.domain, local: 'bob' },
  contentType: 'message/rfc822',
  body: message,
  e2e: false,
  created: T0,
};
const sealOptions = { prekey: betaPrekey.prekey, signingKey: alpha.signingKey };
const openOptions: OpenEnvelopeOptions = {
  expectedDestination: beta.domain,
  now,
  ...keyLookups([betaPrekey.privateKey], [alpha, beta]),
};

function assertCode(result: Result<unknown>, code: ErrorCode): void {
  assert.ok(!result.ok, `expected ${code}, got a valid result`);
  assert.equal(result.error.code, code, result.error.message);
}

describe('sealed envelopes', () => {
  it('round-trips: the recipient opens what the sender sealed and learns who sent it', async () => {
    const sealed = await sealEnvelope(input, sealOptions);
    const opened = await openEnvelope(sealed.bytes, openOptions);
    assert.ok(opened.ok, opened.ok ? '' : opened.error.message);
    const { content } = opened.value;
    assert.deepEqual(content.from, { instance: alpha.domain, account: 'alice' });
    assert.deepEqual(content.to, { instance: beta.domain, local: 'bob' });
    assert.deepEqual(content.body, message);
    assert.equal(content.id, sealed.id);
    assert.equal(content.expires, T0 + 3600);
    assert.equal(opened.value.senderKid, alpha.signingKey.kid);
    assert.equal(opened.value.prekeyKid, betaPrekey.prekey.kid);
    // Also from text and from parsed JSON (a server that parsed the body already).
    assert.ok((await openEnvelope(utf8Decode(sealed.bytes)!, openOptions)).ok);
    assert.ok((await openEnvelope(JSON.parse(utf8Decode(sealed.bytes)!), openOptions)).ok);
    // Without an account (a message from the instance itself), end to end, binary body.
    const binary = Uint8Array.from({ length: 300 }, (_, i) => i % 256);
    const notice = await sealEnvelope(
      { ...input, from: { instance: alpha.domain }, body: binary, e2e: true, contentType: 'application/pgp-encrypted' },
      sealOptions,
    );
    const openedNotice = await openEnvelope(notice.bytes, openOptions);
    assert.ok(openedNotice.ok);
    assert.deepEqual(openedNotice.value.content.from, { instance: alpha.domain });
    assert.deepEqual(openedNotice.value.content.body, binary);
    assert.equal(openedNotice.value.content.e2e, true);
  });

  it('shows nothing of the sender or the content outside: only v, to, prekey and the JWE', async () => {
    // Seeded, so that no random base64url spells a name by chance.
    const sealed = await sealEnvelope(input, { ...sealOptions, randomBytes: seededRandom('outside') });
    const text = utf8Decode(sealed.bytes)!;
    assert.deepEqual(Object.keys(JSON.parse(text)).sort(), ['jwe', 'prekey', 'to', 'v']);
    const [headerPart, , , ciphertextPart] = sealed.envelope.jwe.split('.') as [string, string, string, string];
    // Outside the JWE, and in its header: no name but the destination's.
    const readable = `${text.replace(sealed.envelope.jwe, '')} ${Buffer.from(headerPart, 'base64url').toString()}`;
    for (const secret of ['alpha', 'alice', 'bob', 'Hello', alpha.signingKey.kid]) {
      assert.equal(readable.includes(secret), false, `"${secret}" visible outside`);
    }
    // The ciphertext is not the message, nor its base64url, nor the signed payload.
    const ciphertext = Buffer.from(ciphertextPart, 'base64url');
    for (const secret of [
      Buffer.from(message),
      Buffer.from(encodeBase64Url(message)),
      Buffer.from(alpha.signingKey.kid),
      Buffer.from('"from":{"account":"alice"'),
    ]) {
      assert.equal(ciphertext.includes(secret), false, 'plaintext visible in the ciphertext');
    }
    const header = decodeProtectedHeader(sealed.envelope.jwe);
    assert.deepEqual(Object.keys(header).sort(), ['alg', 'enc', 'epk', 'kid', 'typ']);
    assert.equal(header.alg, 'ECDH-ES');
    assert.equal(header.enc, 'A256GCM');
    // A fresh ephemeral key and id each time.
    const again = await sealEnvelope(input, sealOptions);
    assert.notEqual(again.id, sealed.id);
    assert.notDeepEqual(decodeProtectedHeader(again.envelope.jwe).epk, header.epk);
  });

  it('pads to size buckets: the wire size tells only the bucket', async () => {
    assert.equal(bucketFor(0), MIN_BUCKET_BYTES);
    assert.equal(bucketFor(MIN_BUCKET_BYTES - 1), MIN_BUCKET_BYTES);
    assert.equal(bucketFor(MIN_BUCKET_BYTES), 2 * MIN_BUCKET_BYTES);
    assert.equal(bucketFor(MAX_BUCKET_BYTES - 1), MAX_BUCKET_BYTES);
    assert.equal(bucketFor(MAX_BUCKET_BYTES), undefined);
    const sizes = new Map<number, Set<number>>();
    for (const length of [0, 1, 500, 2000, 2500, 3000, 5000, 10_240, 11_000]) {
      const sealed = await sealEnvelope({ ...input, body: new Uint8Array(length).fill(65) }, sealOptions);
      const set = sizes.get(sealed.bucket) ?? new Set();
      set.add(sealed.bytes.byteLength);
      sizes.set(sealed.bucket, set);
    }
    assert.deepEqual([...sizes.keys()], [4096, 8192, 16384]);
    for (const [bucket, lengths] of sizes)
      assert.equal(lengths.size, 1, `bucket ${bucket} has one wire size, not ${[...lengths]}`);
  });

  it('refuses to seal for another instance than the prekey, or beyond the largest bucket', async () => {
    await assert.rejects(sealEnvelope({ ...input, to: { instance: gamma.domain, local: 'bob' } }, sealOptions), {
      code: 'envelope_wrong_destination',
    });
    await assert.rejects(
      sealEnvelope({ ...input, to: { instance: beta.domain, local: 'not a local part' } }, sealOptions),
      { code: 'envelope_malformed' },
    );
    await assert.rejects(sealEnvelope({ ...input, expires: T0 + MAX_ENVELOPE_LIFETIME_SECONDS + 1 }, sealOptions), {
      code: 'envelope_malformed',
    });
    await assert.rejects(sealEnvelope({ ...input, contentType: 'Text/Plain; charset=utf-8' }, sealOptions), {
      code: 'envelope_malformed',
    });
    await assert.rejects(sealEnvelope({ ...input, created: betaPrekey.prekey.notAfter }, sealOptions), {
      code: 'envelope_unknown_prekey',
    });
    await assert.rejects(sealEnvelope({ ...input, body: new Uint8Array(24 * 1024 * 1024) }, sealOptions), {
      code: 'envelope_oversize',
    });
    // Just over the largest bucket once signed: refused after signing.
    await assert.rejects(
      sealEnvelope({ ...input, body: new Uint8Array(((MAX_BUCKET_BYTES - 200) * 3) / 4) }, sealOptions),
      { code: 'envelope_oversize' },
    );
  });

  it('refuses an envelope for another instance, outside and inside', async () => {
    const sealed = await sealEnvelope(input, sealOptions);
    assertCode(
      await openEnvelope(sealed.bytes, { ...openOptions, expectedDestination: gamma.domain }),
      'envelope_wrong_destination',
    );
    assertCode(await openEnvelope({ ...sealed.envelope, to: gamma.domain }, openOptions), 'envelope_wrong_destination');
    // An inner payload for gamma in an envelope addressed to beta (a sender relaying what it got from gamma's peer).
    const relayed = await sealRaw({
      payload: payloadFor(T0, { to: { instance: gamma.domain, local: 'bob' } }),
      signingKey: alpha.signingKey,
      iss: alpha.domain,
      prekey: betaPrekey.prekey,
    });
    assertCode(await openEnvelope(relayed, openOptions), 'envelope_wrong_destination');
  });

  it('refuses an envelope to an unknown, deleted or expired prekey', async () => {
    const sealed = await sealEnvelope(input, sealOptions);
    assertCode(
      await openEnvelope(sealed.bytes, { ...openOptions, prekeyPrivate: () => undefined }),
      'envelope_unknown_prekey',
    );
    const other = prekeyFixture(beta.domain, T0, 'another prekey');
    assertCode(
      await openEnvelope(sealed.bytes, { ...openOptions, prekeyPrivate: () => other.privateKey }),
      'envelope_unknown_prekey',
    );
    const late = betaPrekey.prekey.notAfter + DEFAULT_PREKEY_GRACE_SECONDS;
    // Past the window + grace: refused even though the instance still holds the private half.
    const longLived = await sealEnvelope({ ...input, created: late - 3000, expires: late + 3000 }, sealOptions).catch(
      () => undefined,
    );
    assert.equal(longLived, undefined, 'the sender does not seal to a prekey past its window');
    const raw = await sealRaw({
      payload: payloadFor(late - 100),
      signingKey: alpha.signingKey,
      iss: alpha.domain,
      prekey: betaPrekey.prekey,
    });
    assert.ok((await openEnvelope(raw, { ...openOptions, now: late - 1 })).ok, 'still inside the grace period');
    assertCode(await openEnvelope(raw, { ...openOptions, now: late }), 'envelope_unknown_prekey');
    assertCode(
      await openEnvelope(sealed.bytes, {
        ...openOptions,
        prekeyPrivate: () => {
          throw new Error('storage down');
        },
      }),
      'envelope_unknown_prekey',
    );
  });

  it('refuses an expired envelope, or one created in the future', async () => {
    const sealed = await sealEnvelope(input, sealOptions);
    assert.ok((await openEnvelope(sealed.bytes, { ...openOptions, now: T0 + 3600 + 59 })).ok, 'clock skew tolerated');
    assertCode(await openEnvelope(sealed.bytes, { ...openOptions, now: T0 + 3600 + 60 }), 'envelope_expired');
    assertCode(await openEnvelope(sealed.bytes, { ...openOptions, now: T0 - 61 }), 'envelope_expired');
  });

  it('refuses an envelope signed by a key the feed does not list for the sender', async () => {
    const sealed = await sealEnvelope(input, sealOptions);
    assertCode(
      await openEnvelope(sealed.bytes, { ...openOptions, senderKeys: () => undefined }),
      'envelope_bad_signature',
    );
    assertCode(await openEnvelope(sealed.bytes, { ...openOptions, senderKeys: () => [] }), 'envelope_bad_signature');
    assertCode(
      await openEnvelope(sealed.bytes, { ...openOptions, senderKeys: () => [gamma.signingKey.publicJwk] }),
      'envelope_bad_signature',
    );
    // A stranger's key, claiming to be alpha.
    const forged = await sealEnvelope(input, { ...sealOptions, signingKey: strangerKey });
    assertCode(await openEnvelope(forged.bytes, openOptions), 'envelope_bad_signature');
    // Gamma (labelled) signing a payload that claims to come from alpha: signed as one, from the other.
    const spoofed = await sealRaw({
      payload: payloadFor(T0),
      signingKey: gamma.signingKey,
      iss: gamma.domain,
      prekey: betaPrekey.prekey,
    });
    assertCode(
      await openEnvelope(spoofed, { ...openOptions, ...keyLookups([betaPrekey.privateKey], [alpha, gamma]) }),
      'envelope_malformed',
    );
    // Delivered by gamma (authenticated by its request) but signed by alpha: instances do not relay.
    assertCode(
      await openEnvelope(sealed.bytes, { ...openOptions, expectedSender: gamma.domain }),
      'envelope_bad_signature',
    );
    assert.ok((await openEnvelope(sealed.bytes, { ...openOptions, expectedSender: alpha.domain })).ok);
    // Gamma's key, header claiming alpha.
    const claimed = await sealRaw({
      payload: payloadFor(T0),
      signingKey: gamma.signingKey,
      iss: alpha.domain,
      prekey: betaPrekey.prekey,
    });
    assertCode(await openEnvelope(claimed, openOptions), 'envelope_bad_signature');
  });

  it('refuses a tampered envelope: every changed character of the JWE fails', async () => {
    const sealed = await sealEnvelope(input, sealOptions);
    const jwe = sealed.envelope.jwe;
    const dots = [...jwe].flatMap((c, i) => (c === '.' ? [i] : []));
    // One per part at least, then random positions.
    const positions = [0, dots[1]! + 3, dots[2]! + 5, dots[3]! - 1, jwe.length - 1];
    for (const index of positions) {
      const result = await openEnvelope({ ...sealed.envelope, jwe: flipBase64UrlChar(jwe, index) }, openOptions);
      assert.ok(!result.ok, `accepted with character ${index} changed`);
    }
    const inCiphertext = await openEnvelope(
      { ...sealed.envelope, jwe: flipBase64UrlChar(jwe, dots[2]! + 100) },
      openOptions,
    );
    assertCode(inCiphertext, 'envelope_decrypt_failed');
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: jwe.length - 1 }), async (index) => {
        const tampered = flipBase64UrlChar(jwe, index);
        fc.pre(tampered !== jwe);
        const result = await openEnvelope({ ...sealed.envelope, jwe: tampered }, openOptions);
        assert.ok(!result.ok, `accepted with character ${index} changed`);
        assert.match(result.error.code, /^envelope_(malformed|decrypt_failed)$/);
      }),
      { numRuns: 100 },
    );
  });

  it('refuses an envelope encrypted to another key under the prekey kid', async () => {
    const other = prekeyFixture(beta.domain, T0, 'impostor prekey');
    const raw = await sealRaw({
      payload: payloadFor(T0),
      signingKey: alpha.signingKey,
      iss: alpha.domain,
      prekey: { ...other.prekey, kid: betaPrekey.prekey.kid },
    });
    assertCode(await openEnvelope(raw, openOptions), 'envelope_decrypt_failed');
    // A low-order ephemeral key (all zeros): the key agreement fails, nothing throws.
    const sealed = await sealEnvelope(input, sealOptions);
    const [header, ...rest] = sealed.envelope.jwe.split('.');
    const parsed = JSON.parse(Buffer.from(header!, 'base64url').toString());
    parsed.epk.x = encodeBase64Url(new Uint8Array(32));
    const lowOrder = [Buffer.from(JSON.stringify(parsed)).toString('base64url'), ...rest].join('.');
    const result = await openEnvelope({ ...sealed.envelope, jwe: lowOrder }, openOptions);
    assert.ok(!result.ok);
    assert.match(result.error.code, /^envelope_(decrypt_failed|malformed)$/);
  });

  it('refuses oversize envelopes before parsing them', async () => {
    const huge = `{"v":1,"to":"beta.caliopen.test","prekey":"x","jwe":"${'A'.repeat(MAX_ENVELOPE_BYTES)}"}`;
    assertCode(await openEnvelope(huge, openOptions), 'envelope_oversize');
    assertCode(await openEnvelope(utf8Encode(huge), openOptions), 'envelope_oversize');
    const sealed = await sealEnvelope(input, sealOptions);
    assertCode(await openEnvelope(sealed.bytes, { ...openOptions, maxEnvelopeBytes: 1000 }), 'envelope_oversize');
    // A parsed body whose JWE is too long.
    assertCode(
      await openEnvelope({ ...sealed.envelope, jwe: 'A'.repeat(MAX_ENVELOPE_BYTES + 1) }, openOptions),
      'envelope_oversize',
    );
  });

  it('refuses malformed outer layers, JWE headers, paddings and payloads', async () => {
    const sealed = await sealEnvelope(input, sealOptions);
    const envelope = sealed.envelope;
    const [header, , iv, ciphertext, tag] = envelope.jwe.split('.') as [string, string, string, string, string];
    const withHeader = (changes: Record<string, unknown>) => {
      const parsed = { ...JSON.parse(Buffer.from(header, 'base64url').toString()), ...changes };
      return `${Buffer.from(JSON.stringify(parsed)).toString('base64url')}..${iv}.${ciphertext}.${tag}`;
    };
    const outer: [string, unknown][] = [
      ['not JSON', '{"v":1,'],
      ['not UTF-8', new Uint8Array([0x7b, 0xff, 0x7d])],
      ['an array', [envelope]],
      ['null', null],
      ['extra member (a sender leak)', { ...envelope, from: 'alpha.caliopen.test' }],
      ['version 2', { ...envelope, v: 2 }],
      ['to not a domain', { ...envelope, to: 'Beta Caliopen' }],
      ['prekey not a thumbprint', { ...envelope, prekey: 'k1' }],
      ['jwe not a string', { ...envelope, jwe: 42 }],
      ['jwe with four parts', { ...envelope, jwe: envelope.jwe.slice(0, envelope.jwe.lastIndexOf('.')) }],
      ['jwe with an encrypted key', { ...envelope, jwe: envelope.jwe.replace('..', '.AAAA.') }],
      ['compression (zip) in the header', { ...envelope, jwe: withHeader({ zip: 'DEF' }) }],
      ['other key agreement', { ...envelope, jwe: withHeader({ alg: 'ECDH-ES+A256KW' }) }],
      ['other content encryption', { ...envelope, jwe: withHeader({ enc: 'A128GCM' }) }],
      ['other type', { ...envelope, jwe: withHeader({ typ: 'JWE' }) }],
      ['kid not the outer prekey', { ...envelope, jwe: withHeader({ kid: alpha.signingKey.kid }) }],
      ['epk with a private key', { ...envelope, jwe: withHeader({ epk: betaPrekey.privateKey.privateJwk }) }],
      ['ciphertext not a bucket', { ...envelope, jwe: `${header}..${iv}.${ciphertext.slice(4)}.${tag}` }],
    ];
    for (const [name, value] of outer) {
      const result = await openEnvelope(value, openOptions);
      assert.ok(!result.ok, `${name}: accepted`);
      assert.equal(result.error.code, 'envelope_malformed', `${name}: ${result.error.message}`);
    }

    const raw = (overrides: Partial<Parameters<typeof sealRaw>[0]>) =>
      sealRaw({
        payload: payloadFor(T0),
        signingKey: alpha.signingKey,
        iss: alpha.domain,
        prekey: betaPrekey.prekey,
        ...overrides,
      });
    const jwsOnly = utf8Encode('eyJhbGciOiJFZERTQSJ9..c2ln\n{}');
    const inner: [string, Promise<Record<string, unknown>>][] = [
      ['no padding marker', raw({ plaintext: new Uint8Array(MIN_BUCKET_BYTES).fill(0x41) })],
      ['all zeros', raw({ plaintext: new Uint8Array(MIN_BUCKET_BYTES) })],
      [
        'padding with a non-zero byte after the marker',
        raw({
          plaintext: (() => {
            const p = padded(jwsOnly);
            p[p.length - 1] = 1;
            return p;
          })(),
        }),
      ],
      ['no LF between signature and payload', raw({ plaintext: padded(utf8Encode('abc..def{}')) })],
      ['a byte outside ASCII', raw({ plaintext: padded(utf8Encode('abc..def\n{"a":"é"}')) })],
      ['not a detached JWS', raw({ plaintext: padded(utf8Encode('abc.xyz.def\n{}')) })],
      ['inner JWS of another type', raw({ typ: 'caliopen-request+jws' })],
      ['no sender in the inner header', raw({ iss: 'not a domain' })],
      ['unknown payload member', raw({ payload: payloadFor(T0, { cc: 'carol' }) })],
      ['id not 128 bits', raw({ payload: payloadFor(T0, { id: 'abc' }) })],
      ['lifetime too long', raw({ payload: payloadFor(T0, { expires: T0 + MAX_ENVELOPE_LIFETIME_SECONDS + 1 }) })],
      ['expires before created', raw({ payload: payloadFor(T0, { expires: T0 }) })],
      ['body not base64url', raw({ payload: payloadFor(T0, { body: 'aGk=' }) })],
      ['e2e not a boolean', raw({ payload: payloadFor(T0, { e2e: 'yes' }) })],
      ['from without instance', raw({ payload: payloadFor(T0, { from: { account: 'alice' } }) })],
      [
        'recipient local part with a space',
        raw({ payload: payloadFor(T0, { to: { instance: beta.domain, local: 'bob smith' } }) }),
      ],
    ];
    for (const [name, promise] of inner) {
      const result = await openEnvelope(await promise, openOptions);
      assert.ok(!result.ok, `${name}: accepted`);
      assert.equal(result.error.code, 'envelope_malformed', `${name}: ${result.error.message}`);
    }
  });

  it('never throws and never accepts random input', async () => {
    const sealed = await sealEnvelope(input, sealOptions);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 2000 }),
          fc.string({ maxLength: 2000 }),
          fc.jsonValue(),
          fc.record({
            v: fc.constant(1),
            to: fc.constant(beta.domain),
            prekey: fc.constant(betaPrekey.prekey.kid),
            jwe: fc.string({ maxLength: 400 }),
          }),
          fc.record({
            v: fc.constant(1),
            to: fc.constant(beta.domain),
            prekey: fc.constant(betaPrekey.prekey.kid),
            jwe: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => {
              const [h, k, i, c, t] = sealed.envelope.jwe.split('.');
              return [h, k, i, `${encodeBase64Url(bytes)}${c!.slice(Math.ceil((bytes.length * 4) / 3))}`, t].join('.');
            }),
          }),
        ),
        async (value) => {
          const result = await openEnvelope(value, openOptions);
          assert.ok(!result.ok);
          assert.match(result.error.code, /^envelope_/);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is deterministic with injected randomness (for test vectors)', async () => {
    const one = await sealEnvelope(input, { ...sealOptions, randomBytes: seededRandom('envelope') });
    const two = await sealEnvelope(input, { ...sealOptions, randomBytes: seededRandom('envelope') });
    assert.equal(canonicalJson(one.envelope), canonicalJson(two.envelope));
    assert.ok((await openEnvelope(one.bytes, openOptions)).ok);
  });
});
