import type { AccountRepository } from '../accounts/account.repository.ts';
import { openPgpKeyHash, wkdHash } from './key-names.ts';

/**
 * From a published hash back to the local user it names. DNS (RFC 7929) and WKD ask by hash only — SHA-256 and
 * SHA-1 of the local part, which cannot be reversed — so the instance keeps both hashes of every username in memory.
 *
 * Freshness: the map is rebuilt from the accounts repository (all usernames, a page at a time) when it is older than
 * `refreshMs` (default 60 s), and on a miss when it is older than `missRefreshMs` (default 5 s): a new account is
 * found within 5 s, while a flood of random hashes makes at most one rebuild per 5 s. Rebuilds are single-flight;
 * a failed rebuild keeps the previous map (and fails the lookup only when there is none yet).
 *
 * Memory: two short strings per account (about 200 bytes). Beyond a few hundred thousand accounts the hashes belong
 * in the accounts table instead (a column each, indexed), which this class's interface allows without other change.
 */
export interface LocalPartIndex {
  byOpenPgpKeyHash(hash: string): Promise<string | null>;
  byWkdHash(hash: string): Promise<string | null>;
}

export interface LocalPartDirectoryOptions {
  /** Every username, in pages (resolves an empty page at the end). */
  listUsernames: (after: string | undefined, limit: number) => Promise<string[]>;
  refreshMs?: number;
  missRefreshMs?: number;
  /** Refuse to hold more names than this (the rebuild stops there and says so through `onError`). */
  maxEntries?: number;
  now?: () => number;
  onError?: (error: unknown) => void;
}

interface Maps {
  openPgp: Map<string, string>;
  wkd: Map<string, string>;
  builtAt: number;
}

const PAGE = 1000;

export class LocalPartDirectory implements LocalPartIndex {
  private maps: Maps | null = null;
  private rebuilding: Promise<Maps> | null = null;
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  private readonly refreshMs: number;
  private readonly missRefreshMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(private readonly options: LocalPartDirectoryOptions) {
    this.refreshMs = options.refreshMs ?? 60_000;
    this.missRefreshMs = options.missRefreshMs ?? 5_000;
    this.maxEntries = options.maxEntries ?? 1_000_000;
    this.now = options.now ?? Date.now;
  }

  /** Over the accounts repository (every account, disabled ones too: the key source decides what is published). */
  static ofAccounts(
    accounts: AccountRepository,
    options: Omit<LocalPartDirectoryOptions, 'listUsernames'> = {},
  ): LocalPartDirectory {
    return new LocalPartDirectory({
      ...options,
      listUsernames: async (after, limit) =>
        (await accounts.list({ limit, ...(after === undefined ? {} : { afterUsername: after }) })).map(
          (account) => account.username,
        ),
    });
  }

  byOpenPgpKeyHash(hash: string): Promise<string | null> {
    const key = hash.toLowerCase();
    return /^[0-9a-f]{56}$/.test(key) ? this.find((maps) => maps.openPgp.get(key)) : Promise.resolve(null);
  }

  byWkdHash(hash: string): Promise<string | null> {
    const key = hash.toLowerCase();
    return /^[ybndrfg8ejkmcpqxot1uwisza345h769]{32}$/.test(key)
      ? this.find((maps) => maps.wkd.get(key))
      : Promise.resolve(null);
  }

  /** Forgets the map: the next lookup rebuilds it (call after an account is created, renamed or deleted). */
  invalidate(): void {
    this.lastAttemptAt = Number.NEGATIVE_INFINITY;
    if (this.maps) this.maps = { ...this.maps, builtAt: Number.NEGATIVE_INFINITY };
  }

  private async find(read: (maps: Maps) => string | undefined): Promise<string | null> {
    let maps = await this.current();
    let found = read(maps);
    if (found === undefined && this.now() - this.lastAttemptAt >= this.missRefreshMs) {
      maps = await this.rebuild();
      found = read(maps);
    }
    return found ?? null;
  }

  private async current(): Promise<Maps> {
    const now = this.now();
    if (this.maps && (now - this.maps.builtAt < this.refreshMs || now - this.lastAttemptAt < this.missRefreshMs))
      return this.maps;
    return this.rebuild();
  }

  private rebuild(): Promise<Maps> {
    this.rebuilding ??= (async () => {
      this.lastAttemptAt = this.now();
      try {
        this.maps = await this.build();
      } catch (error) {
        this.options.onError?.(error);
        // Keep serving the previous map; the next attempt waits missRefreshMs.
        if (this.maps === null) throw error;
      }
      return this.maps;
    })().finally(() => {
      this.rebuilding = null;
    });
    return this.rebuilding;
  }

  private async build(): Promise<Maps> {
    const builtAt = this.now();
    const openPgp = new Map<string, string>();
    const wkd = new Map<string, string>();
    let after: string | undefined;
    for (;;) {
      const page = await this.options.listUsernames(after, PAGE);
      for (const username of page) {
        if (openPgp.size >= this.maxEntries) {
          this.options.onError?.(
            new Error(
              `More than ${this.maxEntries} accounts: keys of the others are not published until the directory stores hashes.`,
            ),
          );
          return { openPgp, wkd, builtAt };
        }
        openPgp.set(openPgpKeyHash(username), username);
        wkd.set(wkdHash(username), username);
      }
      if (page.length < PAGE) break;
      const last = page[page.length - 1];
      if (last === undefined || (after !== undefined && last <= after)) break;
      after = last;
    }
    return { openPgp, wkd, builtAt };
  }
}
