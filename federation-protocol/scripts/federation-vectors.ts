/**
 * The caliopen-federation/1 test vectors (prekeys, envelopes, request signatures, receipts, key directory and trust),
 * part of generate-vectors.ts. Keys derive from names as in the other vectors; what the protocol draws at random
 * (prekey private keys, envelope ids, ephemeral keys, IVs) is listed in the vectors as hex "randomness", so another
 * implementation can reproduce every byte.
 */
import { compactDecrypt, importJWK } from 'jose';
import {
  DEFAULT_PREKEY_GRACE_SECONDS,
  MAX_BUCKET_BYTES,
  MAX_ENVELOPE_BYTES,
  MIN_BUCKET_BYTES,
  choosePrekey,
  contentSha256,
  decodeBase64Url,
  encodeBase64Url,
  encodeHex,
  planPrekeyRotation,
  sealEnvelope,
  signKeyDirectoryEntry,
  signPrekey,
  signReceipt,
  signRequest,
  signTrustStatement,
  utf8Decode,
  utf8Encode,
} from '../src/index.ts';
import type { Ed25519KeyPair, Prekey, SealEnvelopeInput, X25519PrivateJwk } from '../src/index.ts';
import {
  alpha,
  beta,
  fixedRandom,
  flipBase64UrlChar,
  gamma,
  payloadFor,
  sealRaw,
  seededRandom,
  signWithHeader,
} from '../src/testing/federation-fixtures.ts';
import { generatePrekey } from '../src/prekeys.ts';
import { DAY, T0, strangerKey } from '../src/testing/fixtures.ts';

const GENERATED_BY = 'federation-protocol/scripts/generate-vectors.ts';

function instanceKey(name: string, domain: string, keyPair: Ed25519KeyPair) {
  return { domain, seedName: `${domain} signing key`, publicJwk: keyPair.publicJwk, kid: keyPair.kid, note: name };
}

/** Named randomness, as hex, and the randomness function that hands it out. */
function randomness(name: string, length: number): { hex: string; bytes: Uint8Array } {
  const bytes = seededRandom(name)(length);
  return { hex: encodeHex(bytes), bytes };
}

function prekeyFrom(domain: string, notBefore: number, name: string) {
  const random = randomness(name, 32);
  const generated = generatePrekey({ domain, notBefore, randomBytes: fixedRandom(random.bytes) });
  return { randomness: random.hex, ...generated };
}

const keysOf = (...instances: { domain: string; signingKey: Ed25519KeyPair }[]) =>
  Object.fromEntries(instances.map((instance) => [instance.domain, [instance.signingKey.publicJwk]]));

// ---------------------------------------------------------------------------------------------------------------

export async function prekeyVectors() {
  const current = prekeyFrom(beta.domain, T0, 'vectors: beta prekey 1');
  const next = prekeyFrom(beta.domain, T0 + 18 * 3600, 'vectors: beta prekey 2');
  const previous = prekeyFrom(beta.domain, T0 - DAY, 'vectors: beta prekey 0');
  const currentJws = await signPrekey(current.prekey, beta.signingKey);
  const verify = { expectedDomain: beta.domain, now: T0 + 3600, signingKeys: [beta.signingKey.publicJwk] };
  const rejected = (name: string, jws: string, code: string, changes: Record<string, unknown> = {}) => ({
    name,
    jws,
    verify: { ...verify, ...changes },
    expected: { ok: false, code },
  });
  const header = { alg: 'EdDSA', kid: beta.signingKey.kid, typ: 'caliopen-prekey+jws' };
  const windows = [previous, current, next].map(({ prekey }) => ({
    kid: prekey.kid,
    notBefore: prekey.notBefore,
    notAfter: prekey.notAfter,
  }));
  return {
    description:
      'Signed prekeys: compact JWS, EdDSA, typ "caliopen-prekey+jws", kid = thumbprint of the instance signing key, payload ' +
      '{ kid, domain, publicJwk, notBefore, notAfter } (kid = RFC 7638 thumbprint of the X25519 publicJwk, window at most ' +
      '7 days). prekeys: the X25519 private key is "randomness" (32 bytes, hex), the JWK and the signed JWS follow. cases: ' +
      'verify gives expectedDomain, now and the signingKeys of the instance (clock tolerance 60 s on notBefore); expected is ' +
      '{ ok: true, prekey } or { ok: false, code }. lists: the document served at GET /federation/v1/prekeys; prekeys ' +
      'outside their window are dropped, one forged prekey fails the list. choose: the prekey a sender seals to (newest ' +
      'notBefore among those valid at now with at least 300 s left). rotation: planPrekeyRotation with the default policy ' +
      '(window 24 h, overlap 6 h, grace 1 h).',
    generatedBy: GENERATED_BY,
    instance: instanceKey('recipient', beta.domain, beta.signingKey),
    prekeys: [previous, current, next].map(({ randomness: hex, prekey, privateKey }) => ({
      randomness: hex,
      privateJwk: privateKey.privateJwk,
      prekey,
    })),
    cases: [
      { name: 'valid prekey', jws: currentJws, verify, expected: { ok: true, prekey: current.prekey } },
      {
        name: 'valid at notBefore minus the clock tolerance',
        jws: currentJws,
        verify: { ...verify, now: T0 - 60 },
        expected: { ok: true, prekey: current.prekey },
      },
      rejected('signature changed', flipBase64UrlChar(currentJws, currentJws.length - 5), 'prekey_bad_signature'),
      rejected(
        'signed by another instance',
        await signPrekey(current.prekey, alpha.signingKey),
        'prekey_bad_signature',
      ),
      rejected('fetched from another instance', currentJws, 'prekey_wrong_domain', { expectedDomain: alpha.domain }),
      rejected('past its window', currentJws, 'prekey_expired', { now: current.prekey.notAfter }),
      rejected('before its window', currentJws, 'prekey_not_yet_valid', { now: T0 - 61 }),
      rejected(
        'window longer than 7 days',
        await signWithHeader(header, { ...current.prekey, notAfter: T0 + 8 * DAY }, beta.signingKey),
        'prekey_malformed',
      ),
      rejected(
        'private key published',
        await signWithHeader(header, { ...current.prekey, publicJwk: current.privateKey.privateJwk }, beta.signingKey),
        'prekey_malformed',
      ),
      rejected(
        'a label type',
        await signWithHeader({ ...header, typ: 'caliopen-label+jwt' }, current.prekey, beta.signingKey),
        'prekey_malformed',
      ),
    ],
    lists: [
      {
        name: 'previous, current and next prekeys: the previous one is dropped',
        document: {
          prekeys: [
            await signPrekey(previous.prekey, beta.signingKey),
            currentJws,
            await signPrekey(next.prekey, beta.signingKey),
          ],
        },
        verify: { ...verify, now: T0 + 20 * 3600 },
        expected: { ok: true, kids: [current.prekey.kid, next.prekey.kid] },
      },
      {
        name: 'one forged prekey fails the list',
        document: { prekeys: [currentJws, await signPrekey(next.prekey, strangerKey)] },
        verify,
        expected: { ok: false, code: 'prekey_bad_signature' },
      },
      {
        name: 'every prekey past its window',
        document: { prekeys: [currentJws] },
        verify: { ...verify, now: T0 + 2 * DAY },
        expected: { ok: false, code: 'prekey_expired' },
      },
      { name: 'empty list', document: { prekeys: [] }, verify, expected: { ok: false, code: 'prekey_malformed' } },
    ],
    choose: [T0 + 3600, T0 + 18 * 3600, T0 + DAY - 100, T0 + 42 * 3600 - 299].map((now) => ({
      now,
      prekeys: windows,
      expected: choosePrekey(windows, now)?.kid ?? null,
    })),
    rotation: [
      { now: T0, held: [] },
      { now: T0 + 3600, held: windows.slice(1, 2) },
      { now: T0 + 18 * 3600, held: windows.slice(1, 2) },
      { now: T0 + DAY + DEFAULT_PREKEY_GRACE_SECONDS, held: windows.slice(0, 3) },
    ].map(({ now, held }) => ({ now, held, expected: planPrekeyRotation(held, now) })),
  };
}

// ---------------------------------------------------------------------------------------------------------------

const MESSAGE =
  'From: alice@alpha.caliopen.test\r\nTo: bob@beta.caliopen.test\r\nSubject: Hello\r\nDate: Thu, 01 Jan 2026 00:00:00 +0000\r\n\r\nHello Bob.\r\n';

function sealInputJson(input: SealEnvelopeInput) {
  return { ...input, body: encodeBase64Url(input.body) };
}

function contentJson(input: SealEnvelopeInput, id: string) {
  const { body, ...rest } = input;
  return { ...rest, id, expires: input.expires ?? input.created + 3600, body: encodeBase64Url(body) };
}

/** The plaintext of a JWE without its padding (for the vectors' readers): detached JWS, LF, payload. */
async function innerText(jwe: string, privateJwk: X25519PrivateJwk): Promise<string> {
  const { plaintext } = await compactDecrypt(jwe, await importJWK({ ...privateJwk }, 'ECDH-ES'));
  return Buffer.from(plaintext.subarray(0, plaintext.lastIndexOf(0x80))).toString('latin1');
}

export async function envelopeVectors() {
  const prekey = prekeyFrom(beta.domain, T0, 'vectors: beta prekey 1');
  const unheld = prekeyFrom(beta.domain, T0, 'vectors: beta prekey not held');
  const impostor = prekeyFrom(beta.domain, T0, 'vectors: impostor prekey');
  const base: SealEnvelopeInput = {
    from: { instance: alpha.domain, account: 'alice' },
    to: { instance: beta.domain, local: 'bob' },
    contentType: 'message/rfc822',
    body: utf8Encode(MESSAGE),
    e2e: false,
    created: T0,
  };
  const open = { expectedDestination: beta.domain, now: T0 + 60 };
  const seal = async (
    name: string,
    input: SealEnvelopeInput,
    options: { prekey?: Prekey; signingKey?: Ed25519KeyPair } = {},
  ) => {
    const random = randomness(`vectors: envelope ${name}`, 16 + 32 + 12);
    const sealed = await sealEnvelope(input, {
      prekey: options.prekey ?? prekey.prekey,
      signingKey: options.signingKey ?? alpha.signingKey,
      randomBytes: fixedRandom(random.bytes),
    });
    return { random: random.hex, sealed, text: utf8Decode(sealed.bytes)! };
  };

  const valid = await seal('valid', base);
  const instanceNotice = await seal('from the instance, end to end', {
    ...base,
    from: { instance: alpha.domain },
    e2e: true,
    contentType: 'application/pgp-encrypted',
    body: utf8Encode('-----BEGIN PGP MESSAGE-----\n\nhQEMA...\n-----END PGP MESSAGE-----\n'),
  });
  const okCase = async (name: string, sealed: Awaited<ReturnType<typeof seal>>, input: SealEnvelopeInput) => ({
    name,
    seal: { input: sealInputJson(input), randomness: sealed.random },
    envelope: sealed.text,
    plaintext: await innerText(sealed.sealed.envelope.jwe, prekey.privateKey.privateJwk),
    open,
    expected: {
      ok: true,
      content: contentJson(input, sealed.sealed.id),
      senderKid: alpha.signingKey.kid,
      prekeyKid: prekey.prekey.kid,
      bucket: sealed.sealed.bucket,
    },
  });
  const rejected = (name: string, envelope: string, code: string, changes: Record<string, unknown> = {}) => ({
    name,
    envelope,
    open: { ...open, ...changes },
    expected: { ok: false, code },
  });

  const jwe = valid.sealed.envelope.jwe;
  const dots = [...jwe].flatMap((c, i) => (c === '.' ? [i] : []));
  const withJwe = (text: string) => JSON.stringify({ ...valid.sealed.envelope, jwe: text });
  const header = JSON.parse(utf8Decode(decodeBase64Url(jwe.slice(0, dots[0]!))!)!) as { epk: Record<string, string> };
  const withHeader = (changes: Record<string, unknown>) =>
    `${encodeBase64Url(utf8Encode(JSON.stringify({ ...header, ...changes })))}${jwe.slice(dots[0]!)}`;
  const rawRandom = randomness('vectors: envelope raw', 32 + 12);
  const relayed = await sealRaw({
    payload: payloadFor(T0, { to: { instance: gamma.domain, local: 'bob' } }),
    signingKey: alpha.signingKey,
    iss: alpha.domain,
    prekey: prekey.prekey,
    randomBytes: fixedRandom(rawRandom.bytes),
  });
  const lateCreated = prekey.prekey.notAfter - 100;
  const late = await seal('sealed just before the prekey window ends', { ...base, created: lateCreated });

  const padding = [];
  for (const length of [0, 2048, 2700, 3000, 6000, 10_240, 12_000]) {
    const input = { ...base, body: new Uint8Array(length).fill(0x41) };
    const sealed = await sealEnvelope(input, {
      prekey: prekey.prekey,
      signingKey: alpha.signingKey,
      randomBytes: seededRandom(`vectors: padding ${length}`),
    });
    const ciphertext = sealed.envelope.jwe.split('.')[3]!;
    padding.push({
      bodyLength: length,
      bucket: sealed.bucket,
      ciphertextLength: ciphertext.length,
      envelopeLength: sealed.bytes.byteLength,
    });
  }
  const buckets = [];
  for (let bucket = MIN_BUCKET_BYTES; bucket <= MAX_BUCKET_BYTES; bucket *= 2)
    buckets.push({ bucket, ciphertextLength: Math.ceil((bucket * 4) / 3) });

  return {
    description:
      'Sealed envelopes. Outer layer (the body of POST /federation/v1/inbox, canonical JSON): { v: 1, to, prekey, jwe }. ' +
      'jwe: compact JWE, alg ECDH-ES (X25519, to the recipient prekey), enc A256GCM, protected header { alg, enc, kid ' +
      '(= prekey), typ: "caliopen-envelope+jwe", epk }. Plaintext: "<header>..<signature>" (a JWS with detached payload, ' +
      'EdDSA by the sender instance, header { alg, iss (sender domain), kid, typ: "caliopen-envelope+jws" }), LF, the ' +
      'canonical JSON payload { from: { instance, account? }, to: { instance, local }, id, created, expires, contentType, ' +
      'body (base64url), e2e }, then 0x80 and zero bytes up to the bucket (the smallest power of two from 4096 to ' +
      '33554432 bytes above the rest). seal.randomness (hex) is consumed in this order: envelope id (16 bytes), ephemeral ' +
      'X25519 private key (32), IV (12); sealing the input with it reproduces envelope byte for byte (the JWE header is ' +
      'serialised as jose does: alg, enc, kid, typ, epk { x, crv, kty }). open: expectedDestination and now; the ' +
      'recipient holds the prekeys of recipientPrekeys, the feed lists senderKeys; clock tolerance 60 s, prekey grace ' +
      '3600 s. plaintext (valid cases): the decrypted plaintext without its padding. expected: { ok: true, content (body base64url), senderKid, prekeyKid, bucket } or { ok: false, code }. ' +
      'expectedSender, when given, is the instance that delivered the envelope (authenticated by its request). ' +
      'replay: the same envelope opened twice, the second time refused. padding: body lengths (bytes 0x41), their bucket, ' +
      'the ciphertext length (base64url characters) and the length of the outer layer.',
    generatedBy: GENERATED_BY,
    sender: instanceKey('sender', alpha.domain, alpha.signingKey),
    senderKeys: keysOf(alpha, gamma),
    recipient: { domain: beta.domain },
    recipientPrekeys: [
      { randomness: prekey.randomness, privateJwk: prekey.privateKey.privateJwk, prekey: prekey.prekey },
    ],
    maxEnvelopeBytes: MAX_ENVELOPE_BYTES,
    buckets,
    cases: [
      await okCase('valid envelope from alice@alpha to bob@beta', valid, base),
      await okCase('from the instance itself, body end-to-end encrypted', instanceNotice, {
        ...base,
        from: { instance: alpha.domain },
        e2e: true,
        contentType: 'application/pgp-encrypted',
        body: utf8Encode('-----BEGIN PGP MESSAGE-----\n\nhQEMA...\n-----END PGP MESSAGE-----\n'),
      }),
      rejected('ciphertext changed', withJwe(flipBase64UrlChar(jwe, dots[2]! + 40)), 'envelope_decrypt_failed'),
      rejected('tag changed', withJwe(flipBase64UrlChar(jwe, dots[3]! + 3)), 'envelope_decrypt_failed'),
      rejected(
        'protected header changed (another ephemeral key)',
        withJwe(withHeader({ epk: { ...header.epk, x: impostor.prekey.publicJwk.x } })),
        'envelope_decrypt_failed',
      ),
      rejected(
        'outer destination changed',
        JSON.stringify({ ...valid.sealed.envelope, to: gamma.domain }),
        'envelope_wrong_destination',
      ),
      rejected('opened by another instance', valid.text, 'envelope_wrong_destination', {
        expectedDestination: gamma.domain,
      }),
      {
        ...rejected('inner payload for another instance', JSON.stringify(relayed), 'envelope_wrong_destination'),
        randomness: rawRandom.hex,
      },
      rejected('expired', valid.text, 'envelope_expired', { now: T0 + 3600 + 60 }),
      rejected('created in the future', valid.text, 'envelope_expired', { now: T0 - 61 }),
      rejected(
        'to a prekey the recipient does not hold (or deleted)',
        (await seal('unheld prekey', base, { prekey: unheld.prekey })).text,
        'envelope_unknown_prekey',
      ),
      rejected('to a prekey past its window and grace period', late.text, 'envelope_unknown_prekey', {
        now: prekey.prekey.notAfter + DEFAULT_PREKEY_GRACE_SECONDS,
      }),
      rejected(
        'encrypted to another key under the prekey kid',
        (await seal('impostor', base, { prekey: { ...impostor.prekey, kid: prekey.prekey.kid } })).text,
        'envelope_decrypt_failed',
      ),
      rejected(
        'signed by a key the feed does not list (claiming alpha)',
        (await seal('stranger', base, { signingKey: strangerKey })).text,
        'envelope_bad_signature',
      ),
      rejected('delivered by another instance than the signer', valid.text, 'envelope_bad_signature', {
        expectedSender: gamma.domain,
      }),
      rejected(
        'from an instance the feed does not list',
        (
          await seal(
            'unlisted',
            { ...base, from: { instance: 'delta.caliopen.test', account: 'dave' } },
            { signingKey: strangerKey },
          )
        ).text,
        'envelope_bad_signature',
      ),
      rejected('larger than the recipient accepts', valid.text, 'envelope_oversize', { maxEnvelopeBytes: 4096 }),
      rejected(
        'ciphertext not the size of a bucket',
        withJwe(`${jwe.slice(0, dots[2]! + 1)}${jwe.slice(dots[2]! + 5)}`),
        'envelope_malformed',
      ),
      rejected(
        'sender visible outside',
        JSON.stringify({ ...valid.sealed.envelope, from: alpha.domain }),
        'envelope_malformed',
      ),
      rejected('compressed plaintext (zip header)', withJwe(withHeader({ zip: 'DEF' })), 'envelope_malformed'),
    ],
    replay: {
      name: 'the same envelope twice',
      envelope: valid.text,
      open,
      expected: [{ ok: true }, { ok: false, code: 'envelope_replayed' }],
    },
    padding,
  };
}

// ---------------------------------------------------------------------------------------------------------------

export async function requestSignatureVectors() {
  const body = utf8Encode('{"jwe":"...","prekey":"...","to":"beta.caliopen.test","v":1}');
  const inbox = '/federation/v1/inbox';
  const sign = (overrides: Partial<Parameters<typeof signRequest>[0]> = {}, key = alpha.signingKey) =>
    signRequest(
      {
        instance: alpha.domain,
        method: 'POST',
        path: inbox,
        destination: beta.domain,
        body,
        created: T0,
        ...overrides,
      },
      key,
    );
  const post = await sign();
  const get = await sign({ method: 'GET', path: '/federation/v1/keys/bob', body: new Uint8Array() });
  const check = await sign({ method: 'GET', path: '/federation/v1/recipients/bob', body: new Uint8Array() });
  const verify = { expectedDestination: beta.domain, now: T0 + 10 };
  const request = (signature: string | null, changes: Record<string, unknown> = {}) => ({
    method: 'POST',
    path: inbox,
    body: encodeBase64Url(body),
    signature,
    ...changes,
  });
  const rejected = (
    name: string,
    req: ReturnType<typeof request>,
    code: string,
    changes: Record<string, unknown> = {},
  ) => ({ name, request: req, verify: { ...verify, ...changes }, expected: { ok: false, code } });
  const claims = {
    iss: alpha.domain,
    method: 'POST',
    path: inbox,
    destination: beta.domain,
    contentSha256: contentSha256(body),
    created: T0,
    expires: T0 + 60,
  };
  return {
    description:
      'Request signatures: header Caliopen-Signature, a compact JWS (EdDSA, typ "caliopen-request+jws", kid = thumbprint ' +
      'of the sender instance signing key) over { iss, method, path, destination, contentSha256 (base64url SHA-256 of ' +
      'the body), created, expires } (lifetime at most 300 s). request: method, path (as sent), body (base64url), ' +
      'signature (null: no header). verify: expectedDestination and now, with keys (the feed: domain -> signing keys); ' +
      'clock tolerance 60 s. expected: { ok: true, instance, kid, claims } or { ok: false, code } (peer_unknown: keys ' +
      'lists no such instance).',
    generatedBy: GENERATED_BY,
    keys: keysOf(alpha, gamma),
    cases: [
      {
        name: 'POST to the inbox',
        request: request(post),
        verify,
        expected: { ok: true, instance: alpha.domain, kid: alpha.signingKey.kid, claims },
      },
      {
        name: 'GET of the key directory (empty body)',
        request: { method: 'GET', path: '/federation/v1/keys/bob', body: '', signature: get },
        verify,
        expected: {
          ok: true,
          instance: alpha.domain,
          kid: alpha.signingKey.kid,
          claims: {
            ...claims,
            method: 'GET',
            path: '/federation/v1/keys/bob',
            contentSha256: contentSha256(new Uint8Array()),
          },
        },
      },
      rejected('no signature', request(null), 'request_signature_missing'),
      rejected('not a JWS', request('keyId="alpha",signature="..."'), 'request_signature_malformed'),
      rejected(
        'signed for another instance',
        request(await sign({ destination: gamma.domain })),
        'request_signature_wrong_destination',
      ),
      rejected('expired', request(post), 'request_signature_expired', { now: T0 + 120 }),
      rejected('created in the future', request(post), 'request_signature_expired', { now: T0 - 61 }),
      rejected('signature changed', request(flipBase64UrlChar(post, post.length - 4)), 'request_signature_bad'),
      rejected('another path', request(post, { path: '/federation/v1/trust/bob' }), 'request_signature_bad'),
      rejected('another method', request(post, { method: 'PUT' }), 'request_signature_bad'),
      rejected('signed by a key the feed does not list', request(await sign({}, strangerKey)), 'request_signature_bad'),
      rejected(
        'from an instance the feed does not list',
        request(await sign({ instance: 'delta.caliopen.test' }, strangerKey)),
        'peer_unknown',
      ),
      rejected(
        'another body',
        request(post, { body: encodeBase64Url(utf8Encode('{}')) }),
        'request_signature_digest_mismatch',
      ),
      {
        name: 'GET of the recipient check (SPEC.md §12.1, empty body)',
        request: { method: 'GET', path: '/federation/v1/recipients/bob', body: '', signature: check },
        verify,
        expected: {
          ok: true,
          instance: alpha.domain,
          kid: alpha.signingKey.kid,
          claims: {
            ...claims,
            method: 'GET',
            path: '/federation/v1/recipients/bob',
            contentSha256: contentSha256(new Uint8Array()),
          },
        },
      },
      rejected(
        'a recipient check signed for bob, asking about another user',
        { method: 'GET', path: '/federation/v1/recipients/carol', body: '', signature: check },
        'request_signature_bad',
      ),
    ],
  };
}

// ---------------------------------------------------------------------------------------------------------------

export async function receiptVectors() {
  const receipt = {
    envelopeId: 'q9RuaSqk6kBOKJaF3QgzGg',
    to: { instance: beta.domain, local: 'bob' },
    receivedAt: T0 + 2,
    status: 'delivered' as const,
  };
  const jws = await signReceipt(receipt, beta.signingKey);
  const verify = {
    signingKeys: [beta.signingKey.publicJwk],
    expectedEnvelopeId: receipt.envelopeId,
    expectedTo: receipt.to,
  };
  const header = { alg: 'EdDSA', kid: beta.signingKey.kid, typ: 'caliopen-receipt+jws' };
  return {
    description:
      'Delivery receipts: compact JWS, EdDSA, typ "caliopen-receipt+jws", signed by the recipient instance, payload ' +
      '{ envelopeId, to: { instance, local }, receivedAt, status: "delivered" }. verify: the recipient signingKeys and ' +
      'optionally the expectedEnvelopeId and expectedTo. expected: { ok: true, receipt } or { ok: false, code }.',
    generatedBy: GENERATED_BY,
    cases: [
      { name: 'valid receipt', jws, verify, expected: { ok: true, receipt } },
      {
        name: 'signature changed',
        jws: flipBase64UrlChar(jws, jws.length - 6),
        verify,
        expected: { ok: false, code: 'receipt_bad_signature' },
      },
      {
        name: 'signed by the sender instead',
        jws: await signReceipt(receipt, alpha.signingKey),
        verify,
        expected: { ok: false, code: 'receipt_bad_signature' },
      },
      {
        name: 'for another envelope',
        jws,
        verify: { ...verify, expectedEnvelopeId: 'AAAAAAAAAAAAAAAAAAAAAA' },
        expected: { ok: false, code: 'receipt_mismatch' },
      },
      {
        name: 'for another recipient',
        jws,
        verify: { ...verify, expectedTo: { instance: beta.domain, local: 'carol' } },
        expected: { ok: false, code: 'receipt_mismatch' },
      },
      {
        name: 'unknown status',
        jws: await signWithHeader(header, { ...receipt, status: 'read' }, beta.signingKey),
        verify,
        expected: { ok: false, code: 'receipt_malformed' },
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------------------------

export async function directoryVectors() {
  const openpgpKey = utf8Encode('opaque to this layer: the binary transferable public key of bob@beta.caliopen.test');
  const entry = {
    domain: beta.domain,
    local: 'bob',
    openpgpKey,
    fingerprint: '0123456789abcdef0123456789abcdef01234567',
    issuedAt: T0,
  };
  const keyJws = await signKeyDirectoryEntry(entry, beta.signingKey);
  const keyVerify = {
    signingKeys: [beta.signingKey.publicJwk],
    expectedDomain: beta.domain,
    expectedLocal: 'bob',
    now: T0 + 60,
  };
  const entryJson = { ...entry, openpgpKey: encodeBase64Url(openpgpKey), expiresAt: T0 + DAY };
  const statement = {
    domain: beta.domain,
    local: 'bob',
    pi: { score: 82, level: 'private' as const, modelVersion: 'account-pi/1' },
    issuedAt: T0,
  };
  const trustJws = await signTrustStatement(statement, beta.signingKey);
  return {
    description:
      'Key directory (GET /federation/v1/keys/:local) and trust sharing (GET /federation/v1/trust/:local) answers: ' +
      'compact JWS, EdDSA, signed by the instance; typ "caliopen-key-directory+jws", payload { domain, local, openpgpKey ' +
      '(base64url binary key, opaque here), fingerprint (lowercase hex), issuedAt, expiresAt }; typ "caliopen-trust+jws", ' +
      'payload { domain, local, pi: { score, level, modelVersion }, issuedAt, expiresAt }. verify: signingKeys of the ' +
      'instance, expectedDomain, expectedLocal, now (tolerance 60 s). expected: { ok: true, entry | statement } (binary ' +
      'as base64url) or { ok: false, code }.',
    generatedBy: GENERATED_BY,
    keyDirectory: [
      { name: 'valid answer', jws: keyJws, verify: keyVerify, expected: { ok: true, entry: entryJson } },
      {
        name: 'for another user',
        jws: keyJws,
        verify: { ...keyVerify, expectedLocal: 'carol' },
        expected: { ok: false, code: 'key_directory_mismatch' },
      },
      {
        name: 'signed by another instance',
        jws: await signKeyDirectoryEntry(entry, alpha.signingKey),
        verify: keyVerify,
        expected: { ok: false, code: 'key_directory_bad_signature' },
      },
      {
        name: 'expired',
        jws: keyJws,
        verify: { ...keyVerify, now: T0 + DAY + 60 },
        expected: { ok: false, code: 'key_directory_expired' },
      },
    ],
    trust: [
      {
        name: 'valid answer',
        jws: trustJws,
        verify: keyVerify,
        expected: { ok: true, statement: { ...statement, expiresAt: T0 + DAY } },
      },
      {
        name: 'for another instance',
        jws: trustJws,
        verify: { ...keyVerify, expectedDomain: alpha.domain },
        expected: { ok: false, code: 'trust_mismatch' },
      },
      {
        name: 'signature changed',
        jws: flipBase64UrlChar(trustJws, trustJws.length - 3),
        verify: keyVerify,
        expected: { ok: false, code: 'trust_bad_signature' },
      },
      {
        name: 'level not the one of the score',
        jws: await signWithHeader(
          { alg: 'EdDSA', kid: beta.signingKey.kid, typ: 'caliopen-trust+jws' },
          { ...statement, pi: { ...statement.pi, level: 'sealed' }, expiresAt: T0 + DAY },
          beta.signingKey,
        ),
        verify: keyVerify,
        expected: { ok: false, code: 'trust_malformed' },
      },
    ],
  };
}
