import assert from 'node:assert/strict';
import { test } from 'vitest';
import { generateEd25519KeyPair } from '@caliopen/federation-protocol';
import { CompactSign, importJWK } from 'jose';
import { DECLARATION_JWS_TYPE, verifyDeclarationJws } from './declaration-jws.ts';

const instance = generateEd25519KeyPair();
const stranger = generateEd25519KeyPair();

async function sign(payload: unknown, header: Record<string, unknown> = {}, key = instance): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: 'EdDSA', typ: DECLARATION_JWS_TYPE, kid: key.kid, ...header })
    .sign(await importJWK({ ...key.privateJwk }, 'EdDSA'));
}

const good = { declaration: { charterVersion: '1.0' }, nonce: 'abcdefghijklmnop', iat: 1_770_000_000 };
const code = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'accepted';
  } catch (e) {
    return (e as { code: string }).code;
  }
};

test('a declaration signed by the application key verifies and yields { declaration, nonce, iat }', async () => {
  assert.deepEqual(await verifyDeclarationJws(await sign(good), instance.publicJwk, instance.kid), good);
  assert.deepEqual(
    await verifyDeclarationJws(await sign(good, { kid: undefined }), instance.publicJwk, instance.kid),
    good,
    'kid is optional',
  );
});

test('forgeries and malformed declarations are refused with their code', async () => {
  const jws = await sign(good);
  const [h, , s] = jws.split('.');
  const forged = `${h}.${Buffer.from(JSON.stringify({ ...good, nonce: 'zzzzzzzzzzzzzzzz' })).toString('base64url')}.${s}`;
  assert.equal(await code(verifyDeclarationJws(forged, instance.publicJwk, instance.kid)), 'declaration_bad_signature');
  assert.equal(
    await code(
      verifyDeclarationJws(await sign(good, { kid: stranger.kid }, stranger), instance.publicJwk, instance.kid),
    ),
    'declaration_bad_signature',
  );
  assert.equal(
    await code(
      verifyDeclarationJws(await sign(good, { kid: instance.kid }, stranger), instance.publicJwk, instance.kid),
    ),
    'declaration_bad_signature',
  );
  assert.equal(
    await code(verifyDeclarationJws(await sign(good, { typ: 'JWT' }), instance.publicJwk, instance.kid)),
    'declaration_malformed',
  );
  assert.equal(await code(verifyDeclarationJws('a.b', instance.publicJwk, instance.kid)), 'declaration_malformed');
  assert.equal(
    await code(verifyDeclarationJws(`${'a'.repeat(40_000)}.b.c`, instance.publicJwk, instance.kid)),
    'declaration_malformed',
  );
  for (const payload of [
    { ...good, extra: 1 },
    { ...good, nonce: 'short' },
    { ...good, nonce: 'has spaces in it!!' },
    { ...good, iat: '1770000000' },
    { ...good, iat: -1 },
    { ...good, declaration: [] },
    { nonce: good.nonce, iat: good.iat },
    'a string',
  ]) {
    assert.equal(
      await code(verifyDeclarationJws(await sign(payload), instance.publicJwk, instance.kid)),
      'declaration_malformed',
      JSON.stringify(payload),
    );
  }
});
