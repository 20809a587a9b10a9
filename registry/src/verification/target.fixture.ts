import { generateKeyPairSync } from 'node:crypto';
import {
  DESCRIPTOR_WELL_KNOWN_PATH,
  generateEd25519KeyPair,
  jwkThumbprint,
  signDescriptor,
} from '@caliopen/federation-protocol';
import type { Ed25519KeyPair, InstanceDescriptor, X25519PublicJwk } from '@caliopen/federation-protocol';
import { startDnsServer } from '../../../tests/support/dns-server.ts';
import type { TestDnsServer, Zone } from '../../../tests/support/dns-server.ts';
import { generateCertificate, startTlsServer } from '../../../tests/support/tls-server.ts';
import type { TestCertificate, TestTlsServer } from '../../../tests/support/tls-server.ts';
import type { CheckResult, VerificationOptions, VerificationTarget } from './check.types.ts';
import { discoveryRecordValue } from './dns-configuration.check.ts';
import { DnsPacketResolver } from '@caliopen/platform/dns/dns.resolver.ts';

/**
 * For the verification tests: an instance configured the way the registry expects, for real — an authoritative DNS
 * server with its records, an HTTPS server with its certificate, its signed descriptor and the challenge answer —
 * and the application (`target`) that declares it. Tests then break one thing and look at the evidence.
 */

export const DOMAIN = 'alpha.caliopen.test';
export const CHALLENGE = { token: 'tok_5f3a9c1e', expected: 'caliopen-challenge=8d4a1f0b6c2e' };

export interface InstanceKeys {
  signing: Ed25519KeyPair;
  encryptionJwk: X25519PublicJwk;
  encryptionThumbprint: string;
}

export function instanceKeys(): InstanceKeys {
  const { x } = generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' });
  const encryptionJwk: X25519PublicJwk = { kty: 'OKP', crv: 'X25519', x: x as string };
  return { signing: generateEd25519KeyPair(), encryptionJwk, encryptionThumbprint: jwkThumbprint(encryptionJwk) };
}

export interface ConfiguredInstance {
  dns: TestDnsServer;
  tls: TestTlsServer;
  certificate: TestCertificate;
  keys: InstanceKeys;
  /** What the application declares (doesEmail true, with a DKIM selector). */
  target: VerificationTarget;
  resolver: DnsPacketResolver;
  options(overrides?: Partial<VerificationOptions>): VerificationOptions;
  /** The zone of a correctly configured instance (fresh copy). */
  goodZone(): Zone;
  /** Signs a descriptor for these keys (or others) and serves it. */
  serveDescriptor(overrides?: Partial<InstanceDescriptor>, keys?: InstanceKeys): Promise<string>;
  /** Puts everything back as configured. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

export async function startConfiguredInstance(): Promise<ConfiguredInstance> {
  const certificate = await generateCertificate({ names: [DOMAIN] });
  const keys = instanceKeys();
  const dns = await startDnsServer();
  const tls = await startTlsServer({ domain: DOMAIN, certificate });
  const resolver = new DnsPacketResolver({ host: dns.host, port: dns.port, timeoutMs: 3000 });
  const target: VerificationTarget = {
    domain: DOMAIN,
    httpsUrl: tls.url,
    certificatePem: certificate.certPem,
    signingKeyThumbprint: keys.signing.kid,
    encryptionKeyThumbprint: keys.encryptionThumbprint,
    challenge: { ...CHALLENGE },
    doesEmail: true,
    dkimSelector: 'cal1',
  };
  const goodZone = (): Zone => ({
    [DOMAIN]: [
      { type: 'A', data: '127.0.0.1' },
      { type: 'MX', data: { preference: 10, exchange: `mail.${DOMAIN}` } },
      { type: 'TXT', data: 'v=spf1 mx -all' },
      { type: 'TXT', data: 'google-site-verification=unrelated' },
    ],
    [`_caliopen.${DOMAIN}`]: [{ type: 'TXT', data: discoveryRecordValue(keys.signing.kid, keys.encryptionThumbprint) }],
    [`_caliopen-challenge.${DOMAIN}`]: [{ type: 'TXT', data: CHALLENGE.expected }],
    [`_dmarc.${DOMAIN}`]: [
      { type: 'TXT', data: `v=DMARC1; p=reject; adkim=s; aspf=s; rua=mailto:postmaster@${DOMAIN}` },
    ],
    [`cal1._domainkey.${DOMAIN}`]: [
      { type: 'TXT', data: ['v=DKIM1; k=ed25519; ', 'p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo='] },
    ],
    [`_mta-sts.${DOMAIN}`]: [{ type: 'TXT', data: 'v=STSv1; id=20260101' }],
    [`_443._tcp.${DOMAIN}`]: [
      { type: 'TLSA', data: { usage: 3, selector: 1, matchingType: 1, certificate: certificate.spkiSha256 } },
    ],
    [`_25._tcp.mail.${DOMAIN}`]: [
      { type: 'TLSA', data: { usage: 3, selector: 1, matchingType: 1, certificate: certificate.spkiSha256 } },
    ],
  });

  const serveDescriptor = async (
    overrides: Partial<InstanceDescriptor> = {},
    by: InstanceKeys = keys,
  ): Promise<string> => {
    const descriptor: InstanceDescriptor = {
      version: 1,
      domain: DOMAIN,
      keys: { signing: by.signing.publicJwk, encryption: by.encryptionJwk },
      endpoints: { https: `https://${DOMAIN}`, smtp: `mail.${DOMAIN}:25` },
      certificateSha256: certificate.fingerprintSha256,
      issuedAt: Math.floor(Date.now() / 1000) - 60,
      ...overrides,
    };
    const jws = await signDescriptor(descriptor, by.signing.privateJwk);
    tls.routes.set(DESCRIPTOR_WELL_KNOWN_PATH, { body: jws, headers: { 'content-type': 'application/jose' } });
    return jws;
  };

  const reset = async () => {
    dns.zone = goodZone();
    dns.behaviour = 'normal';
    dns.authenticatedData = true;
    tls.setCertificate(certificate);
    tls.routes.clear();
    tls.routes.set(`/.well-known/caliopen-challenge/${CHALLENGE.token}`, `${CHALLENGE.expected}\n`);
    await serveDescriptor();
  };
  await reset();

  return {
    dns,
    tls,
    certificate,
    keys,
    target,
    resolver,
    goodZone,
    serveDescriptor,
    reset,
    options: (overrides = {}) => ({
      resolver,
      connectTo: { host: tls.host, port: tls.port },
      now: new Date(),
      timeoutMs: 5000,
      ...overrides,
    }),
    close: async () => {
      await Promise.all([dns.close(), tls.close()]);
    },
  };
}

/** The result of check `id`, failing the test if there is none. */
export function resultOf(results: readonly CheckResult[], id: string): CheckResult {
  const found = results.filter((result) => result.id === id);
  if (found.length !== 1)
    throw new Error(`expected one result for ${id}, got ${found.length}: ${results.map((r) => r.id).join(', ')}`);
  return found[0]!;
}
