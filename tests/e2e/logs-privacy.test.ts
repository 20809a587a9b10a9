/**
 * Privacy by construction: at the most verbose log level, a full session of logins, two-factor enrolment, password
 * changes and failures leaves no password, token, TOTP secret or code in the logs.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'vitest';
import { generate } from 'otplib';
import { startTestInstance } from '../support/instance.ts';

test('logs (at trace level) hold no passwords, tokens, TOTP secrets or codes', async () => {
  const sink = new PassThrough();
  let logs = '';
  sink.on('data', (d) => (logs += d));
  const inst = await startTestInstance({ logTo: sink });
  const secrets: string[] = [];
  try {
    const u = await inst.user('lea');
    secrets.push(u.password, u.token, u.token.slice(4));
    const begin = await inst.api('POST', '/api/v1/me/totp', { token: u.token });
    secrets.push(begin.body.secret);
    const code = await generate({ secret: begin.body.secret });
    secrets.push(code);
    assert.equal((await inst.api('POST', '/api/v1/me/totp/confirm', { token: u.token, body: { code } })).status, 204);
    await inst.api('POST', '/api/v1/auth/login', {
      body: { username: 'lea', password: 'a-wrong-password-xyz', totp: '123456' },
    });
    secrets.push('a-wrong-password-xyz');
    await inst.api('POST', '/api/v1/me/password', {
      token: u.token,
      body: { currentPassword: u.password, newPassword: 'the-next-password-42' },
    });
    secrets.push('the-next-password-42');
    await inst.api('POST', '/api/v1/auth/login', {
      rawBody: '{"username":"lea","password":"broken-json-secret',
      headers: { 'content-type': 'application/json' },
    });
    secrets.push('broken-json-secret');
  } finally {
    await inst.stop();
  }
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(logs.includes('"msg":"login"'), 'the log captured the session (the check is not vacuous)');
  assert.ok(logs.includes('request completed'));
  for (const s of secrets) assert.ok(!logs.includes(s), `a secret (${s.slice(0, 3)}…) appears in the logs`);
});
