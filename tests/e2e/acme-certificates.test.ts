/**
 * Issue #18 item 1: the instance certificate from an ACME CA — Debian's pebble on loopback, HTTP-01 answered on the
 * instance's HTTP port, the challenge really validated. Obtained at start, renewed at 2/3 of its lifetime and presented
 * by the running HTTPS face without a restart, revoked, and renewed across a CA outage (retries, an operator notice,
 * then success once the CA is back). The keys stay sealed at rest.
 */
import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { verifyDescriptor } from '@caliopen/federation-protocol';
import { initInstance } from '@caliopen/instance/app/instance.init.ts';
import { buildServices } from '@caliopen/instance/app/instance.services.ts';
import { ConfigError, loadConfig } from '@caliopen/instance/config/config.loader.ts';
import { type Pebble, pebbleComponent, startPebble } from '../support/engines/pebble.ts';
import { freePort, waitFor } from '../support/net.ts';
import { startTestInstance, type TestInstance } from '../support/instance.ts';
import { tempDir } from '../support/tmp.ts';
import { caliopen } from '../support/process.ts';
import { RawSmtpClient } from '../support/smtp-client.ts';

const pebbleCheck = pebbleComponent();
/** Pebble's certificates live 3 days here: 2/3 of that is well before any session of the test expires. */
const VALIDITY_S = 3 * 24 * 3600;

interface Presented {
  fingerprint: string;
  pem: string;
  issuer: string;
  serial: string;
  notBefore: Date;
  /** Whether the chain verifies against `ca` for the name alpha.test (when `ca` is given). */
  authorized: boolean;
  authorizationError: string | null;
}

/** The certificate the HTTPS face presents to a new connection for alpha.test. */
function presented(port: number, ca?: string): Promise<Presented> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: '127.0.0.1', port, servername: 'alpha.test', rejectUnauthorized: false, ...(ca ? { ca } : {}) },
      () => {
        const peer = socket.getPeerCertificate();
        const x = new X509Certificate(peer.raw);
        resolve({
          fingerprint: createHash('sha256').update(peer.raw).digest('hex'),
          pem: x.toString(),
          issuer: x.issuer,
          serial: x.serialNumber,
          notBefore: new Date(x.validFrom),
          authorized: socket.authorized,
          authorizationError: socket.authorizationError ? String(socket.authorizationError) : null,
        });
        socket.end();
      },
    );
    socket.on('error', reject);
  });
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? Number.NaN : Number(line.split(' ').at(-1));
}

describe.skipIf(pebbleCheck.skip)('ACME certificates from pebble', () => {
  let pebble: Pebble;
  let inst: TestInstance;
  let port: number;
  let selfSigned: string;
  let first: Presented;
  let second: Presented;
  let third: Presented;
  /** The ACME settings, as the environment gives them to the instance and to the CLI. */
  let acmeEnv: Record<string, string>;
  /** The instance's clock: real time until a test moves it to a certificate's renewal point. */
  let fixedNow: number | null = null;
  const clock = () => new Date(fixedNow ?? Date.now());
  const tmp = tempDir('caliopen-acme-test-');

  beforeAll(async () => {
    const httpPort = await freePort();
    pebble = await startPebble({ httpPort, validitySeconds: VALIDITY_S });
    const caFile = join(tmp.dir, 'pebble-ca.pem');
    writeFileSync(caFile, pebble.caPem);
    acmeEnv = {
      CALIOPEN_ACME_ENABLED: 'true',
      CALIOPEN_ACME_DIRECTORY_URL: pebble.directoryUrl,
      CALIOPEN_ACME_CA_FILE: caFile,
      CALIOPEN_ACME_EMAIL: 'postmaster@alpha.test',
      CALIOPEN_ACME_CHECK_SECONDS: '1',
      CALIOPEN_ACME_RETRY_ATTEMPTS: '2',
      CALIOPEN_ACME_RETRY_BASE_DELAY_MS: '50',
    };
    inst = await startTestInstance({
      clock,
      ...(process.env.ACME_TEST_LOG ? { logTo: createWriteStream(process.env.ACME_TEST_LOG) } : {}),
      env: {
        ...acmeEnv,
        CALIOPEN_HTTP_PORT: String(httpPort),
        CALIOPEN_SMTP_ENABLED: 'true',
        // A real port: the descriptor names it (port 0 would not be a valid endpoint).
        CALIOPEN_SMTP_PORT: String(await freePort()),
      },
    });
    port = Number(new URL(inst.running.publicUrl!).port);
  }, 120_000);

  afterAll(async () => {
    await inst?.stop();
    await pebble?.close();
    tmp.cleanup();
  });

  test('at start the self-signed certificate is replaced by one the CA issued after an HTTP-01 check, without a restart', async () => {
    // What `init` made, read before the order completes or after: the file keeps the history honest either way.
    selfSigned = createHash('sha256')
      .update(new X509Certificate(readFileSync(join(inst.dataDir, 'keys', 'tls.crt'))).raw)
      .digest('hex');
    await waitFor(async () => (await presented(port)).issuer.includes('Pebble'), 60_000, 200);
    first = await presented(port, await pebble.issuingRoot());
    assert.ok(first.authorized, `the chain verifies to pebble's root for alpha.test: ${first.authorizationError}`);
    assert.notEqual(first.fingerprint, selfSigned);
    assert.equal(
      new URL(inst.running.publicUrl!).port,
      String(port),
      'the same listener (no restart) presents the new certificate',
    );

    // The descriptor names the certificate now presented; the files hold it; the keys are sealed at rest.
    const descriptor = await fetchDescriptor(port);
    const verified = await verifyDescriptor(descriptor, {
      expectedDomain: 'alpha.test',
      now: Math.floor(Date.now() / 1000),
    });
    assert.ok(verified.ok);
    if (verified.ok) assert.equal(verified.value.descriptor.certificateSha256, first.fingerprint);
    const identityFile = readFileSync(join(inst.dataDir, 'keys', 'identity.json'), 'utf8');
    const acmeFile = readFileSync(join(inst.dataDir, 'keys', 'acme.json'), 'utf8');
    const identity = await inst.running.services.identity();
    assert.equal(identity.tls.fingerprintSha256, first.fingerprint);
    assert.ok(!identityFile.includes('PRIVATE KEY') && !acmeFile.includes('PRIVATE KEY'), 'no key in clear at rest');
    assert.ok(!identityFile.includes(identity.tls.keyPem.split('\n')[1]!));
    assert.match(JSON.parse(acmeFile).accounts[pebble.directoryUrl].keySealed, /^v1\./);
    assert.equal(await metric(inst.url, 'caliopen_certificate_renewals_total'), 1);
    const expiry = await metric(inst.url, 'caliopen_certificate_expiry_timestamp_seconds');
    assert.equal(expiry, identity.tls.notAfter.getTime() / 1000);
  }, 240_000);

  test('the challenge route answers only tokens of an order in progress, and hostile tokens get nothing', async () => {
    for (const token of ['unknown-token', 'a'.repeat(300), '..%2F..%2Fetc%2Fpasswd', '%00', 'x'.repeat(90)]) {
      const r = await fetch(`${inst.url}/.well-known/acme-challenge/${token}`);
      // A path too long for the router is not this route at all (the web app answers it with its page).
      const type = r.headers.get('content-type') ?? '';
      assert.ok(r.status !== 200 || type.startsWith('text/html'), `${token}: ${r.status} ${type}`);
      if (type.startsWith('text/plain')) assert.equal(await r.text(), 'no such challenge\n');
    }
  });

  test('at 2/3 of its lifetime the certificate is renewed and presented by the running face; the old one can be revoked', async () => {
    fixedNow = first.notBefore.getTime() + (VALIDITY_S * 1000 * 7) / 10;
    await waitFor(async () => (await presented(port)).fingerprint !== first.fingerprint, 60_000, 200);
    second = await presented(port, await pebble.issuingRoot());
    assert.ok(second.authorized, String(second.authorizationError));
    assert.equal(await metric(inst.url, 'caliopen_certificate_renewals_total'), 2);
    const verified = await verifyDescriptor(await fetchDescriptor(port), {
      expectedDomain: 'alpha.test',
      now: Math.floor(fixedNow / 1000),
    });
    assert.ok(verified.ok && verified.value.descriptor.certificateSha256 === second.fingerprint);
    // SMTP's STARTTLS offers the new certificate too, without a restart.
    const smtp = await RawSmtpClient.connect(inst.running.smtp!.port);
    assert.equal((await smtp.read())?.code, 220);
    await smtp.command('EHLO mail.sender.example');
    const secure = await smtp.startTls({ ca: await pebble.issuingRoot(), servername: 'alpha.test' });
    assert.equal(createHash('sha256').update(secure.getPeerCertificate().raw).digest('hex'), second.fingerprint);
    secure.destroy();

    // The superseded certificate is revoked at the CA (RFC 5280 reason 4), which then lists it so.
    assert.equal(await pebble.certificateStatus(first.serial.toLowerCase()), 'Valid');
    await inst.running.services.certificates!.revoke(first.pem, 4);
    assert.equal(await pebble.certificateStatus(first.serial.toLowerCase()), 'Revoked');
    assert.equal(await pebble.certificateStatus(second.serial.toLowerCase()), 'Valid');
  }, 240_000);

  test('with the CA down a renewal retries, the admins are told once, and it succeeds when the CA is back', async () => {
    const admin = await inst.user('operator', 'admin');
    const errorsBefore = await metric(inst.url, 'caliopen_acme_errors_total');
    await pebble.stop();
    fixedNow = second.notBefore.getTime() + (VALIDITY_S * 1000 * 7) / 10;

    const subject = 'The instance certificate could not be renewed';
    let notices: any[] = [];
    await waitFor(
      async () => {
        notices = (await mailbox(admin.token)).filter((m) => m.subject === subject);
        return notices.length > 0;
      },
      60_000,
      250,
    );
    assert.ok((await metric(inst.url, 'caliopen_acme_errors_total')) >= errorsBefore + 2, 'each attempt is counted');
    assert.equal((await presented(port)).fingerprint, second.fingerprint, 'the current certificate stays in place');
    // Several more failed rounds pass (one a second): still one notice.
    const errorsNow = await metric(inst.url, 'caliopen_acme_errors_total');
    await waitFor(async () => (await metric(inst.url, 'caliopen_acme_errors_total')) >= errorsNow + 4, 60_000, 200);
    assert.equal((await mailbox(admin.token)).filter((m) => m.subject === subject).length, 1);
    assert.ok(notices[0].tags.includes('notice'));

    await pebble.start();
    await waitFor(async () => (await presented(port)).fingerprint !== second.fingerprint, 60_000, 200);
    third = await presented(port, await pebble.issuingRoot());
    assert.ok(third.authorized, `issued by the restarted CA: ${third.authorizationError}`);
    assert.equal(await metric(inst.url, 'caliopen_certificate_renewals_total'), 3);
  }, 300_000);

  test('caliopen instance certificate-revoke revokes the current certificate, and the running instance replaces it', async () => {
    const bad = caliopen(['instance', 'certificate-revoke', '--data-dir', inst.dataDir, '--reason', 'whim'], {
      env: acmeEnv,
    });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--reason must be one of/);
    const off = caliopen(['instance', 'certificate-revoke', '--data-dir', inst.dataDir]);
    assert.equal(off.code, 2, 'without ACME settings there is nothing to revoke');
    assert.match(off.stderr, /ACME is off/);

    assert.equal(await pebble.certificateStatus(third.serial.toLowerCase()), 'Valid');
    const r = caliopen(['instance', 'certificate-revoke', '--data-dir', inst.dataDir, '--reason', 'keyCompromise'], {
      env: acmeEnv,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`Certificate ${third.fingerprint} revoked`));
    assert.equal(await pebble.certificateStatus(third.serial.toLowerCase()), 'Revoked');
    await waitFor(async () => (await presented(port)).fingerprint !== third.fingerprint, 60_000, 200);
    const fourth = await presented(port, await pebble.issuingRoot());
    assert.ok(fourth.authorized, String(fourth.authorizationError));
  }, 240_000);

  async function mailbox(token: string): Promise<any[]> {
    const out: any[] = [];
    const discussions = (await inst.api('GET', '/api/v1/discussions?limit=200', { token })).body.items as any[];
    for (const d of discussions)
      out.push(
        ...((await inst.api('GET', `/api/v1/discussions/${d.id}/messages?limit=200`, { token })).body.items as any[]),
      );
    return out;
  }
});

test('init --acme refuses bad settings with a clear message', async () => {
  const { dir, cleanup } = tempDir('caliopen-acme-init-');
  try {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ acme: true, acmeDirectory: 'http://ca.example/dir' }, /must be an https:\/\/ URL/],
      [{ acme: true, acmeEmail: 'not an address' }, /must be an email address/],
      [{ acme: true, acmeCaFile: join(dir, 'missing.pem') }, /does not exist/],
      [{ acmeDirectory: 'https://ca.example/dir' }, /go with --acme/],
      [{ acme: true, cert: 'c.pem', key: 'k.pem' }, /leave --cert and --key out/],
    ];
    for (const [opts, message] of bad)
      await assert.rejects(
        initInstance({ domain: 'alpha.test', dataDir: dir, ...opts }, () => {}),
        message,
      );
    await initInstance({ domain: 'alpha.test', dataDir: dir, acme: true, acmeEmail: 'ops@alpha.test' }, () => {});
    const config = JSON.parse(readFileSync(join(dir, 'caliopen.json'), 'utf8'));
    assert.deepEqual(config.acme, { enabled: true, email: 'ops@alpha.test' });

    // The same settings from the environment are checked at start, naming the setting.
    const settings: [Record<string, string>, RegExp][] = [
      [{ CALIOPEN_ACME_DIRECTORY_URL: 'http://ca.example/dir' }, /acme\.directoryUrl|CALIOPEN_ACME_DIRECTORY_URL/],
      [{ CALIOPEN_ACME_CHECK_SECONDS: '0' }, /acme\.checkSeconds|CALIOPEN_ACME_CHECK_SECONDS/],
      [{ CALIOPEN_ACME_RETRY_ATTEMPTS: 'many' }, /CALIOPEN_ACME_RETRY_ATTEMPTS/],
    ];
    for (const [env, message] of settings)
      assert.throws(
        () => loadConfig({ dataDir: dir, env }),
        (e: Error) => e instanceof ConfigError && message.test(e.message),
      );
    const notPem = join(dir, 'not-a-ca.pem');
    writeFileSync(notPem, 'hello');
    await assert.rejects(
      buildServices(loadConfig({ dataDir: dir, env: { CALIOPEN_ACME_CA_FILE: notPem } }), {
        open: { queue: false, search: false },
      }),
      /acme\.caFile \(CALIOPEN_ACME_CA_FILE\): .* holds no PEM certificate/,
    );
  } finally {
    cleanup();
  }
});

function fetchDescriptor(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/.well-known/caliopen', servername: 'alpha.test', rejectUnauthorized: false },
      (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve(body));
      },
    );
    req.on('error', reject);
    req.end();
  });
}
