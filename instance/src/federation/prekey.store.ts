import {
  DEFAULT_PREKEY_GRACE_SECONDS,
  generatePrekey,
  planPrekeyRotation,
  signPrekey,
  type Ed25519KeyPair,
  type Prekey,
  type PrekeyPrivate,
  type PrekeyRotationPolicy,
} from '@caliopen/federation-protocol';
import type { Logger } from 'pino';
import type { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import type { InstanceIdentity } from '../identity/instance-identity.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import type { PrekeyRepository, StoredPrekey } from './prekey.repository.ts';

/**
 * This instance's prekeys (SPEC.md §7): X25519 keys signed by the instance signing key, rotated by the library's plan
 * (`planPrekeyRotation`), published at `GET /federation/v1/prekeys`. Kept in the instance's storage
 * (prekey.repository.ts), shared by every process: the one that rotates first stores the successor in its slot, the
 * others publish and open that one. Private halves are sealed with the master key (SecretBox, purpose bound to the
 * kid). A private half past its window plus the grace period is deleted: from then on an envelope sealed to it cannot
 * be opened here (forward secrecy). Backups older than the grace period must not keep it either (SPEC.md §7).
 */

export interface PrekeyStoreOptions {
  repository: PrekeyRepository;
  box: SecretBox;
  identity: Pick<InstanceIdentity, 'domain' | 'signing'>;
  clock: Clock;
  policy?: PrekeyRotationPolicy;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** How often rotate() runs once started (default 5 minutes). */
  intervalMs?: number;
}

const purpose = (kid: string) => `federation-prekey:${kid}`;

/** The instance signing key in the shape the protocol library signs with. */
export function signingKeyOf(identity: Pick<InstanceIdentity, 'signing'>): Ed25519KeyPair {
  return {
    kid: identity.signing.thumbprint,
    publicJwk: identity.signing.publicJwk as Ed25519KeyPair['publicJwk'],
    privateJwk: identity.signing.privateJwk as Ed25519KeyPair['privateJwk'],
  };
}

export class PrekeyStore {
  /** What the storage held at the last read (rotate() reads it again; a kid not in it is looked up once more). */
  private held: StoredPrekey[] = [];
  private timer: NodeJS.Timeout | null = null;
  private rotating: Promise<void> | null = null;
  /**
   * Private halves opened since they were stored, by kid: unsealed (and imported into WebCrypto, envelope.ts) once,
   * not per envelope. One goes when its half is deleted or past its window plus grace.
   */
  private readonly opened = new Map<string, PrekeyPrivate>();

  constructor(private readonly options: PrekeyStoreOptions) {}

  private nowSeconds(): number {
    return Math.floor(this.options.clock().getTime() / 1000);
  }

  /**
   * Applies the rotation plan now, on what the storage holds: generates and signs a successor when needed (stored
   * only if no other process filled its slot first), deletes the private halves past their window plus grace, drops
   * entries that are neither published nor holding a private half. Serialised within the process; safe across them.
   */
  rotate(): Promise<void> {
    const { repository } = this.options;
    const run = async () => {
      const now = this.nowSeconds();
      const held = await repository.list();
      const plan = planPrekeyRotation(
        held.map((p) => p.prekey),
        now,
        this.options.policy,
      );
      const toDelete = new Set(plan.delete);
      const published = new Set(plan.publish);
      for (const entry of held) {
        const deleting = toDelete.has(entry.prekey.kid) && entry.privateSealed !== null;
        if (deleting) await repository.deletePrivate(entry.prekey);
        if (!published.has(entry.prekey.kid) && (deleting || entry.privateSealed === null))
          await repository.remove(entry.prekey);
      }
      if (plan.generate) {
        const windowSeconds = plan.generate.notAfter - plan.generate.notBefore;
        const { prekey, privateKey } = generatePrekey({
          domain: this.options.identity.domain,
          notBefore: plan.generate.notBefore,
          windowSeconds,
        });
        const jws = await signPrekey(prekey, signingKeyOf(this.options.identity));
        const stored = await repository.claimSlot({
          prekey,
          jws,
          privateSealed: this.options.box.seal(JSON.stringify(privateKey), purpose(prekey.kid)),
        });
        if (stored)
          this.options.logger?.info({ kid: prekey.kid, notAfter: prekey.notAfter }, 'federation prekey generated');
      }
      if (toDelete.size > 0)
        this.options.logger?.info({ deleted: toDelete.size }, 'federation prekeys past their window deleted');
      this.held = await repository.list();
      for (const kid of this.opened.keys()) {
        if (!this.held.some((p) => p.prekey.kid === kid && p.privateSealed !== null)) this.opened.delete(kid);
      }
    };
    const previous = this.rotating ?? Promise.resolve();
    const next = previous.then(run, run);
    this.rotating = next.catch(() => undefined);
    return next;
  }

  /** The document served at GET /federation/v1/prekeys: every prekey inside its window (rotating first). */
  async published(): Promise<{ prekeys: string[] }> {
    await this.rotate();
    const now = this.nowSeconds();
    return {
      prekeys: this.held.filter((p) => p.prekey.notBefore <= now + 60 && p.prekey.notAfter > now).map((p) => p.jws),
    };
  }

  /**
   * The private half of a prekey, or undefined when unknown or deleted. A kid this process has not seen (another
   * process generated it since) is looked up in the storage again.
   */
  async privateHalf(kid: string): Promise<PrekeyPrivate | undefined> {
    const grace = this.options.policy?.graceSeconds ?? DEFAULT_PREKEY_GRACE_SECONDS;
    let entry = this.held.find((p) => p.prekey.kid === kid);
    if (entry === undefined || entry.privateSealed === null) {
      this.held = await this.options.repository.list();
      entry = this.held.find((p) => p.prekey.kid === kid);
    }
    // Past its window plus grace a private half is never used, even before a rotation deletes it (forward secrecy).
    if (entry === undefined || entry.privateSealed === null || entry.prekey.notAfter + grace <= this.nowSeconds()) {
      this.opened.delete(kid);
      return undefined;
    }
    let half = this.opened.get(kid);
    if (half === undefined) {
      half = JSON.parse(this.options.box.open(entry.privateSealed, purpose(kid))) as PrekeyPrivate;
      this.opened.set(kid, half);
    }
    return half;
  }

  /** The prekeys held at the last read (public claims, and whether the private half is still there). */
  list(): { prekey: Prekey; hasPrivate: boolean }[] {
    return this.held.map((p) => ({ prekey: p.prekey, hasPrivate: p.privateSealed !== null }));
  }

  /** Rotates now, then every `intervalMs`. Errors are logged, never thrown. */
  start(): void {
    const tick = () => {
      this.rotate()
        .catch((err: unknown) => this.options.logger?.error({ err }, 'federation prekey rotation failed'))
        .finally(() => {
          if (this.timer === null) return;
          this.timer = setTimeout(tick, this.options.intervalMs ?? 5 * 60_000);
          this.timer.unref();
        });
    };
    this.timer = setTimeout(tick, 0);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.rotating;
  }
}
