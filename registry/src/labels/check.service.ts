import { randomUUID } from 'node:crypto';
import { lookup as dnsLookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import type { Application, CheckRun, CheckTrigger } from './application.entity.ts';
import type { RegistryConfig } from '../config/registry-config.ts';
import type { RegistryStorage } from '../database/registry-storage.port.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import { isPublicAddress } from '@caliopen/platform/net/public-address.policy.ts';
import type { CheckResult, Resolver, VerificationOptions, VerificationTarget } from '../verification/check.types.ts';

/** Resolves a host name to its addresses (node:dns by default; injectable for tests). */
export type Lookup = (host: string) => Promise<{ address: string }[]>;
const systemLookup: Lookup = (host) => dnsLookup(host, { all: true, verbatim: true });

/** The automated checks, as the registry runs them (registry/src/verification/run-checks.ts). */
export type RunChecks = (target: VerificationTarget, options: VerificationOptions) => Promise<CheckResult[]>;

export function parseHostPort(text: string): { host: string; port: number } {
  const colon = text.lastIndexOf(':');
  const host = text.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(text.slice(colon + 1)) };
}

/** The DNS server the checks ask: configured, else the first nameserver of /etc/resolv.conf, else 127.0.0.1:53. */
export function dnsServerFrom(config: RegistryConfig): { host: string; port: number } {
  if (config.checks.dnsServer) return parseHostPort(config.checks.dnsServer);
  try {
    const line = readFileSync('/etc/resolv.conf', 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .find((l) => /^nameserver\s+\S+/.test(l));
    if (line) return { host: line.split(/\s+/)[1]!, port: 53 };
  } catch {
    // no resolv.conf: fall through
  }
  return { host: '127.0.0.1', port: 53 };
}

/** Where the live checks of an application go, built from what the application declared. */
export function verificationTarget(app: Application): VerificationTarget {
  return {
    domain: app.domain,
    httpsUrl: app.endpoints.https,
    certificatePem: app.certificatePem,
    signingKeyThumbprint: app.keyThumbprints.signing,
    encryptionKeyThumbprint: app.keyThumbprints.encryption,
    challenge: { token: app.challenge.token, expected: app.challenge.value },
    doesEmail: app.declaration.doesEmail,
  };
}

/** Runs the automated checks against an application's instance and records the run. */
export class CheckService {
  constructor(
    private readonly storage: RegistryStorage,
    private readonly runChecks: RunChecks,
    private readonly resolver: Resolver,
    private readonly config: RegistryConfig,
    private readonly clock: Clock,
    private readonly lookup: Lookup = systemLookup,
  ) {}

  /**
   * Where the live checks connect. An operator's `connectTo` entry wins. Otherwise the endpoint's host is resolved
   * once and the checks connect to that address (no second DNS answer can swap it: DNS rebinding); a host that
   * resolves to a loopback or private address is refused unless the operator allows private targets.
   */
  private async target(app: Application): Promise<{ connectTo?: { host: string; port: number }; refused?: string }> {
    const configured = this.config.checks.connectTo[app.domain];
    if (configured) return { connectTo: parseHostPort(configured) };
    const url = new URL(app.endpoints.https);
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const addresses = await this.lookup(host).catch(() => []);
    if (addresses.length === 0) return {};
    const forbidden = addresses.map((a) => a.address).filter((a) => !isPublicAddress(a));
    if (forbidden.length > 0 && !this.config.checks.allowPrivateTargets) {
      return {
        refused: `${host} resolves to ${forbidden.join(', ')}, which is not a public address: the registry does not connect there`,
      };
    }
    return { connectTo: { host: addresses[0]!.address, port: Number(url.port || 443) } };
  }

  async run(app: Application, trigger: CheckTrigger): Promise<CheckRun> {
    const startedAt = this.clock();
    const where = await this.target(app);
    const results: CheckResult[] = where.refused
      ? [
          {
            id: 'network.target',
            status: 'fail',
            points: 0,
            maxPoints: 0,
            mandatory: true,
            evidence: where.refused,
            checkedAt: startedAt.toISOString(),
          },
        ]
      : await this.runChecks(verificationTarget(app), {
          resolver: this.resolver,
          ...(where.connectTo ? { connectTo: where.connectTo } : {}),
          now: startedAt,
          timeoutMs: this.config.checks.timeoutMs,
        });
    const run: CheckRun = {
      id: randomUUID(),
      applicationId: app.id,
      domain: app.domain,
      trigger,
      startedAt,
      finishedAt: this.clock(),
      results,
      mandatoryPassed: results.every((r) => !r.mandatory || r.status !== 'fail'),
    };
    await this.storage.checkRuns.add(run);
    return run;
  }

  async latest(applicationId: string): Promise<CheckRun | null> {
    return (await this.storage.checkRuns.listByApplication(applicationId, 1))[0] ?? null;
  }
}
