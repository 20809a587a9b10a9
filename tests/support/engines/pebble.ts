import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { freePort } from '../net.ts';
import { realComponent } from '../real-component.ts';
import { type SpawnedServer, startSpawnedServer } from '../spawned-server.ts';
import { tempDir } from '../tmp.ts';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/**
 * Debian's pebble (Let's Encrypt's test ACME CA) on loopback, for the ACME tests: its directory served over TLS with a
 * certificate from a throwaway CA made here (`caPem`, what the instance is told to trust for the directory), its
 * names resolved by pebble-challtestsrv's mock DNS (every A query answers 127.0.0.1, so HTTP-01 reaches the instance
 * on `httpPort`). Challenges are really validated (PEBBLE_VA_ALWAYS_VALID=0) without pebble's random sleeps.
 * `stop()` then `start()` again keeps the ports (a CA outage and its return); pebble keeps nothing across a restart
 * (new roots, accounts made again by the client).
 */
export interface Pebble {
  directoryUrl: string;
  /** The CA that signed pebble's own TLS certificate (trust it for the directory and the management interface). */
  caPem: string;
  /** The root that signs the certificates pebble issues (changes at each start). */
  issuingRoot(): Promise<string>;
  /** What pebble says of a certificate it issued: 'Valid' or 'Revoked'. */
  certificateStatus(serialHex: string): Promise<string>;
  start(): Promise<void>;
  /** Stops pebble (the DNS mock stays). */
  stop(): Promise<void>;
  /** Stops everything and removes the temp dir. */
  close(): Promise<void>;
}

export function pebbleComponent(): { skip: boolean; path: string } {
  return realComponent('pebble', 'pebble');
}

export async function startPebble(options: { httpPort: number; validitySeconds?: number }): Promise<Pebble> {
  const pebbleBin = pebbleComponent().path;
  const challBin = realComponent('pebble-challtestsrv', 'pebble').path;
  if (!pebbleBin || !challBin) throw new Error('pebble is not installed: apt-get install -y pebble');
  const tmp = tempDir('caliopen-pebble-');
  const tls = await loopbackCertificate();
  writeFileSync(join(tmp.dir, 'cert.pem'), tls.certPem);
  writeFileSync(join(tmp.dir, 'key.pem'), tls.keyPem, { mode: 0o600 });
  const [listen, management, tlsPort, dnsPort, challManagement] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${listen}`,
      managementListenAddress: `127.0.0.1:${management}`,
      certificate: join(tmp.dir, 'cert.pem'),
      privateKey: join(tmp.dir, 'key.pem'),
      httpPort: options.httpPort,
      tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
      ...(options.validitySeconds ? { certificateValidityPeriod: options.validitySeconds } : {}),
    },
  };
  writeFileSync(join(tmp.dir, 'pebble.json'), JSON.stringify(config));

  // The mock DNS: A answers 127.0.0.1, no AAAA (the instance listens on IPv4 loopback); nothing else is served.
  const dns = spawn(
    challBin,
    [
      '-dns01',
      `127.0.0.1:${dnsPort}`,
      '-http01',
      '',
      '-https01',
      '',
      '-tlsalpn01',
      '',
      '-management',
      `127.0.0.1:${challManagement}`,
      '-defaultIPv4',
      '127.0.0.1',
      '-defaultIPv6',
      '',
    ],
    { stdio: 'ignore' },
  );
  const killDns = () => dns.kill('SIGKILL');
  process.once('exit', killDns);

  const get = (port: number, path: string) => httpsGet(port, path, tls.caPem);
  let server: SpawnedServer | null = null;
  const start = async () => {
    server = await startSpawnedServer({
      binary: pebbleBin,
      args: ['-config', join(tmp.dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dnsPort}`, '-strict=false'],
      env: {
        ...process.env,
        PEBBLE_VA_NOSLEEP: '1',
        PEBBLE_VA_ALWAYS_VALID: '0',
        PEBBLE_WFE_NONCEREJECT: '0',
        PEBBLE_AUTHZREUSE: '0',
      },
      keepChars: 8000,
      ready: async () => (await get(listen, '/dir').catch(() => ({ status: 0 }))).status === 200,
      timeoutMs: 20_000,
      pollMs: 50,
      exitedEarly: `pebble exited early (port ${listen})`,
      notReady: `pebble did not serve its directory on port ${listen} within 20 s`,
      cleanup: () => {},
    });
  };
  const stop = async () => {
    await server?.stop();
    server = null;
  };
  await start().catch(async (e: unknown) => {
    killDns();
    tmp.cleanup();
    throw e;
  });
  return {
    directoryUrl: `https://127.0.0.1:${listen}/dir`,
    caPem: tls.caPem,
    async issuingRoot() {
      const r = await get(management, '/roots/0');
      if (r.status !== 200) throw new Error(`pebble /roots/0 answered ${r.status}`);
      return r.body;
    },
    async certificateStatus(serialHex) {
      const r = await get(management, `/cert-status-by-serial/${serialHex}`);
      if (r.status !== 200) throw new Error(`pebble cert-status answered ${r.status}: ${r.body}`);
      return (JSON.parse(r.body) as { Status: string }).Status;
    },
    start,
    stop,
    async close() {
      await stop();
      process.off('exit', killDns);
      dns.kill('SIGTERM');
      tmp.cleanup();
    },
  };
}

function httpsGet(port: number, path: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca, servername: 'localhost', timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const pemKey = async (key: webcrypto.CryptoKey) =>
  `-----BEGIN PRIVATE KEY-----\n${Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key))
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trimEnd()}\n-----END PRIVATE KEY-----\n`;

/** A throwaway CA and, signed by it, a certificate for localhost and 127.0.0.1 (pebble's listeners). */
async function loopbackCertificate(): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const notBefore = new Date(Date.now() - 3600_000);
  const notAfter = new Date(Date.now() + 7 * 24 * 3600_000);
  const caKeys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=Caliopen test CA for pebble',
    notBefore,
    notAfter,
    signingAlgorithm: alg,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '02',
    subject: 'CN=localhost',
    issuer: ca.subject,
    notBefore,
    notAfter,
    signingAlgorithm: alg,
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: 'localhost' },
        { type: 'ip', value: '127.0.0.1' },
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  return { caPem: ca.toString('pem'), certPem: cert.toString('pem'), keyPem: await pemKey(keys.privateKey) };
}
