import { ClientKeyError } from './client-key.errors.ts';

/**
 * The private keys of a client-mode account, kept in this browser's IndexedDB: each one armoured and encrypted by
 * openpgp.js under the passphrase the user chose (S2K, AES-256), never in the clear. One record per account (its
 * username on this instance: the database belongs to the instance's origin), the active key first.
 */
export interface StoredClientKeys {
  account: string;
  /** Armoured private keys, each passphrase-protected; the active one first. */
  keys: string[];
  /** Their primary fingerprints, lowercase hex, in the same order. */
  fingerprints: string[];
  savedAt: string;
}

const DB_NAME = 'caliopen-client-keys';
const STORE = 'keys';

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'));
  });
}

export class ClientKeyStore {
  private db: Promise<IDBDatabase> | null = null;

  /** `factory`: the browser's IndexedDB (unit tests pass fake-indexeddb's). */
  constructor(private readonly factory: () => IDBFactory | undefined = () => globalThis.indexedDB) {}

  private open(): Promise<IDBDatabase> {
    if (this.db === null) {
      const idb = this.factory();
      if (!idb) return Promise.reject(new ClientKeyError('no_storage'));
      this.db = new Promise<IDBDatabase>((resolve, reject) => {
        const r = idb.open(DB_NAME, 1);
        r.onupgradeneeded = () => {
          if (!r.result.objectStoreNames.contains(STORE)) r.result.createObjectStore(STORE, { keyPath: 'account' });
        };
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(new ClientKeyError('no_storage'));
        r.onblocked = () => reject(new ClientKeyError('no_storage'));
      });
      this.db.catch(() => {
        this.db = null;
      });
    }
    return this.db;
  }

  private async run<T>(mode: IDBTransactionMode, f: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
    const db = await this.open();
    const tx = db.transaction(STORE, mode);
    const result = await request(f(tx.objectStore(STORE)));
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    });
    return result;
  }

  async get(account: string): Promise<StoredClientKeys | null> {
    const v = (await this.run('readonly', (s) => s.get(account))) as unknown;
    return isStored(v) && v.account === account ? v : null;
  }

  /** Keeps the account's keys (replacing what was kept); each must be an armoured, passphrase-protected key. */
  async put(account: string, keys: string[], fingerprints: string[]): Promise<StoredClientKeys> {
    if (keys.length === 0 || keys.length !== fingerprints.length) throw new Error('keys and fingerprints must pair');
    if (!keys.every((k) => k.includes('-----BEGIN PGP PRIVATE KEY BLOCK-----')))
      throw new ClientKeyError('not_a_private_key');
    const record: StoredClientKeys = {
      account,
      keys: [...keys],
      fingerprints: fingerprints.map((f) => f.toLowerCase()),
      savedAt: new Date().toISOString(),
    };
    await this.run('readwrite', (s) => s.put(record));
    return record;
  }

  async remove(account: string): Promise<void> {
    await this.run('readwrite', (s) => s.delete(account));
  }
}

function isStored(v: unknown): v is StoredClientKeys {
  if (v === null || typeof v !== 'object') return false;
  const o = v as Record<string, unknown>;
  return (
    typeof o.account === 'string' &&
    Array.isArray(o.keys) &&
    o.keys.every((k) => typeof k === 'string') &&
    Array.isArray(o.fingerprints) &&
    o.fingerprints.every((f) => typeof f === 'string') &&
    o.keys.length === o.fingerprints.length &&
    o.keys.length > 0
  );
}

/** The browser's store, shared by the screens. */
export const clientKeyStore = new ClientKeyStore();
