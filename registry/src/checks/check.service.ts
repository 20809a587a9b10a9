import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Application, CheckRun, CheckTrigger } from '../applications/application.entity.ts';
import type { RegistryConfig } from '../config/registry-config.ts';
import type { RegistryStorage } from '../storage/registry-storage.port.ts';
import type { Clock } from '@caliopen/instance/shared/clock.ts';
import type { CheckResult, Resolver, VerificationOptions, VerificationTarget } from '../verification/check.types.ts';

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
  ) {}

  async run(app: Application, trigger: CheckTrigger): Promise<CheckRun> {
    const startedAt = this.clock();
    const connect = this.config.checks.connectTo[app.domain];
    const results = await this.runChecks(verificationTarget(app), {
      resolver: this.resolver,
      ...(connect ? { connectTo: parseHostPort(connect) } : {}),
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
