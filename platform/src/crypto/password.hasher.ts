import argon2 from 'argon2';

/**
 * Password hashing with argon2id. The parameters follow OWASP's baseline (19 MiB, 2 passes, 1 lane): strong enough
 * against offline guessing while keeping a login burst within the instance's memory budget. Hashes made with other
 * parameters are upgraded on the next successful login (`needsRehash`).
 */
export interface PasswordHasherOptions {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

export const DEFAULT_PASSWORD_HASHING: PasswordHasherOptions = { memoryCost: 19_456, timeCost: 2, parallelism: 1 };
export const MIN_PASSWORD_LENGTH = 10;
export const MAX_PASSWORD_LENGTH = 1024;

export class PasswordHasher {
  private readonly options: PasswordHasherOptions;
  /** A hash of nothing anyone knows, verified when the username is unknown so timing does not reveal accounts. */
  private decoy: Promise<string> | null = null;

  constructor(options: PasswordHasherOptions = DEFAULT_PASSWORD_HASHING) {
    this.options = options;
  }

  hash(password: string): Promise<string> {
    return argon2.hash(password, { type: argon2.argon2id, ...this.options });
  }

  async verify(hash: string, password: string): Promise<boolean> {
    try {
      return await argon2.verify(hash, password);
    } catch {
      return false;
    }
  }

  needsRehash(hash: string): boolean {
    return argon2.needsRehash(hash, this.options);
  }

  /** Spends the time a real verification would, then answers false. */
  async verifyDecoy(password: string): Promise<false> {
    this.decoy ??= this.hash(`decoy-${Math.random()}`);
    await this.verify(await this.decoy, password);
    return false;
  }
}
