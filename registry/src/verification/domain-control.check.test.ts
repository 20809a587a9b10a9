import { afterAll, beforeAll, beforeEach, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { runChecks } from './run-checks.ts';
import { generateCertificate } from '../../../tests/support/tls-server.ts';
import { CHALLENGE, DOMAIN, resultOf, startConfiguredInstance } from './target.fixture.ts';
import type { ConfiguredInstance } from './target.fixture.ts';

const CHALLENGE_NAME = `_caliopen-challenge.${DOMAIN}`;
const CHALLENGE_PATH = `/.well-known/caliopen-challenge/${CHALLENGE.token}`;

describe('domain.control', () => {
  let instance: ConfiguredInstance;
  beforeAll(async () => {
    instance = await startConfiguredInstance();
  });
  afterAll(() => instance.close());
  beforeEach(() => instance.reset());

  const check = async () => resultOf(await runChecks(instance.target, instance.options()), 'domain.control');

  it('passes by DNS alone, saying so', async () => {
    instance.tls.routes.delete(CHALLENGE_PATH);
    const result = await check();
    assert.equal(result.status, 'pass', result.evidence);
    assert.equal(result.points, 10);
    assert.match(result.evidence, new RegExp(`^proved by DNS: TXT ${CHALLENGE_NAME} carries the expected value`));
  });

  it('passes by HTTPS alone (trailing newline ignored, as in ACME), saying so', async () => {
    delete instance.dns.zone[CHALLENGE_NAME];
    const result = await check();
    assert.equal(result.status, 'pass', result.evidence);
    assert.match(
      result.evidence,
      new RegExp(`^proved by HTTPS: GET https://${DOMAIN}:\\d+${CHALLENGE_PATH} returned the expected value`),
    );
  });

  it('fails when the challenge is missing both ways, with what to publish', async () => {
    delete instance.dns.zone[CHALLENGE_NAME];
    instance.tls.routes.delete(CHALLENGE_PATH);
    const result = await check();
    assert.equal(result.status, 'fail');
    assert.equal(result.points, 0);
    assert.equal(result.mandatory, true);
    assert.match(
      result.evidence,
      new RegExp(`DNS: no TXT record at ${CHALLENGE_NAME}; publish ${CHALLENGE_NAME}\\. TXT "${CHALLENGE.expected}"`),
    );
    assert.match(
      result.evidence,
      new RegExp(`HTTPS: GET https://${DOMAIN}:\\d+${CHALLENGE_PATH} answered 404; serve "${CHALLENGE.expected}"`),
    );
  });

  it('fails when both answers are wrong, quoting what was found', async () => {
    instance.dns.zone[CHALLENGE_NAME] = [{ type: 'TXT', data: 'caliopen-challenge=stale' }];
    instance.tls.routes.set(CHALLENGE_PATH, `prefix ${CHALLENGE.expected}`);
    const result = await check();
    assert.equal(result.status, 'fail');
    assert.match(
      result.evidence,
      /TXT _caliopen-challenge\.alpha\.caliopen\.test holds 1 value\(s\), none the expected one \("caliopen-challenge=stale"\)/,
    );
    assert.match(result.evidence, new RegExp(`returned "prefix ${CHALLENGE.expected}", not the expected value`));
  });

  it('does not accept the value from a server that presents another certificate, and sends it nothing', async () => {
    delete instance.dns.zone[CHALLENGE_NAME];
    const impostor = await generateCertificate({ names: [DOMAIN] });
    instance.tls.setCertificate(impostor);
    instance.tls.requests.length = 0;
    const result = await check();
    assert.equal(result.status, 'fail');
    assert.match(
      result.evidence,
      new RegExp(
        `presented certificate SHA-256 ${impostor.fingerprintSha256}, not the declared ${instance.certificate.fingerprintSha256}; nothing was sent`,
      ),
    );
    assert.deepEqual(instance.tls.requests, [], 'no HTTP request reached the impostor');
  });

  it('still passes by HTTPS when the DNS answers are garbage, and says what DNS did', async () => {
    instance.dns.behaviour = 'garbage';
    const result = await check();
    assert.equal(result.status, 'pass', result.evidence);
    assert.match(result.evidence, /^proved by HTTPS/);
  });

  it('fails on DNS garbage and an oversized HTTPS answer, naming both', async () => {
    instance.dns.behaviour = 'garbage';
    instance.tls.routes.set(CHALLENGE_PATH, 'x'.repeat(10_000));
    const result = await check();
    assert.equal(result.status, 'fail');
    assert.match(
      result.evidence,
      /DNS: the TXT lookup of _caliopen-challenge\.alpha\.caliopen\.test failed \(Undecodable DNS answer/,
    );
    assert.match(result.evidence, /more than the 4096 accepted|longer than the 4096 bytes accepted/);
  });
});
