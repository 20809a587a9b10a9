import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import Database from 'better-sqlite3';
import tar from 'tar-stream';
import { type BackupSecret, decryptStream, encryptStream } from './backup.cipher.ts';

/*
 * A backup of an instance on the embedded engines (SQLite files, blobs directory, keys and configuration): one
 * encrypted file (backup.cipher.ts) holding a tar stream — `backup.json` first (what the backup is), every file of
 * the data directory under `data/`, and `manifest.json` last (each file's size and SHA-256). Nothing is held whole
 * in memory.
 *
 * Consistency while the instance runs (mail arriving): each SQLite file is copied through SQLite's online backup API
 * (a snapshot of one committed state), in an order that loses nothing accepted before the backup started — the
 * inbound spool first (a message accepted by SMTP is either still there or was filed before, so in the mailbox
 * copied next), then the mailbox, then the other stores — and the blobs directory only after them: a blob is written
 * before the row that names it commits, so every message of the snapshot finds its blob. Ingest's dedupe makes a
 * message present both in the spool and the mailbox harmless (filed once). The search index is not copied: restore
 * rebuilds it from the mailbox (so it always matches). See docs/ops/backup.md and docs/adr/0021-backup-format.md.
 */

export const BACKUP_FORMAT = 'caliopen-backup';
export const BACKUP_VERSION = 1;

/** Files that are never copied: SQLite's transient files, temporary blobs, the search index (rebuilt at restore). */
const TRANSIENT = /(?:-wal|-shm|-journal|\.tmp)$/;
const DERIVED = new Set(['search.db']);
const MASTER_KEY = 'secrets/master.key';
/** The order the SQLite files are copied in (see above); any other database comes after these. */
const SQLITE_ORDER = ['spool.db', 'instance.db', 'blobs.db', 'queue.db'];
const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

export class BackupError extends Error {
  constructor(
    message: string,
    /** `usage`: the request cannot be done as asked (exit 2); `failed`: the backup is bad or the operation failed. */
    readonly kind: 'usage' | 'failed' = 'failed',
  ) {
    super(message);
    this.name = 'BackupError';
  }
}

export interface BackupHeader {
  format: typeof BACKUP_FORMAT;
  version: number;
  createdAt: string;
  domain: string;
  includesMasterKey: boolean;
}

export interface ManifestFile {
  path: string;
  bytes: number;
  sha256: string;
  sqlite: boolean;
}

export interface BackupManifest extends BackupHeader {
  files: ManifestFile[];
  /** Files of the data directory left out, with the reason (never their contents). */
  skipped: { path: string; why: string }[];
}

export interface CreateOptions {
  dataDir: string;
  domain: string;
  /** The backup file to write (refused when it exists or lies inside the data directory). */
  out: string;
  secret: BackupSecret;
  includeMasterKey?: boolean;
  /** Lower scrypt cost (tests only); the header records what was used. */
  scrypt?: { log2N: number };
  clock?: () => Date;
}

/** Relative paths (with `/`) of the regular files under `root`, sorted. */
async function listFiles(root: string, skip: (rel: string) => string | null, skipped: BackupManifest['skipped']) {
  const out: string[] = [];
  async function walk(dir: string): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(dir)).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    for (const name of names) {
      const abs = join(dir, name);
      const rel = relative(root, abs).split(sep).join('/');
      let st: Awaited<ReturnType<typeof lstat>>;
      try {
        st = await lstat(abs);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed meanwhile (a temporary file)
        throw e;
      }
      if (st.isDirectory()) await walk(abs);
      else if (!st.isFile()) skipped.push({ path: rel, why: 'not a regular file' });
      else {
        const why = skip(rel);
        if (why === null) out.push(rel);
        else if (why !== '') skipped.push({ path: rel, why });
      }
    }
  }
  await walk(root);
  return out;
}

async function isSqlite(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(16);
    const { bytesRead } = await fh.read(head, 0, 16, 0);
    return bytesRead === 16 && head.equals(SQLITE_MAGIC);
  } finally {
    await fh.close();
  }
}

/** A consistent copy of a live SQLite database (online backup API, through a connection of its own). */
async function snapshotSqlite(source: string, target: string): Promise<void> {
  const db = new Database(source, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 10000');
    // After the first step, copy every remaining page in one step: a step reads one committed state, so a write
    // made meanwhile restarts the copy at most once instead of chasing a busy database.
    await db.backup(target, { progress: () => 1 << 30 });
  } finally {
    db.close();
  }
}

/** Adds one entry, streaming `source` (at most `bytes` of it) and hashing what goes in. */
async function addEntry(pack: tar.Pack, name: string, source: NodeJS.ReadableStream | Buffer, bytes?: number) {
  const hash = createHash('sha256');
  let done!: (e?: Error | null) => void;
  const finished = new Promise<void>((resolve, reject) => {
    done = (e) => (e ? reject(e) : resolve());
  });
  const size = Buffer.isBuffer(source) ? source.length : bytes!;
  const entry = pack.entry({ name, size, mode: 0o600, mtime: new Date(0) }, (e) => done(e));
  if (Buffer.isBuffer(source)) {
    hash.update(source);
    entry.end(source);
  } else {
    let written = 0;
    for await (const chunk of source) {
      const b = chunk as Buffer;
      written += b.length;
      hash.update(b);
      if (!entry.write(b)) await once(entry, 'drain');
    }
    if (written !== size) throw new BackupError(`${name} changed size while it was copied`);
    entry.end(Buffer.alloc(0));
  }
  await finished;
  return hash.digest('hex');
}

/** Writes an encrypted backup of the data directory; resolves its manifest. */
export async function createBackup(options: CreateOptions): Promise<BackupManifest> {
  const dataDir = resolve(options.dataDir);
  const out = resolve(options.out);
  if (!existsSync(join(dataDir, 'instance.db')))
    throw new BackupError(`${dataDir} holds no instance (no instance.db): check --data-dir.`, 'usage');
  if (out === dataDir || out.startsWith(`${dataDir}${sep}`))
    throw new BackupError('the backup file must be outside the data directory it saves.', 'usage');
  if (existsSync(out)) throw new BackupError(`${out} exists: refusing to overwrite it; choose another name.`, 'usage');
  const includeMasterKey = options.includeMasterKey ?? false;
  const header: BackupHeader = {
    format: BACKUP_FORMAT,
    version: BACKUP_VERSION,
    createdAt: (options.clock?.() ?? new Date()).toISOString(),
    domain: options.domain,
    includesMasterKey: includeMasterKey && existsSync(join(dataDir, MASTER_KEY)),
  };
  const skipped: BackupManifest['skipped'] = [];
  const skip = (rel: string): string | null => {
    if (TRANSIENT.test(rel)) return '';
    if (DERIVED.has(rel)) return 'the search index, rebuilt at restore';
    if (rel === MASTER_KEY && !includeMasterKey) return 'the master key (ask --include-master-key to add it)';
    return null;
  };

  const work = mkdtempSync(join(tmpdir(), 'caliopen-backup-'));
  const partial = `${out}.${randomBytes(4).toString('hex')}.partial`;
  try {
    // 1. The databases, in order, each a consistent snapshot.
    const first = await listFiles(dataDir, skip, []);
    const databases: string[] = [];
    for (const rel of first) if (await isSqlite(join(dataDir, rel))) databases.push(rel);
    const rank = (rel: string) => {
      const i = SQLITE_ORDER.indexOf(rel);
      return i < 0 ? SQLITE_ORDER.length : i;
    };
    databases.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
    const snapshots = new Map<string, string>();
    for (const [i, rel] of databases.entries()) {
      const target = join(work, `${i}.db`);
      await snapshotSqlite(join(dataDir, rel), target);
      snapshots.set(rel, target);
    }
    // 2. Every other file, listed after the snapshots (so the blobs of every snapshot message are there).
    const files = (await listFiles(dataDir, skip, skipped)).filter((rel) => !snapshots.has(rel));

    await mkdir(dirname(out), { recursive: true });
    const pack = tar.pack();
    const encrypt = await encryptStream(options.secret, options.scrypt ? { scrypt: options.scrypt } : {});
    const written = pipeline(pack, encrypt, createWriteStream(partial, { mode: 0o600, flags: 'wx' }));
    written.catch(() => undefined); // awaited below; an early failure must not go unhandled meanwhile
    const manifestFiles: ManifestFile[] = [];
    await addEntry(pack, 'backup.json', Buffer.from(`${JSON.stringify(header, null, 2)}\n`));
    for (const [rel, snapshot] of snapshots) {
      const fh = await open(snapshot, 'r');
      try {
        const { size } = await fh.stat();
        const sha256 = await addEntry(pack, `data/${rel}`, fh.createReadStream({ autoClose: false }), size);
        manifestFiles.push({ path: rel, bytes: size, sha256, sqlite: true });
      } finally {
        await fh.close();
      }
    }
    for (const rel of files) {
      let fh: Awaited<ReturnType<typeof open>>;
      try {
        fh = await open(join(dataDir, rel), 'r');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed since the listing
        throw e;
      }
      try {
        const { size } = await fh.stat();
        const stream = fh.createReadStream({ autoClose: false, start: 0, end: Math.max(0, size - 1) });
        const sha256 = await addEntry(pack, `data/${rel}`, size === 0 ? Buffer.alloc(0) : stream, size);
        manifestFiles.push({ path: rel, bytes: size, sha256, sqlite: false });
      } finally {
        await fh.close();
      }
    }
    const manifest: BackupManifest = { ...header, files: manifestFiles, skipped };
    await addEntry(pack, 'manifest.json', Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
    pack.finalize();
    await written;
    const fh = await open(partial, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(partial, out);
    return manifest;
  } catch (e) {
    await rm(partial, { force: true });
    throw e;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** A path inside the data directory as the archive names it: relative, `/`-separated, no `.`/`..`, bounded. */
const SAFE_SEGMENT = /^(?!\.{1,2}$)[A-Za-z0-9._@+=-]{1,255}$/;
function safeRelative(path: string): boolean {
  return path.length <= 4096 && path.split('/').every((s) => SAFE_SEGMENT.test(s));
}

const MAX_JSON_BYTES = 64 * 1024 * 1024;

interface ReadResult {
  header: BackupHeader;
  manifest: BackupManifest;
}

/**
 * Reads a backup through: decrypts, checks its layout, hashes every file and compares with the manifest. `store`
 * decides where each data file's bytes go (a temporary file, the restored data directory) and resolves where it
 * wrote them (or null when it kept nothing).
 */
async function readBackup(
  file: string,
  secret: BackupSecret,
  sink: (rel: string, header: BackupHeader) => Promise<string>,
): Promise<ReadResult & { written: Map<string, string> }> {
  if (!existsSync(file)) throw new BackupError(`${file} does not exist.`, 'usage');
  const extract = tar.extract();
  const decrypt = decryptStream(secret);
  const feeding = pipeline(createReadStream(file), decrypt, extract);
  feeding.catch(() => undefined);
  let header: BackupHeader | null = null;
  let manifest: BackupManifest | null = null;
  const seen = new Map<string, { bytes: number; sha256: string; sqlite: boolean }>();
  const written = new Map<string, string>();
  try {
    for await (const entry of extract) {
      const name = entry.header.name;
      if (manifest !== null) throw new BackupError('the backup has entries after its manifest.');
      if (entry.header.type !== 'file')
        throw new BackupError(`the backup holds a ${entry.header.type} entry (${name}).`);
      if (header === null) {
        if (name !== 'backup.json') throw new BackupError('this is not a Caliopen backup (no backup.json first).');
        header = parseHeader(await readSmall(entry));
        continue;
      }
      if (name === 'manifest.json') {
        manifest = parseManifest(await readSmall(entry), header);
        continue;
      }
      if (!name.startsWith('data/') || !safeRelative(name.slice(5)))
        throw new BackupError(`the backup holds an entry with an unsafe or foreign name: ${JSON.stringify(name)}.`);
      const rel = name.slice(5);
      if (seen.has(rel)) throw new BackupError(`the backup holds ${rel} twice.`);
      const target = await sink(rel, header);
      const hash = createHash('sha256');
      const fh = await open(target, 'wx', 0o600);
      let bytes = 0;
      let head = Buffer.alloc(0);
      try {
        for await (const chunk of entry) {
          const b = chunk as Buffer;
          if (head.length < 16) head = Buffer.concat([head, b.subarray(0, 16 - head.length)]);
          hash.update(b);
          bytes += b.length;
          await fh.write(b);
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      written.set(rel, target);
      seen.set(rel, { bytes, sha256: hash.digest('hex'), sqlite: head.equals(SQLITE_MAGIC) });
    }
    await feeding;
  } catch (e) {
    extract.destroy();
    // The root cause: our own finding, else what broke the stream (a chunk that does not authenticate...).
    const cause = await feeding.then(
      () => null,
      (f: unknown) => f,
    );
    if (e instanceof BackupError || cause === null) throw e;
    throw cause;
  }
  if (header === null) throw new BackupError('the backup is empty.');
  if (manifest === null) throw new BackupError('the backup has no manifest (it was cut short when made).');
  const listed = new Map(manifest.files.map((f) => [f.path, f]));
  for (const [rel, got] of seen) {
    const want = listed.get(rel);
    if (!want) throw new BackupError(`${rel} is in the backup but not in its manifest.`);
    if (want.bytes !== got.bytes || want.sha256 !== got.sha256)
      throw new BackupError(`${rel} does not match its checksum in the manifest.`);
    if (want.sqlite !== got.sqlite) throw new BackupError(`${rel} is not what the manifest says it is.`);
  }
  for (const rel of listed.keys())
    if (!seen.has(rel)) throw new BackupError(`${rel} is in the manifest but missing from the backup.`);
  for (const [rel, got] of seen) if (got.sqlite) checkIntegrity(written.get(rel)!, rel);
  if (seen.get('instance.db')?.sqlite)
    checkBlobs(written.get('instance.db')!, seen.get('blobs.db')?.sqlite ? written.get('blobs.db') : undefined, seen);
  return { header, manifest, written };
}

async function readSmall(entry: { header: tar.Header } & AsyncIterable<unknown>): Promise<unknown> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of entry) {
    n += (c as Buffer).length;
    if (n > MAX_JSON_BYTES) throw new BackupError(`${entry.header.name} is too large.`);
    parts.push(c as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(parts).toString('utf8'));
  } catch {
    throw new BackupError(`${entry.header.name} is not JSON.`);
  }
}

function parseHeader(raw: unknown): BackupHeader {
  const h = raw as Partial<BackupHeader> | null;
  if (h?.format !== BACKUP_FORMAT) throw new BackupError('this is not a Caliopen backup (backup.json).');
  if (h.version !== BACKUP_VERSION)
    throw new BackupError(`backup format version ${String(h.version)}: this software reads version ${BACKUP_VERSION}.`);
  if (typeof h.domain !== 'string' || typeof h.createdAt !== 'string' || typeof h.includesMasterKey !== 'boolean')
    throw new BackupError('backup.json is incomplete.');
  return h as BackupHeader;
}

function parseManifest(raw: unknown, header: BackupHeader): BackupManifest {
  const m = raw as Partial<BackupManifest> | null;
  if (!m || !Array.isArray(m.files) || !Array.isArray(m.skipped)) throw new BackupError('manifest.json is incomplete.');
  for (const key of ['format', 'version', 'createdAt', 'domain', 'includesMasterKey'] as const)
    if (m[key] !== header[key]) throw new BackupError(`manifest.json and backup.json disagree on ${key}.`);
  for (const f of m.files)
    if (
      typeof f?.path !== 'string' ||
      !safeRelative(f.path) ||
      !Number.isSafeInteger(f.bytes) ||
      !/^[0-9a-f]{64}$/.test(f.sha256) ||
      typeof f.sqlite !== 'boolean'
    )
      throw new BackupError('manifest.json lists a file it cannot describe.');
  return m as BackupManifest;
}

/** SQLite's own check of a copied database file (read-only). */
function checkIntegrity(path: string, rel: string): void {
  let db: Database.Database | null = null;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    const rows = db.pragma('integrity_check') as { integrity_check: string }[];
    if (rows.length !== 1 || rows[0]!.integrity_check !== 'ok')
      throw new BackupError(
        `${rel}: SQLite integrity check failed (${rows.map((r) => r.integrity_check).join('; ')}).`,
      );
  } catch (e) {
    if (e instanceof BackupError) throw e;
    throw new BackupError(`${rel}: SQLite cannot read it (${(e as Error).message}).`);
  } finally {
    db?.close();
  }
}

/**
 * The snapshot is consistent: every message of the mailbox copy has its raw form (its blob) in the backup, packed in
 * the copy of blobs.db or as a file under blobs/ (large ones, and those written before blobs.db existed).
 */
function checkBlobs(instanceDb: string, blobsDb: string | undefined, seen: Map<string, unknown>): void {
  const db = new Database(instanceDb, { readonly: true, fileMustExist: true });
  const packed = blobsDb ? new Database(blobsDb, { readonly: true, fileMustExist: true }) : null;
  try {
    const has = packed?.prepare<[string], { n: number }>('SELECT 1 AS n FROM blobs WHERE key = ?');
    const missing: string[] = [];
    for (const row of db
      .prepare('SELECT DISTINCT raw_ref FROM messages WHERE raw_ref IS NOT NULL')
      .iterate() as IterableIterator<{ raw_ref: string }>)
      if (!seen.has(`blobs/${row.raw_ref}`) && has?.get(row.raw_ref) === undefined) missing.push(row.raw_ref);
    if (missing.length > 0)
      throw new BackupError(
        `${missing.length} message(s) of the backup have no raw form in it (first: blob ${missing[0]}): the backup is not consistent.`,
      );
  } finally {
    db.close();
    packed?.close();
  }
}

export interface VerifyResult {
  header: BackupHeader;
  files: number;
  bytes: number;
  databases: number;
}

/** Checks a backup without restoring it: decrypts it, checks every checksum and each database's integrity. */
export async function verifyBackup(file: string, secret: BackupSecret): Promise<VerifyResult> {
  const work = mkdtempSync(join(tmpdir(), 'caliopen-verify-'));
  let n = 0;
  try {
    // Every file goes to a temporary file (databases are checked there), removed as soon as the next one comes.
    let previous: string | null = null;
    const { header, manifest } = await readBackup(resolve(file), secret, async () => {
      if (previous !== null && !(await isSqlite(previous))) await rm(previous, { force: true });
      previous = join(work, `${n++}`);
      return previous;
    });
    return {
      header,
      files: manifest.files.length,
      bytes: manifest.files.reduce((s, f) => s + f.bytes, 0),
      databases: manifest.files.filter((f) => f.sqlite).length,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export interface RestoreOptions {
  file: string;
  secret: BackupSecret;
  /** An empty (or new) directory. */
  dataDir: string;
  /** The master key file of the instance the backup was made of, when the backup does not hold it. */
  masterKeyFile?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Restores a backup into an empty directory: every file checked against the manifest and every database against
 * SQLite's integrity check before it returns; on any failure the directory is emptied again. The search index is
 * not in the backup: rebuild it afterwards (app/search-rebuild.ts; `caliopen backup restore` does).
 */
export async function restoreBackup(options: RestoreOptions): Promise<ReadResult> {
  const dataDir = resolve(options.dataDir);
  if (existsSync(dataDir)) {
    const st = await lstat(dataDir);
    if (!st.isDirectory()) throw new BackupError(`${dataDir} is not a directory.`, 'usage');
    if (readdirSync(dataDir).length > 0)
      throw new BackupError(
        `${dataDir} is not empty: a backup is restored only into an empty or new directory, so that nothing of another instance mixes in.`,
        'usage',
      );
  }
  let masterKey: Buffer | null = null;
  if (options.masterKeyFile) {
    masterKey = await readFile(options.masterKeyFile).catch(() => {
      throw new BackupError(`cannot read the master key file ${options.masterKeyFile}.`, 'usage');
    });
    if (Buffer.from(masterKey.toString('utf8').trim(), 'base64').length !== 32)
      throw new BackupError(`${options.masterKeyFile} does not hold a 32-byte base64 master key.`, 'usage');
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  try {
    const result = await readBackup(resolve(options.file), options.secret, async (rel, header) => {
      if (!header.includesMasterKey && masterKey === null && !(options.env ?? process.env).CALIOPEN_MASTER_KEY)
        throw new BackupError(
          'this backup does not hold the master key (made without --include-master-key): pass the original instance’s secrets/master.key with --master-key-file, or set CALIOPEN_MASTER_KEY.',
          'usage',
        );
      const target = resolve(dataDir, ...rel.split('/'));
      if (!target.startsWith(`${dataDir}${sep}`)) throw new BackupError(`unsafe path ${rel} in the backup.`);
      await mkdir(dirname(target), { recursive: true, mode: 0o700 });
      return target;
    });
    if (!result.header.includesMasterKey && masterKey !== null) {
      await mkdir(join(dataDir, 'secrets'), { recursive: true, mode: 0o700 });
      await writeFile(join(dataDir, ...MASTER_KEY.split('/')), masterKey, { mode: 0o600, flag: 'wx' });
    }
    return { header: result.header, manifest: result.manifest };
  } catch (e) {
    for (const name of readdirSync(dataDir)) rmSync(join(dataDir, name), { recursive: true, force: true });
    throw e;
  }
}
