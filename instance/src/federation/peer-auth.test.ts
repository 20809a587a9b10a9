import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type SecureVersion, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { generateCertificate, type TestCertificate } from '../../../tests/support/tls-server.ts';
import { peerCertificateSha256 } from './peer-auth.ts';

/** A TLS server presenting `server` on a loopback port, and a client connecting to it (over `version` if given). */
async function connection(
  server: TestCertificate,
  version?: SecureVersion,
): Promise<{ socket: TLSSocket; close(): void }> {
  const listener = createServer({ cert: server.certPem, key: server.keyPem }, (s) => s.on('error', () => {}));
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const socket = connect({
    host: '127.0.0.1',
    port: (listener.address() as AddressInfo).port,
    rejectUnauthorized: false,
    ...(version ? { minVersion: version, maxVersion: version } : {}),
  });
  return {
    socket,
    close: () => {
      socket.destroy();
      listener.close();
    },
  };
}

/** A client connected to a server presenting `server`, over exactly `version`, once its handshake is done. */
async function clientOver(
  server: TestCertificate,
  version: SecureVersion,
): Promise<{ socket: TLSSocket; close(): void }> {
  const c = await connection(server, version);
  await once(c.socket, 'secureConnect');
  return c;
}

describe('peerCertificateSha256', () => {
  let cert: TestCertificate;
  beforeAll(async () => {
    cert = await generateCertificate({ names: ['alpha.test'] });
  });
  const opened: (() => void)[] = [];
  afterAll(() => {
    for (const close of opened) close();
  });

  test('is the SHA-256 of the peer certificate’s DER, over TLS 1.3 and 1.2', async () => {
    for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
      const c = await clientOver(cert, version);
      opened.push(c.close);
      assert.equal(c.socket.getProtocol(), version);
      assert.equal(peerCertificateSha256(c.socket), cert.fingerprintSha256, version);
      assert.equal(peerCertificateSha256(c.socket), cert.fingerprintSha256, `${version}, asked again`);
    }
  });

  test('reads the certificate once per TLS 1.3 connection, at every call under TLS 1.2 (renegotiation)', async () => {
    const counted = async (version: SecureVersion) => {
      const c = await clientOver(cert, version);
      opened.push(c.close);
      let reads = 0;
      const read = c.socket.getPeerCertificate.bind(c.socket);
      c.socket.getPeerCertificate = ((detailed?: boolean) => {
        reads++;
        return read(detailed as true);
      }) as TLSSocket['getPeerCertificate'];
      for (let i = 0; i < 3; i++) assert.equal(peerCertificateSha256(c.socket), cert.fingerprintSha256);
      return reads;
    };
    assert.equal(await counted('TLSv1.3'), 1);
    assert.equal(await counted('TLSv1.2'), 3);
  });

  test('is null on a socket without TLS or before its handshake', async () => {
    assert.equal(peerCertificateSha256({} as TLSSocket), null);
    const c = await connection(cert);
    try {
      assert.equal(peerCertificateSha256(c.socket), null);
    } finally {
      c.close();
    }
  });
});
