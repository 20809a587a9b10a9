/**
 * Shared setup for federation tests with instances in this process: a stand-in peer directory with PeerDirectory's
 * `peer()` shape, listing instances with their real signing keys, certificate fingerprints and HTTPS endpoints (the
 * registry and feed sync are tested in peer-directory.test.ts).
 */
import type { PrivacyIndex } from '@caliopen/federation-protocol';
import type { PeerLookup } from '@caliopen/instance/federation/inbox.routes.ts';
import type { PeerInfo } from '@caliopen/instance/federation/peer-directory.ts';
import type { InstanceIdentity } from '@caliopen/instance/identity/instance-identity.ts';
import type { TestInstance } from './instance.ts';

export const STAND_IN_INSTANCE_PI = 90;
const PI: PrivacyIndex = {
  score: STAND_IN_INSTANCE_PI,
  level: 'sealed',
  factors: [],
  suggestions: [],
  modelVersion: 'test',
} as unknown as PrivacyIndex;

/** PeerDirectory's `peer()` shape, from a table the test controls. */
export class StandInDirectory implements PeerLookup {
  readonly entries = new Map<string, { info: PeerInfo; labelValid: boolean }>();
  /** Lookups of a domain left before its label lapses (the label lapses between queueing and sending). */
  readonly lapseAfter = new Map<string, number>();
  add(identity: Pick<InstanceIdentity, 'domain' | 'tls' | 'signing' | 'encryption'>, publicUrl: string): void {
    const port = new URL(publicUrl).port;
    const info = {
      domain: identity.domain,
      status: 'labelled',
      labelValid: true,
      labelId: `label-${identity.domain}`,
      labelExpiresAt: Math.floor(Date.now() / 1000) + 30 * 86400,
      instancePi: STAND_IN_INSTANCE_PI,
      pi: PI,
      certificateSha256: identity.tls.fingerprintSha256,
      keys: { signing: identity.signing.publicJwk, encryption: identity.encryption.publicJwk },
      signingKeys: [identity.signing.publicJwk],
      endpoints: { federation: `https://127.0.0.1:${port}`, https: `https://127.0.0.1:${port}` },
    } as unknown as PeerInfo;
    this.entries.set(identity.domain, { info, labelValid: true });
  }
  peer(domain: string): PeerInfo | null {
    const entry = this.entries.get(domain);
    if (!entry) return null;
    const left = this.lapseAfter.get(domain);
    if (left !== undefined) {
      if (left <= 0) {
        entry.labelValid = false;
        this.lapseAfter.delete(domain);
      } else this.lapseAfter.set(domain, left - 1);
    }
    return {
      ...entry.info,
      labelValid: entry.labelValid,
      status: entry.labelValid ? 'labelled' : 'revoked',
    } as PeerInfo;
  }
  setLabel(domain: string, valid: boolean): void {
    this.entries.get(domain)!.labelValid = valid;
  }
  start(): void {}
  async stop(): Promise<void> {}
}

/** Lists the instances in the directory and makes each read it at each use (in place of the registry feed). */
export function joinDirectory(
  directory: StandInDirectory,
  members: readonly { instance: TestInstance; identity: InstanceIdentity }[],
): void {
  for (const m of members) directory.add(m.identity, m.instance.running.publicUrl!);
  for (const m of members) (m.instance.running.services as { federation?: unknown }).federation = directory;
}
