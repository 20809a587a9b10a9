import { setTimeout as sleep } from 'node:timers/promises';
import { X509Certificate } from 'node:crypto';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import type { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import type { EventPublisher } from '../shared/event-bus.ts';
import { type InstanceIdentity, leafCertificatePem, replaceTlsCertificate } from '../identity/instance-identity.ts';
import type { AcmeChallengeBoard } from './acme-challenge.board.ts';
import { AcmeAccountStore } from './acme-account.store.ts';
import { type AcmeDirectory, newAccountKey, orderCertificate, revokeCertificate } from './certificate.acme-client.ts';

/** What the certificates domain tells the others (the composition root reloads the HTTPS face, the feed check...). */
export type CertificateEvents = {
  /** The instance certificate was replaced (the files and the loaded identity already hold the new one). */
  'certificate.renewed': { fingerprintSha256: string; previousSha256: string; notAfter: Date };
  /** A renewal round failed after all its attempts, the first since the last success (an operator notice is due). */
  'certificate.renewal-failed': { attempts: number; error: string; notAfter: Date };
};

export interface RenewalSettings extends AcmeDirectory {
  checkSeconds: number;
  retry: { attempts: number; baseDelayMs: number; maxDelayMs: number };
}

export interface RenewalDeps {
  settings: RenewalSettings;
  domain: string;
  dataDir: string;
  box: SecretBox;
  clock: Clock;
  board: AcmeChallengeBoard;
  identity: () => Promise<InstanceIdentity>;
  events: EventPublisher<CertificateEvents>;
  /** Each failed attempt (metric caliopen_acme_errors_total). */
  onAttemptFailed: () => void;
  logger: { info(o: object, m: string): void; warn(o: object, m: string): void; error(o: object, m: string): void };
}

/** Renewal is due from 2/3 of the certificate's lifetime (Let's Encrypt's advice: 30 days before a 90-day expiry). */
export const RENEW_AT_FRACTION = 2 / 3;

export function renewalDueAt(certPem: string): Date {
  const cert = new X509Certificate(leafCertificatePem(certPem));
  const from = Date.parse(cert.validFrom);
  return new Date(from + (Date.parse(cert.validTo) - from) * RENEW_AT_FRACTION);
}

/**
 * Keeps the instance certificate from an ACME CA: obtained when the current one is not from it (the self-signed
 * certificate `init` made), renewed from 2/3 of its lifetime. A round tries `retry.attempts` times with exponential
 * backoff; a failed round is published (`certificate.renewal-failed`) and the next check tries again. Rounds never
 * overlap. The new key is sealed by the master key (identity.json), like the account key (acme.json).
 */
export class CertificateRenewal {
  private readonly accounts: AcmeAccountStore;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private readonly abort = new AbortController();
  /** A round failed since the last success: the operators were told once, not at every check. */
  private failing = false;

  constructor(private readonly deps: RenewalDeps) {
    this.accounts = new AcmeAccountStore(deps.dataDir, deps.box);
  }

  /** Whether the current certificate is to be (re)placed now. */
  async due(): Promise<boolean> {
    const { tls } = await this.deps.identity();
    if (this.accounts.lastCertificate() !== tls.fingerprintSha256) return true;
    return this.deps.clock().getTime() >= renewalDueAt(tls.certPem).getTime();
  }

  /** Checks now, then every `checkSeconds`. */
  start(): void {
    const tick = () => {
      void this.check().finally(() => {
        if (!this.abort.signal.aborted) this.timer = setTimeout(tick, this.deps.settings.checkSeconds * 1000);
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One check: renews when due. Resolves what happened; never throws. */
  check(): Promise<'renewed' | 'not-due' | 'failed' | 'stopped'> {
    if (this.running) return this.running as Promise<'renewed' | 'not-due' | 'failed' | 'stopped'>;
    const round = (async () => {
      try {
        if (!(await this.due())) return 'not-due' as const;
        return await this.renewWithRetries();
      } catch (err) {
        this.deps.logger.error({ err: message(err) }, 'certificate check failed');
        return 'failed' as const;
      }
    })();
    this.running = round;
    return round.finally(() => {
      this.running = null;
    });
  }

  private async renewWithRetries(): Promise<'renewed' | 'failed' | 'stopped'> {
    const { retry } = this.deps.settings;
    let last = '';
    for (let attempt = 1; attempt <= retry.attempts; attempt++) {
      if (this.abort.signal.aborted) return 'stopped';
      try {
        await this.renewOnce();
        this.failing = false;
        return 'renewed';
      } catch (err) {
        last = message(err);
        this.deps.onAttemptFailed();
        this.deps.logger.warn({ attempt, of: retry.attempts, err: last }, 'ACME certificate order failed');
        if (attempt < retry.attempts) {
          const delay = Math.min(retry.baseDelayMs * 2 ** (attempt - 1), retry.maxDelayMs);
          try {
            await sleep(delay, undefined, { signal: this.abort.signal });
          } catch {
            return 'stopped';
          }
        }
      }
    }
    const { tls } = await this.deps.identity();
    this.deps.logger.error({ attempts: retry.attempts, err: last, notAfter: tls.notAfter }, 'certificate not renewed');
    if (this.failing) return 'failed';
    this.failing = true;
    await this.deps.events.publish('certificate.renewal-failed', {
      attempts: retry.attempts,
      error: last,
      notAfter: tls.notAfter,
    });
    return 'failed';
  }

  private async renewOnce(): Promise<void> {
    const { settings, domain, board } = this.deps;
    const accountKey = await this.accounts.accountKey(settings.directoryUrl, newAccountKey);
    const issued = await orderCertificate(settings, accountKey, domain, board);
    const identity = await this.deps.identity();
    const previousSha256 = identity.tls.fingerprintSha256;
    const tls = replaceTlsCertificate(this.deps.dataDir, this.deps.box, issued);
    // The loaded identity is shared by every part of the process: updated in place, then told.
    Object.assign(identity.tls, tls);
    this.accounts.recordCertificate(tls.fingerprintSha256);
    this.deps.logger.info(
      { fingerprint: tls.fingerprintSha256, notAfter: tls.notAfter, previous: previousSha256 },
      'instance certificate renewed',
    );
    await this.deps.events.publish('certificate.renewed', {
      fingerprintSha256: tls.fingerprintSha256,
      previousSha256,
      notAfter: tls.notAfter,
    });
  }

  /**
   * Revokes a certificate this instance obtained (the current one by default), e.g. after a key compromise. Revoking
   * the current one makes the next check (of whichever process runs the renewal) order a new one.
   */
  async revoke(certPem?: string, reason = 0): Promise<void> {
    const { settings } = this.deps;
    const { tls } = await this.deps.identity();
    const pem = certPem ?? tls.certPem;
    const accountKey = await this.accounts.accountKey(settings.directoryUrl, newAccountKey);
    await revokeCertificate(settings, accountKey, pem, reason);
    if (leafCertificatePem(pem) === leafCertificatePem(tls.certPem)) this.accounts.recordCertificate(null);
    this.deps.logger.info({ reason }, 'certificate revoked');
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
