/**
 * Discovery and publication end to end: an instance started with `dns.enabled` answers real DNS queries (UDP and
 * TCP) for its zone — its users' OPENPGPKEY records (RFC 7929), TLSA matching the certificate its public HTTPS face
 * presents, the `_caliopen` discovery record — and serves the same keys by Web Key Directory on that face. The
 * lookups are made as a second instance makes them: its resolver pointed at the first, its WKD client trusting
 * exactly the first's self-signed certificate.
 *
 * The instance is started with startInstance (as startTestInstance does) to hand it a key source: account keys are
 * not built yet, and this is the port they will implement.
 */
import assert from 'node:assert/strict';
import { createHash, type X509Certificate } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { promises as dnsPromises } from 'node:dns';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { calculateJwkThumbprint, type JWK } from 'jose';
import * as openpgp from 'openpgp';
import pino from 'pino';
import { startInstance, type RunningInstance } from '@caliopen/instance/app/instance.app.ts';
import { initInstance } from '@caliopen/instance/app/instance.init.ts';
import { loadConfig } from '@caliopen/instance/config/config.loader.ts';
import { lookupOpenPgpKey, lookupTlsa } from '@caliopen/instance/discovery/dns-key.lookup.ts';
import { openPgpKeyName, wkdHash } from '@caliopen/instance/discovery/key-names.ts';
import { MemoryPublishedKeys } from '@caliopen/instance/discovery/published-keys.memory.ts';
import { lookupWkd } from '@caliopen/instance/discovery/wkd.ts';
import { encodeQuery, tcpQuery, udpQuery } from '../support/dns-client.ts';
import { tempDir } from '../support/tmp.ts';

/** The certificate the public HTTPS face presents. */
function presentedCertificate(port: number): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'alpha.test', rejectUnauthorized: false }, () => {
      const raw = socket.getPeerX509Certificate();
      socket.destroy();
      if (raw) resolve(raw);
      else reject(new Error('no certificate'));
    });
    socket.on('error', reject);
  });
}

describe("an instance publishes its users' keys by DNS and WKD", () => {
  const tmp = tempDir('caliopen-discovery-');
  const keys = new MemoryPublishedKeys();
  let running: RunningInstance;
  let dnsPort: number;
  let httpsPort: number;
  let certPem: string;
  let aliceKey: Uint8Array;

  beforeAll(async () => {
    await initInstance({ domain: 'alpha.test', dataDir: tmp.dir, httpPort: '0' }, () => {});
    const config = loadConfig({
      dataDir: tmp.dir,
      env: {
        CALIOPEN_HTTPS_PORT: '0',
        CALIOPEN_DNS_ENABLED: 'true',
        CALIOPEN_DNS_PORT: '0',
        CALIOPEN_DNS_ADDRESSES: '127.0.0.1,::1',
      },
      overrides: { log: { level: 'silent' } },
    });
    running = await startInstance(config, { logger: pino({ level: 'silent' }), publishedKeys: keys });
    for (const username of ['alice', 'bob'])
      await running.services.accounts.create({ username, password: `pw-${username}-0123456789`, role: 'user' });
    const generated = await openpgp.generateKey({
      type: 'curve25519',
      userIDs: [{ name: 'Alice', email: 'alice@alpha.test' }],
      format: 'binary',
    });
    aliceKey = generated.publicKey;
    keys.set('alice', aliceKey);
    assert.ok(running.dns, 'dns.enabled starts the responder');
    dnsPort = running.dns.udpPort;
    httpsPort = Number(new URL(running.publicUrl!).port);
    certPem = readFileSync(join(tmp.dir, 'keys', 'tls.crt'), 'utf8');
  });
  afterAll(async () => {
    await running?.stop();
    tmp.cleanup();
  });

  it('answers a real OPENPGPKEY query over UDP and TCP with the user key', async () => {
    const name = openPgpKeyName('alice', 'alpha.test');
    for (const reply of [
      await udpQuery(dnsPort, encodeQuery(name, 'UNKNOWN_61')),
      await tcpQuery(running.dns!.tcpPort, encodeQuery(name, 'UNKNOWN_61')),
    ]) {
      assert.equal(reply.rcode, 'NOERROR');
      assert.ok(reply.flag_aa && !reply.flag_tc);
      const record = reply.answers![0] as unknown as { type: string; data: Buffer };
      assert.equal(record.type, 'UNKNOWN_61');
      assert.deepEqual(new Uint8Array(record.data), aliceKey);
      const key = await openpgp.readKey({ binaryKey: new Uint8Array(record.data) });
      assert.deepEqual(key.getUserIDs(), ['Alice <alice@alpha.test>']);
      assert.ok(!key.isPrivate());
    }
    assert.equal(
      (await udpQuery(dnsPort, encodeQuery(openPgpKeyName('bob', 'alpha.test'), 'UNKNOWN_61'))).rcode,
      'NXDOMAIN',
      'bob publishes nothing',
    );
  });

  it('a second instance finds the key through its resolver pointed at the first', async () => {
    const found = await lookupOpenPgpKey('alice@alpha.test', { servers: [`127.0.0.1:${dnsPort}`], timeoutMs: 2000 });
    assert.equal(found.error, null);
    assert.deepEqual(found.key, aliceKey);
    assert.equal(found.dnssecValidated, false, 'the zone is unsigned and the responder is not a validating resolver');
    const missing = await lookupOpenPgpKey('carol@alpha.test', { servers: [`127.0.0.1:${dnsPort}`] });
    assert.deepEqual([missing.key, missing.rcode, missing.error], [null, 'NXDOMAIN', null]);
  });

  it('TLSA matches the certificate the public HTTPS face presents; the discovery record names the instance keys', async () => {
    const presented = await presentedCertificate(httpsPort);
    const spkiSha256 = createHash('sha256')
      .update(presented.publicKey.export({ type: 'spki', format: 'der' }))
      .digest('hex');
    for (const port of [443, 25]) {
      const tlsa = await lookupTlsa('alpha.test', port, { servers: [`127.0.0.1:${dnsPort}`] });
      assert.deepEqual(tlsa.records, [{ usage: 3, selector: 1, matchingType: 1, data: spkiSha256 }]);
    }
    const resolver = new dnsPromises.Resolver({ timeout: 2000, tries: 2 });
    resolver.setServers([`127.0.0.1:${dnsPort}`]);
    const identity = JSON.parse(readFileSync(join(tmp.dir, 'keys', 'identity.json'), 'utf8')) as {
      signing: { publicJwk: JWK };
      encryption: { publicJwk: JWK };
    };
    const [discovery] = await resolver.resolveTxt('_caliopen.alpha.test');
    const sig = await calculateJwkThumbprint(identity.signing.publicJwk);
    const enc = await calculateJwkThumbprint(identity.encryption.publicJwk);
    assert.equal(discovery!.join(''), `v=caliopen1; sig=ed25519:${sig}; enc=x25519:${enc}`);
    assert.deepEqual((await resolver.resolve4('alpha.test')).sort(), ['127.0.0.1']);
    assert.deepEqual(await resolver.resolve6('alpha.test'), ['::1']);
    assert.deepEqual(await resolver.resolveMx('alpha.test'), [{ exchange: 'alpha.test', priority: 10 }]);
  });

  it('serves the same key by WKD on the public face, trusted by exactly its certificate', async () => {
    const found = await lookupWkd('alice@alpha.test', {
      ca: certPem,
      connectTo: { 'alpha.test': `127.0.0.1:${httpsPort}` },
    });
    assert.equal(found.error, null);
    assert.deepEqual(found.key, aliceKey);
    assert.equal(found.url, `https://alpha.test/.well-known/openpgpkey/hu/${wkdHash('alice')}?l=alice`);
    const none = await lookupWkd('bob@alpha.test', {
      ca: certPem,
      connectTo: { 'alpha.test': `127.0.0.1:${httpsPort}` },
    });
    assert.deepEqual([none.key, none.status, none.error], [null, 404, null]);
    const policy = await fetch(`https://127.0.0.1:${httpsPort}/.well-known/openpgpkey/policy`).catch((e: Error) => e);
    assert.ok(policy instanceof Error, 'fetch with the system CAs refuses the self-signed certificate');
  });

  it('garbage at the DNS port does not disturb the instance', async () => {
    const socket = createSocket('udp4');
    for (let i = 0; i < 50; i++)
      socket.send(Buffer.from(Array.from({ length: 40 }, () => Math.floor(Math.random() * 256))), dnsPort, '127.0.0.1');
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.close();
    const reply = await udpQuery(dnsPort, encodeQuery('alpha.test', 'SOA'));
    assert.equal(reply.rcode, 'NOERROR');
    const health = await fetch(`${running.url}/healthz`);
    assert.equal(health.status, 200);
  });

  it('an instance whose DNS port is taken refuses to start, and closes what it had opened', async () => {
    const other = tempDir('caliopen-discovery-busy-');
    try {
      await initInstance({ domain: 'beta.test', dataDir: other.dir, httpPort: '0' }, () => {});
      const config = loadConfig({
        dataDir: other.dir,
        env: { CALIOPEN_HTTPS_PORT: '0', CALIOPEN_DNS_ENABLED: 'true', CALIOPEN_DNS_PORT: String(dnsPort) },
        overrides: { log: { level: 'silent' } },
      });
      await assert.rejects(startInstance(config, { logger: pino({ level: 'silent' }) }), {
        name: 'ConfigError',
        message: new RegExp(`port ${dnsPort} \\(dns\\.port\\) is already in use.*CALIOPEN_DNS_PORT=<port>`),
      });
      // Everything was closed: the same data directory starts cleanly once the port is free.
      const retry = await startInstance(
        { ...config, dns: { ...config.dns, port: 0 } },
        { logger: pino({ level: 'silent' }) },
      );
      assert.ok(retry.dns && retry.dns.udpPort !== dnsPort);
      assert.equal((await udpQuery(retry.dns.udpPort, encodeQuery('beta.test', 'SOA'))).rcode, 'NOERROR');
      await retry.stop();
    } finally {
      other.cleanup();
    }
  });

  it('dns is off by default', () => {
    const config = loadConfig({ dataDir: tmp.dir, env: {} });
    assert.equal(config.dns.enabled, false);
    assert.equal(config.dns.port, 5353);
    assert.deepEqual(config.dns.resolvers, []);
    assert.equal(config.dns.trustAd, false);
  });
});
