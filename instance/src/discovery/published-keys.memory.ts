import type { PublishedKeySource } from './published-keys.port.ts';

/** An in-memory PublishedKeySource, for tests and demos: set or remove a user's key at any time. */
export class MemoryPublishedKeys implements PublishedKeySource {
  private readonly keys = new Map<string, Uint8Array>();

  set(localPart: string, key: Uint8Array): this {
    this.keys.set(localPart, key);
    return this;
  }

  delete(localPart: string): void {
    this.keys.delete(localPart);
  }

  async publicKeyOf(localPart: string): Promise<Uint8Array | null> {
    return this.keys.get(localPart) ?? null;
  }
}
