import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
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

/**
 * This instance's prekeys (SPEC.md §7): X25519 keys signed by the instance signing key, rotated by the library's plan
 * (`planPrekeyRotation`), published at `GET /federation/v1/prekeys`. Kept in `<dataDir>/federation/prekeys.json`
 * (written atomically: temporary file, then rename), private halves sealed with the master key (SecretBox, purpose
 * bound to the kid). A private half past its window plus the grace period is removed from the file: from then on an
 * envelope sealed to it cannot be opened here (forward secrecy). Backups of the data directory older than the grace
 * period must not keep it either (SPEC.md §7).
 */

interface StoredPrekey {
  prekey: Prekey;
  /** The signed prekey as published. */
  jws: string;
  /** The private JWK, sealed; null once deleted (the entry stays until its window is over, for the published list). */
  privateSealed: string | null;
}

interface StoredPrekeys {
  version: 1;
  prekeys: StoredPrekey[];
}

export interface PrekeyStoreOptions {
  dataDir: string;
  box: SecretBox;
  identity: Pick<InstanceIdentity, 'domain' | 'signing'>;
  clock: Clock;
  policy?: PrekeyRotationPolicy;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** How often rotate() runs once started (default 5 minutes). */
  intervalMs?: number;
}

const FILE = 'prekeys.json';
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
  private readonly file: string;
  private state: StoredPrekeys;
  private timer: NodeJS.Timeout | null = null;
  private rotating: Promise<void> | null = null;

  constructor(private readonly options: PrekeyStoreOptions) {
    this.file = join(options.dataDir, 'federation', FILE);
    this.state = this.load();
  }

  private nowSeconds(): number {
    return Math.floor(this.options.clock().getTime() / 1000);
  }

  private load(): StoredPrekeys {
    if (!existsSync(this.file)) return { version: 1, prekeys: [] };
    const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as StoredPrekeys;
    if (parsed.version !== 1 || !Array.isArray(parsed.prekeys))
      throw new Error(`${this.file} is not a prekey file of version 1.`);
    return parsed;
  }

  private save(): void {
    mkdirSync(join(this.options.dataDir, 'federation'), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.state), { mode: 0o600 });
    renameSync(tmp, this.file);
  }

  /**
   * Applies the rotation plan now: generates and signs a successor when needed, deletes the private halves past their
   * window plus grace, drops entries that are neither published nor holding a private half. Serialised.
   */
  rotate(): Promise<void> {
    const run = async () => {
      const now = this.nowSeconds();
      const plan = planPrekeyRotation(
        this.state.prekeys.map((p) => p.prekey),
        now,
        this.options.policy,
      );
      let changed = false;
      const toDelete = new Set(plan.delete);
      for (const entry of this.state.prekeys) {
        if (toDelete.has(entry.prekey.kid) && entry.privateSealed !== null) {
          entry.privateSealed = null;
          changed = true;
        }
      }
      const published = new Set(plan.publish);
      const kept = this.state.prekeys.filter((p) => published.has(p.prekey.kid) || p.privateSealed !== null);
      if (kept.length !== this.state.prekeys.length) changed = true;
      this.state.prekeys = kept;
      if (plan.generate) {
        const windowSeconds = plan.generate.notAfter - plan.generate.notBefore;
        const { prekey, privateKey } = generatePrekey({
          domain: this.options.identity.domain,
          notBefore: plan.generate.notBefore,
          windowSeconds,
        });
        const jws = await signPrekey(prekey, signingKeyOf(this.options.identity));
        this.state.prekeys.push({
          prekey,
          jws,
          privateSealed: this.options.box.seal(JSON.stringify(privateKey), purpose(prekey.kid)),
        });
        changed = true;
        this.options.logger?.info({ kid: prekey.kid, notAfter: prekey.notAfter }, 'federation prekey generated');
      }
      if (changed) this.save();
      if (toDelete.size > 0)
        this.options.logger?.info({ deleted: toDelete.size }, 'federation prekeys past their window deleted');
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
      prekeys: this.state.prekeys
        .filter((p) => p.prekey.notBefore <= now + 60 && p.prekey.notAfter > now)
        .map((p) => p.jws),
    };
  }

  /** The private half of a prekey, or undefined when unknown or deleted. */
  privateHalf(kid: string): PrekeyPrivate | undefined {
    const entry = this.state.prekeys.find((p) => p.prekey.kid === kid);
    if (entry === undefined || entry.privateSealed === null) return undefined;
    return JSON.parse(this.options.box.open(entry.privateSealed, purpose(kid))) as PrekeyPrivate;
  }

  /** The prekeys held (public claims, and whether the private half is still there). */
  list(): { prekey: Prekey; hasPrivate: boolean }[] {
    return this.state.prekeys.map((p) => ({ prekey: p.prekey, hasPrivate: p.privateSealed !== null }));
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
