/**
 * The registry's logs, at trace level, through a whole application: no applicant token, auditor password or session
 * token, signed declaration or private key material ever reaches them.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'vitest';
import { applicationFor, startTestInstanceSite, startTestRegistry } from '../support/registry.ts';

test('no secret of applicants or auditors reaches the registry logs', async () => {
  let logs = '';
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs += String(chunk);
      done();
    },
  });
  const site = await startTestInstanceSite('quiet.test');
  const reg = await startTestRegistry({ maintenance: false, approvals: 1, logTo: sink });
  try {
    reg.connect(site.domain, site.connectTo);
    const auditor = await reg.auditor('hush');
    const body = await applicationFor(site);
    const applied = await reg.api('POST', '/v1/applications', { body });
    assert.equal(applied.status, 201, applied.text);
    site.publishChallenge(applied.body.challenge.token, applied.body.challenge.value);
    await reg.api('POST', `/v1/applications/${applied.body.id}/verify`, { token: applied.body.token });
    const voted = await reg.api('POST', `/v1/audit/applications/${applied.body.id}/votes`, {
      token: auditor.token,
      body: { vote: 'approve' },
    });
    assert.equal(voted.body.status, 'approved', voted.text);
    await reg.api('POST', '/v1/auth/login', { body: { name: 'hush', password: 'a-wrong-password-0' } });

    assert.match(logs, /application received/, 'the logs do record the events');
    assert.match(logs, /"url":"\/v1\/applications"/);
    const secrets: Record<string, string> = {
      'applicant token': applied.body.token,
      'auditor session token': auditor.token,
      'auditor password': auditor.password,
      'wrong password': 'a-wrong-password-0',
      'signed declaration': String(body.declaration),
      'instance private key': site.identity.signing.privateJwk.d,
    };
    for (const [what, value] of Object.entries(secrets))
      assert.ok(!logs.includes(value), `${what} appears in the logs`);
    for (const key of (await reg.running.services.keys.records()).map((k) => k.privateSealed))
      assert.ok(!logs.includes(key));
  } finally {
    await reg.stop();
    await site.stop();
  }
});
