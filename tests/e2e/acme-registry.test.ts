/**
 * Issue #18 item 1, the registry's side of a renewal: an instance with an ACME certificate (Debian's pebble) applies
 * to a real registry, passes its checks and is labelled with that certificate. When the certificate is replaced, the
 * instance presents the new one at once and declares it to the registry (PUT /v1/applications/:id/certificate), which
 * runs its checks again and renews the label with the new digest: the feed lists the instance as it is again.
 */
import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import { createWriteStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { applicantToken, readApplicationState } from '@caliopen/instance/registry-client/application.store.ts';
import { applyToRegistry } from '@caliopen/instance/registry-client/registry-application.ts';
import { type Pebble, pebbleComponent, startPebble } from '../support/engines/pebble.ts';
import { freePort, waitFor } from '../support/net.ts';
import { startTestInstance, type TestInstance } from '../support/instance.ts';
import { startTestRegistry, type TestRegistry } from '../support/registry.ts';
import { tempDir } from '../support/tmp.ts';

const pebbleCheck = pebbleComponent();

function presentedFingerprint(port: number): Promise<{ fingerprint: string; issuer: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'alpha.test', rejectUnauthorized: false }, () => {
      const raw = socket.getPeerCertificate().raw;
      resolve({ fingerprint: createHash('sha256').update(raw).digest('hex'), issuer: new X509Certificate(raw).issuer });
      socket.end();
    });
    socket.on('error', reject);
  });
}

describe.skipIf(pebbleCheck.skip)('an ACME renewal seen from the registry', () => {
  let pebble: Pebble;
  let reg: TestRegistry;
  let inst: TestInstance;
  let httpsPort: number;
  const tmp = tempDir('caliopen-acme-registry-');

  beforeAll(async () => {
    const httpPort = await freePort();
    httpsPort = await freePort();
    pebble = await startPebble({ httpPort });
    const caFile = join(tmp.dir, 'pebble-ca.pem');
    writeFileSync(caFile, pebble.caPem);
    reg = await startTestRegistry({ maintenance: false });
    reg.connect('alpha.test', `127.0.0.1:${httpsPort}`);
    inst = await startTestInstance({
      ...(process.env.ACME_TEST_LOG ? { logTo: createWriteStream(process.env.ACME_TEST_LOG) } : {}),
      env: {
        CALIOPEN_HTTP_PORT: String(httpPort),
        CALIOPEN_HTTPS_PORT: String(httpsPort),
        CALIOPEN_ACME_ENABLED: 'true',
        CALIOPEN_ACME_DIRECTORY_URL: pebble.directoryUrl,
        CALIOPEN_ACME_CA_FILE: caFile,
        CALIOPEN_ACME_CHECK_SECONDS: '1',
        CALIOPEN_FEDERATION_REGISTRY_URL: reg.url,
        CALIOPEN_FEDERATION_REGISTRY_KEYS: (await reg.api('GET', '/v1/keys')).text,
        CALIOPEN_FEDERATION_SYNC_SECONDS: '3600',
      },
    });
  }, 120_000);

  afterAll(async () => {
    await inst?.stop();
    await reg?.stop();
    await pebble?.close();
    tmp.cleanup();
  });

  test('labelled with its ACME certificate, the instance declares its renewed one and the feed follows', async () => {
    await waitFor(async () => (await presentedFingerprint(httpsPort)).issuer.includes('Pebble'), 60_000, 200);
    const first = await presentedFingerprint(httpsPort);

    // Apply with the ACME certificate, pass the real checks, get approved: the feed lists that certificate.
    const applied = await applyToRegistry({
      dataDir: inst.dataDir,
      registry: reg.url,
      jurisdiction: 'FR',
      adminEmail: 'admin@alpha.test',
      yes: true,
      httpsUrl: inst.running.publicUrl!,
    });
    assert.ok(applied.applied);
    if (!applied.applied) return;
    const live = (applied.application as { checks?: { results: { id: string; status: string }[] } }).checks?.results;
    assert.equal(live?.find((c) => c.id === 'tls.certificate.live')?.status, 'pass', JSON.stringify(live));
    for (const name of ['ines', 'oscar']) {
      const auditor = await reg.auditor(name);
      const vote = await reg.api('POST', `/v1/audit/applications/${applied.applicationId}/votes`, {
        token: auditor.token,
        body: { vote: 'approve' },
      });
      assert.equal(vote.status, 200, vote.text);
    }
    const directory = inst.running.services.federation!;
    await directory.sync();
    assert.equal(directory.standing().labelValid, true, JSON.stringify(directory.status()));
    assert.equal(directory.status().ownEntryMismatch, null, 'the feed lists this instance as it is');

    // The certificate is replaced (revoked at the CA: the running instance orders a new one at its next check).
    await inst.running.services.certificates!.revoke(undefined, 4);
    await waitFor(async () => (await presentedFingerprint(httpsPort)).fingerprint !== first.fingerprint, 60_000, 200);
    const second = await presentedFingerprint(httpsPort);
    assert.ok(second.issuer.includes('Pebble'));

    // The instance declares the new certificate to the registry, which checks it again and renews the label with the
    // new digest at once: after a sync the feed lists this instance as it is again.
    await waitFor(
      async () => {
        await directory.sync();
        return directory.status().ownEntryMismatch === null && directory.peer('alpha.test') !== null;
      },
      60_000,
      250,
    );
    assert.equal(directory.peer('alpha.test')?.certificateSha256, second.fingerprint, 'the feed lists the new digest');
    const state = readApplicationState(inst.dataDir)!;
    const token = applicantToken(state, inst.running.services.box);
    const view = await reg.api('GET', `/v1/applications/${state.applicationId}`, { token });
    assert.equal(view.status, 200, view.text);
    assert.equal(view.body.certFingerprint, second.fingerprint, 'the declared certificate is the new one');
    const checks = view.body.checks.results as { id: string; status: string }[];
    assert.equal(checks.find((c) => c.id === 'tls.certificate.live')?.status, 'pass', JSON.stringify(checks));
    assert.equal(directory.standing().labelValid, true);
    const admin = await inst.user('root', 'admin');
    const told = await inst.api('GET', '/api/v1/federation', { token: admin.token });
    assert.equal(told.status, 200, told.text);
    assert.equal(told.body.directory.ownEntryMismatch, null);

    // The registry's side refuses what is not a certificate, and anyone but the applicant.
    const garbage = await reg.api('PUT', `/v1/applications/${state.applicationId}/certificate`, {
      token,
      body: { certificatePem: '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n' },
    });
    assert.equal(garbage.status, 400, garbage.text);
    assert.equal(garbage.body.code, 'certificate_invalid');
    const anonymous = await reg.api('PUT', `/v1/applications/${state.applicationId}/certificate`, {
      body: { certificatePem: 'x' },
    });
    assert.equal(anonymous.status, 401);
  }, 300_000);
});
