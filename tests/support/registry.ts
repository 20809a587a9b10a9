import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Declaration } from '@caliopen/charter';
import {
  jwkThumbprint,
  signDescriptor,
  type Ed25519PrivateJwk,
  type Ed25519PublicJwk,
  type X25519PublicJwk,
} from '@caliopen/federation-protocol';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import {
  DECLARATION_JWS_TYPE,
  initRegistry,
  loadRegistryConfig,
  startRegistry,
  type RunningRegistry,
  type RunChecks,
} from '@caliopen/registry';
import { CompactSign, importJWK } from 'jose';
import pino from 'pino';
import { type Api, type ApiResponse, jsonApi } from './api-client.ts';
import { generateCertificate } from './tls-server.ts';
import { tempDir } from './tmp.ts';

export type { ApiResponse };

export interface TestRegistry {
  running: RunningRegistry;
  url: string;
  dataDir: string;
  api: Api;
  /** Creates an auditor through the service layer and logs it in over HTTP. */
  auditor(name: string): Promise<{ id: string; token: string; password: string }>;
  /** Where the checks reach `domain` (a test site on loopback). */
  connect(domain: string, hostPort: string): void;
  stop(): Promise<void>;
}

/** A resolver for a world without DNS zones for `.test`: every name is NXDOMAIN (DNS checks report what is missing). */
export const emptyDnsResolver = {
  txt: async () => [],
  mx: async () => [],
  tlsa: async () => [],
};

/**
 * Starts a real registry (embedded engines, fresh data dir, free port) inside this process. Passwords are hashed
 * with cheaper argon2 parameters so that tests stay fast.
 */
export async function startTestRegistry(
  options: {
    clock?: Clock;
    approvals?: number;
    env?: Record<string, string>;
    runChecks?: RunChecks;
    maintenance?: boolean;
    logTo?: NodeJS.WritableStream;
  } = {},
): Promise<TestRegistry> {
  const { dir, cleanup } = tempDir('caliopen-registry-');
  await initRegistry(
    {
      dataDir: dir,
      origin: 'registry.caliopen.test',
      httpPort: '0',
      ...(options.approvals ? { approvals: String(options.approvals) } : {}),
    },
    () => {},
  );
  const config = loadRegistryConfig({
    dataDir: dir,
    env: { CALIOPEN_REGISTRY_LOGIN_RATE_LIMIT: '10000', CALIOPEN_REGISTRY_APPLY_RATE_LIMIT: '10000', ...options.env },
    overrides: { log: { level: 'silent' }, checks: { timeoutMs: 5000, connectTo: {} } },
  });
  const logger = options.logTo ? pino({ level: 'trace' }, options.logTo) : pino({ level: 'silent' });
  const running = await startRegistry(config, {
    logger,
    resolver: emptyDnsResolver,
    passwordHashing: { memoryCost: 4096, timeCost: 1, parallelism: 1 },
    ...(options.maintenance === false ? { maintenance: false } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.runChecks ? { runChecks: options.runChecks } : {}),
  });
  const url = running.url;

  const api = jsonApi(url);

  return {
    running,
    url,
    dataDir: dir,
    api,
    async auditor(name) {
      const password = `pw-${name}-0123456789`;
      const auditor = await running.services.auditors.create(name, password);
      const r = await api('POST', '/v1/auth/login', { body: { name, password } });
      if (r.status !== 200) throw new Error(`login of auditor ${name} failed: ${r.text}`);
      return { id: auditor.id, token: r.body.token as string, password };
    },
    connect(domain, hostPort) {
      running.services.config.checks.connectTo[domain] = hostPort;
    },
    async stop() {
      await running.stop();
      cleanup();
    },
  };
}

/**
 * An applicant instance's public face on loopback, with real keys and a real self-signed certificate: an HTTPS server presenting the certificate, serving the signed federation descriptor at
 * /.well-known/caliopen and the domain-control challenge at /.well-known/caliopen-challenge/<token>.
 */
export interface SiteIdentity {
  signing: { privateJwk: { kty: string; crv: string; x: string; d: string }; thumbprint: string };
  encryption: { publicJwk: X25519PublicJwk; thumbprint: string };
  tls: { certPem: string; keyPem: string; fingerprintSha256: string };
}

/** A self-signed ECDSA P-256 certificate for `domain` (SAN dns), as `caliopen instance init` makes one. */
export async function selfSignedCertificate(
  domain: string,
): Promise<{ certPem: string; keyPem: string; fingerprintSha256: string }> {
  const notBefore = new Date(Date.now() - 60_000);
  const { certPem, keyPem, fingerprintSha256 } = await generateCertificate({
    names: [domain],
    notBefore,
    notAfter: new Date(notBefore.getTime() + 397 * 24 * 3600 * 1000),
  });
  return { certPem, keyPem, fingerprintSha256 };
}

async function siteIdentity(domain: string): Promise<SiteIdentity> {
  const signing = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }) as { x: string; d: string };
  const encryption = generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' }) as { x: string };
  const encryptionJwk = { kty: 'OKP', crv: 'X25519', x: encryption.x } as X25519PublicJwk;
  return {
    signing: {
      privateJwk: { kty: 'OKP', crv: 'Ed25519', x: signing.x, d: signing.d },
      thumbprint: jwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: signing.x } as Ed25519PublicJwk),
    },
    encryption: { publicJwk: encryptionJwk, thumbprint: jwkThumbprint(encryptionJwk) },
    tls: await selfSignedCertificate(domain),
  };
}

export interface TestInstanceSite {
  domain: string;
  identity: SiteIdentity;
  /** The HTTPS base URL the application declares (the domain, with the loopback port). */
  httpsUrl: string;
  /** host:port the registry connects to instead of resolving the domain. */
  connectTo: string;
  signingJwk: Ed25519PublicJwk;
  encryptionJwk: X25519PublicJwk;
  publishChallenge(token: string, value: string): void;
  /** Serve another certificate from now on (what a misconfigured or hijacked instance does). */
  serveCertificate(certPem: string, keyPem: string): void;
  /** A new signing key from now on (identity, `signingJwk` and the served descriptor, signed at `now`). */
  rotateSigningKey(now?: Date): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestInstanceSite(domain: string): Promise<TestInstanceSite> {
  const identity = await siteIdentity(domain);
  const signingJwk = { kty: 'OKP', crv: 'Ed25519', x: identity.signing.privateJwk.x } as Ed25519PublicJwk;
  const encryptionJwk = identity.encryption.publicJwk;
  const challenges = new Map<string, string>();
  let descriptor = '';
  const server: Server = createServer({ cert: identity.tls.certPem, key: identity.tls.keyPem }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/.well-known/caliopen') {
      res.writeHead(200, { 'content-type': 'application/jose' }).end(descriptor);
      return;
    }
    const m = /^\/\.well-known\/caliopen-challenge\/([A-Za-z0-9_-]+)$/.exec(path);
    if (m && challenges.has(m[1]!)) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(challenges.get(m[1]!));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const httpsUrl = `https://${domain}:${port}`;
  const signServedDescriptor = async (signing: Ed25519PublicJwk, now: Date) => {
    descriptor = await signDescriptor(
      {
        version: 1,
        domain,
        keys: { signing, encryption: encryptionJwk },
        endpoints: { https: httpsUrl },
        certificateSha256: identity.tls.fingerprintSha256,
        issuedAt: Math.floor(now.getTime() / 1000) - 30,
      },
      identity.signing.privateJwk as unknown as Ed25519PrivateJwk,
    );
  };
  await signServedDescriptor(signingJwk, new Date());
  const site: TestInstanceSite = {
    domain,
    identity,
    httpsUrl,
    connectTo: `127.0.0.1:${port}`,
    signingJwk,
    encryptionJwk,
    publishChallenge: (token, value) => challenges.set(token, value),
    serveCertificate: (cert, key) => server.setSecureContext({ cert, key }),
    async rotateSigningKey(now = new Date()) {
      const next = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }) as { x: string; d: string };
      const jwk = { kty: 'OKP', crv: 'Ed25519', x: next.x } as Ed25519PublicJwk;
      identity.signing = {
        privateJwk: { kty: 'OKP', crv: 'Ed25519', x: next.x, d: next.d },
        thumbprint: jwkThumbprint(jwk),
      };
      site.signingJwk = jwk;
      await signServedDescriptor(jwk, now);
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return site;
}

/** A compact JWS of `{ declaration, nonce, iat }` as `caliopen instance apply` makes it. Every part can be overridden. */
export async function signDeclaration(
  privateJwk: { x: string; d: string },
  payload: { declaration: unknown; nonce?: string; iat?: number; [extra: string]: unknown },
  header: { typ?: string; kid?: string; alg?: string } = {},
): Promise<string> {
  const key = await importJWK({ kty: 'OKP', crv: 'Ed25519', x: privateJwk.x, d: privateJwk.d }, 'EdDSA');
  const body = { nonce: randomBytes(18).toString('base64url'), iat: Math.floor(Date.now() / 1000), ...payload };
  const thumbprint = jwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: privateJwk.x } as Ed25519PublicJwk);
  return new CompactSign(new TextEncoder().encode(JSON.stringify(body)))
    .setProtectedHeader({
      alg: header.alg ?? 'EdDSA',
      typ: header.typ ?? DECLARATION_JWS_TYPE,
      kid: header.kid ?? thumbprint,
    })
    .sign(key);
}

/** The declaration of a site: charter 1.0, every clause met, for the site's domain. */
export function declarationFor(site: TestInstanceSite, over: Partial<Declaration> = {}): Declaration {
  return {
    charterVersion: '1.0',
    domain: site.domain,
    jurisdiction: 'DE',
    retention: { messagesDays: null, logsDays: 7, backupsDays: 30, deletedAccountDays: 7 },
    logging: { ipAddresses: false, messageMetadata: false, retentionDays: 7 },
    keyStorageOptions: ['client', 'server'],
    noResaleOfUserData: true,
    noProfilingOrAds: true,
    spamHandling: { contentScanning: 'local' },
    adminContact: { name: 'Admins', email: `admin@${site.domain}` },
    incidentDisclosureDays: 3,
    doesEmail: false,
    ...over,
  };
}

/** A complete, valid application body for a site, signed at `now`. */
export async function applicationFor(
  site: TestInstanceSite,
  options: { now?: Date; nonce?: string; listed?: boolean; declaration?: Partial<Declaration> } = {},
): Promise<Record<string, unknown>> {
  const declaration = await signDeclaration(site.identity.signing.privateJwk as { x: string; d: string }, {
    declaration: declarationFor(site, options.declaration),
    ...(options.nonce ? { nonce: options.nonce } : {}),
    iat: Math.floor((options.now ?? new Date()).getTime() / 1000),
  });
  return {
    domain: site.domain,
    endpoints: { https: site.httpsUrl },
    keys: { signing: site.signingJwk, encryption: site.encryptionJwk },
    certificatePem: site.identity.tls.certPem,
    declaration,
    ...(options.listed === undefined ? {} : { listed: options.listed }),
  };
}
