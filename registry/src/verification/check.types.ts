import type { Resolution, ResolvableType } from '@caliopen/platform/dns/dns.resolver.ts';

/** The record types the checks look up, and what each resolves to: the platform resolver's (TXT, MX, TLSA). */
export type { Resolution, ResolvableType, ResolvedRecordOf } from '@caliopen/platform/dns/dns.resolver.ts';

/**
 * Automated verification of an applicant or member instance. Each check is repeatable and yields results with an
 * id, a status, points (internet.nl-style weights) and evidence in words. Checks run for real against the instance:
 * its DNS (through a configurable resolver), its live TLS endpoint, its HTTPS well-known paths.
 */
export type CheckStatus = 'pass' | 'fail' | 'notice' | 'info';

export interface CheckResult {
  /** Stable id, e.g. `domain.control`, `tls.certificate.san`, `dns.mx`, `federation.descriptor.keys`. */
  id: string;
  status: CheckStatus;
  /** Points earned (0 unless pass; partial credit allowed for notice). */
  points: number;
  /** Points a pass earns: the weight of the check. */
  maxPoints: number;
  /** A failing mandatory check blocks a label (and its renewal). */
  mandatory: boolean;
  /** What was observed, in words a person can check: "certificate SAN [alpha.test] covers alpha.test". */
  evidence: string;
  checkedAt: string;
}

/** What the registry verifies: the application as submitted, and where to reach the instance. */
export interface VerificationTarget {
  domain: string;
  /** Base URL of the instance's HTTPS endpoint (descriptor, well-known challenge, federation). */
  httpsUrl: string;
  /** The certificate the application declared (PEM). */
  certificatePem: string;
  /** Thumbprints (RFC 7638) of the instance keys the application declared. */
  signingKeyThumbprint: string;
  encryptionKeyThumbprint: string;
  /** Domain-control challenge issued by the registry for this application. */
  challenge: { token: string; expected: string };
  /** Whether the instance declares that it handles email (then MX/SPF/DKIM/DMARC/MTA-STS/TLSA are checked). */
  doesEmail: boolean;
  /** The DKIM selector the instance signs with, when known: `<selector>._domainkey.<domain>` must then exist. */
  dkimSelector?: string;
}

export interface Resolver {
  /** Resolves records of a type; resolves [] for NXDOMAIN/NODATA, throws for a resolver failure (timeout, SERVFAIL). */
  txt(name: string): Promise<string[]>;
  mx(name: string): Promise<{ exchange: string; priority: number }[]>;
  tlsa(name: string): Promise<{ usage: number; selector: number; matchingType: number; data: string }[]>;
  /**
   * Optional: the same lookups with what the answer said about itself. A resolver that can tell whether its upstream
   * validated the answer with DNSSEC (the AD bit) implements it; the checks then credit DANE only for authenticated
   * TLSA records. A resolver without it is treated as never authenticated.
   */
  resolve?<T extends ResolvableType>(name: string, type: T): Promise<Resolution<T>>;
}

export interface VerificationOptions {
  resolver: Resolver;
  /** Where to connect for TLS/HTTPS instead of resolving `domain` (tests and private deployments): host:port. */
  connectTo?: { host: string; port: number };
  now: Date;
  /** Budget of each check (each group of checks sharing one probe), in ms; default 15 000. */
  timeoutMs?: number;
}
