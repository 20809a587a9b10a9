import 'reflect-metadata';
import { createHash, webcrypto } from 'node:crypto';
import { createServer } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Server } from 'node:https';
import type { Socket } from 'node:net';
import type { SecureVersion, TLSSocket } from 'node:tls';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/**
 * An HTTPS server (node:https) for tests, on a free loopback port, with a given certificate or one generated here
 * with @peculiar/x509, serving the routes the test sets (the instance's well-known paths). It records every request
 * with the SNI it came with.
 */

export interface TestCertificate {
  certPem: string;
  keyPem: string;
  /** SHA-256 of the DER, lowercase hex. */
  fingerprintSha256: string;
  /** SHA-256 of the SubjectPublicKeyInfo, lowercase hex (what TLSA 3 1 1 carries). */
  spkiSha256: string;
}

export type TestKeyType = 'P-256' | 'P-384' | 'P-521' | 'Ed25519' | 'RSA-1024' | 'RSA-2048';

export interface CertificateOptions {
  /** DNS names of the SAN (default ['localhost']); an empty list leaves the SAN out. */
  names?: string[];
  commonName?: string;
  notBefore?: Date;
  notAfter?: Date;
  /** Default P-256. */
  key?: TestKeyType;
}

const DAY_MS = 24 * 3600 * 1000;

function keyAlgorithm(key: TestKeyType): {
  generate: Parameters<typeof webcrypto.subtle.generateKey>[0];
  sign: object;
} {
  switch (key) {
    case 'P-256':
    case 'P-384':
    case 'P-521': {
      const hash = key === 'P-256' ? 'SHA-256' : key === 'P-384' ? 'SHA-384' : 'SHA-512';
      const algorithm = { name: 'ECDSA', namedCurve: key, hash };
      return { generate: algorithm, sign: algorithm };
    }
    case 'Ed25519':
      return { generate: { name: 'Ed25519' }, sign: { name: 'Ed25519' } };
    case 'RSA-1024':
    case 'RSA-2048': {
      const algorithm = {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: key === 'RSA-1024' ? 1024 : 2048,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      };
      return { generate: algorithm, sign: algorithm };
    }
  }
}

/** A self-signed server certificate (P-256 unless asked otherwise). */
export async function generateCertificate(options: CertificateOptions = {}): Promise<TestCertificate> {
  const names = options.names ?? ['localhost'];
  const algorithm = keyAlgorithm(options.key ?? 'P-256');
  const keys = (await webcrypto.subtle.generateKey(algorithm.generate, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const notBefore = options.notBefore ?? new Date(Date.now() - DAY_MS);
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + 90 * DAY_MS);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
  ];
  if (names.length > 0)
    extensions.push(new x509.SubjectAlternativeNameExtension(names.map((value) => ({ type: 'dns' as const, value }))));
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: `01${Buffer.from(webcrypto.getRandomValues(new Uint8Array(15))).toString('hex')}`,
    name: `CN=${options.commonName ?? names[0] ?? 'test'}`,
    notBefore,
    notAfter,
    signingAlgorithm: algorithm.sign as Parameters<
      typeof x509.X509CertificateGenerator.createSelfSigned
    >[0]['signingAlgorithm'],
    keys,
    extensions,
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trimEnd()}\n-----END PRIVATE KEY-----\n`;
  return {
    certPem: certificate.toString('pem'),
    keyPem,
    fingerprintSha256: createHash('sha256').update(Buffer.from(certificate.rawData)).digest('hex'),
    spkiSha256: createHash('sha256').update(Buffer.from(certificate.publicKey.rawData)).digest('hex'),
  };
}

export type RouteAnswer = string | { status?: number; body?: string | Buffer; headers?: Record<string, string> };
export type Route = RouteAnswer | ((request: IncomingMessage) => RouteAnswer);

export interface TlsRequestLog {
  method: string;
  path: string;
  host: string | undefined;
  /** The SNI the client sent, or undefined. */
  servername: string | undefined;
}

export interface TestTlsServer {
  readonly host: string;
  readonly port: number;
  /** `https://<domain>:<port>`: the base URL an application would declare (reach it through `connectTo`). */
  readonly url: string;
  certificate: TestCertificate;
  /** Path (without query) to answer; anything else is a 404. Mutable. */
  routes: Map<string, Route>;
  readonly requests: TlsRequestLog[];
  /** Serves another certificate from the next handshake on. */
  setCertificate(certificate: TestCertificate): void;
  close(): Promise<void>;
}

export async function startTlsServer(
  options: {
    domain?: string;
    certificate?: TestCertificate;
    routes?: Record<string, Route>;
    minVersion?: SecureVersion;
    maxVersion?: SecureVersion;
  } = {},
): Promise<TestTlsServer> {
  const domain = options.domain ?? 'localhost';
  let certificate = options.certificate ?? (await generateCertificate({ names: [domain] }));
  const routes = new Map<string, Route>(Object.entries(options.routes ?? {}));
  const requests: TlsRequestLog[] = [];
  const sockets = new Set<Socket>();
  const versions = {
    ...(options.minVersion ? { minVersion: options.minVersion } : {}),
    ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
  };
  const server: Server = createServer(
    { cert: certificate.certPem, key: certificate.keyPem, ...versions },
    (request, response) => {
      const path = (request.url ?? '/').split('?')[0]!;
      const servername = (request.socket as TLSSocket & { servername?: string | false }).servername;
      requests.push({
        method: request.method ?? '',
        path,
        host: request.headers.host,
        servername: servername || undefined,
      });
      const route = routes.get(path);
      if (route === undefined) {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      let answer: RouteAnswer;
      try {
        answer = typeof route === 'function' ? route(request) : route;
      } catch {
        response.writeHead(500).end();
        return;
      }
      if (typeof answer === 'string') answer = { body: answer };
      response
        .writeHead(answer.status ?? 200, { 'content-type': 'text/plain', ...answer.headers })
        .end(answer.body ?? '');
    },
  );
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the TLS test server has no port');
  const setCertificate = (next: TestCertificate) => {
    certificate = next;
    server.setSecureContext({ cert: next.certPem, key: next.keyPem, ...versions });
  };
  return {
    host: '127.0.0.1',
    port: address.port,
    url: `https://${domain}:${address.port}`,
    get certificate() {
      return certificate;
    },
    set certificate(next: TestCertificate) {
      setCertificate(next);
    },
    routes,
    requests,
    setCertificate,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
