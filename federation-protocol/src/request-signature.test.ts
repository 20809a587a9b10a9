import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { utf8Encode } from './encoding.ts';
import type { ErrorCode, Result } from './errors.ts';
import {
  MAX_REQUEST_SIGNATURE_LIFETIME_SECONDS,
  REQUEST_JWS_TYPE,
  checkRequestDigest,
  contentSha256,
  signRequest,
  verifyRequest,
  verifyRequestHeader,
} from './request-signature.ts';
import type { ReceivedRequest, VerifyRequestOptions } from './request-signature.ts';
import { alpha, beta, flipBase64UrlChar, gamma, signWithHeader } from './testing/federation-fixtures.ts';
import { T0, strangerKey } from './testing/fixtures.ts';

const body = utf8Encode('{"v":1,"to":"beta.caliopen.test","prekey":"...","jwe":"..."}');
const path = '/federation/v1/inbox';
const options: VerifyRequestOptions = {
  expectedDestination: beta.domain,
  now: T0 + 10,
  keysOf: (domain) =>
    domain === alpha.domain
      ? [alpha.signingKey.publicJwk]
      : domain === gamma.domain
        ? [gamma.signingKey.publicJwk]
        : undefined,
};

async function signed(
  overrides: Partial<Parameters<typeof signRequest>[0]> = {},
  key = alpha.signingKey,
): Promise<string> {
  return signRequest(
    { instance: alpha.domain, method: 'POST', path, destination: beta.domain, body, created: T0, ...overrides },
    key,
  );
}

function request(signature: ReceivedRequest['signature'], overrides: Partial<ReceivedRequest> = {}): ReceivedRequest {
  return { method: 'POST', path, signature, body, ...overrides };
}

function assertCode(result: Result<unknown>, code: ErrorCode): void {
  assert.ok(!result.ok, `expected ${code}, got a valid result`);
  assert.equal(result.error.code, code, result.error.message);
}

describe('request signatures', () => {
  it('authenticate the sending instance for this method, path, destination and body', async () => {
    const signature = await signed();
    const verified = await verifyRequest(request(signature), options);
    assert.ok(verified.ok, verified.ok ? '' : verified.error.message);
    assert.equal(verified.value.instance, alpha.domain);
    assert.equal(verified.value.kid, alpha.signingKey.kid);
    assert.deepEqual(verified.value.claims, {
      iss: alpha.domain,
      method: 'POST',
      path,
      destination: beta.domain,
      contentSha256: contentSha256(body),
      created: T0,
      expires: T0 + 60,
    });
    // A GET: empty body, lowercase method normalised, query part of the path.
    const get = await signed({ method: 'get', path: '/federation/v1/keys/bob?x=1', body: new Uint8Array() });
    assert.ok(
      (
        await verifyRequest(
          { method: 'GET', path: '/federation/v1/keys/bob?x=1', signature: get, body: new Uint8Array() },
          options,
        )
      ).ok,
    );
    assert.ok(
      (await verifyRequest(request(` ${signature} `), options)).ok,
      'surrounding spaces of a header value are ignored',
    );
  });

  it('verify the header before any body is read, then the body against the digest it covers', async () => {
    const signature = await signed();
    const header = await verifyRequestHeader({ method: 'POST', path, signature }, options);
    assert.ok(header.ok, header.ok ? '' : header.error.message);
    assert.equal(header.value.instance, alpha.domain);
    assert.ok(checkRequestDigest(header.value, body).ok);
    assertCode(checkRequestDigest(header.value, utf8Encode('another body')), 'request_signature_digest_mismatch');
    // Everything but the digest is refused from the header alone: an unknown signer never gets to send a body.
    assertCode(
      await verifyRequestHeader({ method: 'POST', path, signature: undefined }, options),
      'request_signature_missing',
    );
    assertCode(
      await verifyRequestHeader({ method: 'POST', path, signature: await signed({}, strangerKey) }, options),
      'request_signature_bad',
    );
    assertCode(
      await verifyRequestHeader(
        { method: 'POST', path, signature: await signed({ instance: 'nobody.caliopen.test' }) },
        options,
      ),
      'peer_unknown',
    );
  });

  it('refuses a request without a signature, or with several', async () => {
    assertCode(await verifyRequest(request(undefined), options), 'request_signature_missing');
    assertCode(await verifyRequest(request(''), options), 'request_signature_missing');
    assertCode(await verifyRequest(request([]), options), 'request_signature_missing');
    const signature = await signed();
    assertCode(await verifyRequest(request([signature, signature]), options), 'request_signature_malformed');
  });

  it('refuses a signature for another instance', async () => {
    assertCode(
      await verifyRequest(request(await signed({ destination: gamma.domain })), options),
      'request_signature_wrong_destination',
    );
  });

  it('refuses an expired signature, or one from the future, with clock skew tolerated', async () => {
    const signature = await signed();
    assert.ok((await verifyRequest(request(signature), { ...options, now: T0 + 60 + 59 })).ok);
    assertCode(await verifyRequest(request(signature), { ...options, now: T0 + 60 + 60 }), 'request_signature_expired');
    assert.ok((await verifyRequest(request(signature), { ...options, now: T0 - 60 })).ok);
    assertCode(await verifyRequest(request(signature), { ...options, now: T0 - 61 }), 'request_signature_expired');
    await assert.rejects(signed({ lifetimeSeconds: MAX_REQUEST_SIGNATURE_LIFETIME_SECONDS + 1 }), {
      code: 'request_signature_malformed',
    });
  });

  it('refuses a signature for another method or path, or by a key the feed does not list', async () => {
    const signature = await signed();
    assertCode(await verifyRequest(request(signature, { method: 'PUT' }), options), 'request_signature_bad');
    assertCode(
      await verifyRequest(request(signature, { path: '/federation/v1/inbox?again' }), options),
      'request_signature_bad',
    );
    assertCode(await verifyRequest(request(await signed({}, strangerKey)), options), 'request_signature_bad');
    assertCode(await verifyRequest(request(await signed({}, gamma.signingKey)), options), 'request_signature_bad');
    assertCode(
      await verifyRequest(request(signature), {
        ...options,
        keysOf: () => {
          throw new Error('feed unavailable');
        },
      }),
      'request_signature_bad',
    );
  });

  it('names an instance the feed does not list', async () => {
    assertCode(
      await verifyRequest(request(await signed({ instance: 'unknown.caliopen.test' })), options),
      'peer_unknown',
    );
    assertCode(await verifyRequest(request(await signed()), { ...options, keysOf: () => [] }), 'peer_unknown');
  });

  it('refuses a body that is not the one signed', async () => {
    const signature = await signed();
    const other = body.slice();
    other[5]! ^= 1;
    assertCode(await verifyRequest(request(signature, { body: other }), options), 'request_signature_digest_mismatch');
    assertCode(
      await verifyRequest(request(signature, { body: new Uint8Array() }), options),
      'request_signature_digest_mismatch',
    );
  });

  it('refuses malformed signatures', async () => {
    const key = alpha.signingKey;
    const header = { alg: 'EdDSA', kid: key.kid, typ: REQUEST_JWS_TYPE };
    const claims = {
      iss: alpha.domain,
      method: 'POST',
      path,
      destination: beta.domain,
      contentSha256: contentSha256(body),
      created: T0,
      expires: T0 + 60,
    };
    const cases: [string, string][] = [
      ['not a JWS', 'Signature keyId="x"'],
      ['another type', await signWithHeader({ ...header, typ: 'caliopen-prekey+jws' }, claims, key)],
      ['an extra header member', await signWithHeader({ ...header, iss: alpha.domain }, claims, key)],
      ['lowercase method', await signWithHeader(header, { ...claims, method: 'post' }, key)],
      [
        'absolute URL as path',
        await signWithHeader(header, { ...claims, path: 'https://beta.caliopen.test/federation/v1/inbox' }, key),
      ],
      ['unknown claim', await signWithHeader(header, { ...claims, nonce: 1 }, key)],
      ['window too long', await signWithHeader(header, { ...claims, expires: T0 + 301 }, key)],
      ['digest not base64url', await signWithHeader(header, { ...claims, contentSha256: 'x' }, key)],
      ['too long', 'a'.repeat(5000)],
    ];
    for (const [name, signature] of cases) {
      const result = await verifyRequest(request(signature), options);
      assert.ok(!result.ok, `${name}: accepted`);
      assert.equal(result.error.code, 'request_signature_malformed', `${name}: ${result.error.message}`);
    }
  });

  it('never accepts a signature with one character changed, and never throws on random headers', async () => {
    const signature = await signed();
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: signature.length - 1 }), async (index) => {
        const tampered = flipBase64UrlChar(signature, index);
        fc.pre(tampered !== signature);
        assert.ok(!(await verifyRequest(request(tampered), options)).ok, `accepted with character ${index} changed`);
      }),
      { numRuns: 150 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string({ maxLength: 600 }), fc.array(fc.string(), { maxLength: 3 })),
        async (header) => {
          const result = await verifyRequest(request(header), options);
          assert.ok(!result.ok);
          assert.match(result.error.code, /^(request_signature_|peer_unknown$)/);
        },
      ),
      { numRuns: 200 },
    );
  });
});
