import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { freePort } from '../net.ts';
import { ROOT } from '../process.ts';
import { startSpawnedServer } from '../spawned-server.ts';
import { tempDir } from '../tmp.ts';

/**
 * A real single-node OpenSearch 2.19 for the search conformance suite, from Maven Central artifacts (no download
 * of a distribution, no Docker): tests/support/engines/opensearch/pom.xml lists the server, the Netty4 HTTP
 * transport, the common analysis module and the reindex module (delete_by_query); `mvn dependency:copy-dependencies` copies their jars into a cache
 * outside the repository, `javac` compiles EmbeddedOpenSearch.java (an embedded Node with those plugins) next to
 * them. Both steps run once per cache (a stamp holds the hash of the pom and the Java source).
 *
 * `node --import tsx tests/support/engines/opensearch.ts prepare` fills the cache (.ci/run does this before the tests).
 */

export const OPENSEARCH_VERSION = '2.19.6';
const ENGINE_DIR = join(ROOT, 'tests/support/engines/opensearch');
const FIX =
  'install Java 17 and Maven (`apt-get install -y openjdk-17-jdk-headless maven`), then `node --import tsx tests/support/engines/opensearch.ts prepare`';

/** The cache of jars and the compiled class (OPENSEARCH_ENGINE_CACHE overrides it). */
export function opensearchCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return process.env.OPENSEARCH_ENGINE_CACHE || join(base, 'caliopen-engines', `opensearch-${OPENSEARCH_VERSION}`);
}

function has(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore', timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether the suite can run here: java and javac, and mvn unless the cache is already filled. Under CI
 * (`CI=true`) a missing tool throws (the run fails); elsewhere it warns loudly with the command that fixes it and
 * returns `skip: true`.
 */
export function opensearchComponent(): { skip: boolean } {
  const missing: string[] = [];
  if (!has('java', ['-version'])) missing.push('java');
  if (!has('javac', ['-version'])) missing.push('javac');
  if (!isPrepared() && !has('mvn', ['-v'])) missing.push('mvn');
  if (missing.length === 0) return { skip: false };
  const message = `OpenSearch suite: ${missing.join(', ')} missing: ${FIX}`;
  if (process.env.CI === 'true') throw new Error(`[CI] ${message}`);
  console.warn(`\n!!! SKIPPING: ${message}\n`);
  return { skip: true };
}

function stamp(): string {
  return createHash('sha256')
    .update(readFileSync(join(ENGINE_DIR, 'pom.xml')))
    .update(readFileSync(join(ENGINE_DIR, 'EmbeddedOpenSearch.java')))
    .digest('hex');
}

function isPrepared(): boolean {
  const file = join(opensearchCacheDir(), 'ready.stamp');
  return existsSync(file) && readFileSync(file, 'utf8').trim() === stamp();
}

/** Fills the cache: Maven copies the jars, javac compiles the launcher. Does nothing when it is up to date. */
export function prepareOpenSearch(): string {
  const cache = opensearchCacheDir();
  if (isPrepared()) return cache;
  const lib = join(cache, 'lib');
  const classes = join(cache, 'classes');
  rmSync(cache, { recursive: true, force: true });
  mkdirSync(classes, { recursive: true });
  const run = (command: string, args: string[], cwd: string) => {
    try {
      execFileSync(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: 900_000 });
    } catch (e) {
      const err = e as { stdout?: Buffer; stderr?: Buffer; message: string };
      const out = `${err.stdout?.toString() ?? ''}${err.stderr?.toString() ?? ''}`.slice(-4000);
      throw new Error(`${command} ${args.join(' ')} failed: ${err.message}\n${out}`);
    }
  };
  run('mvn', ['-B', '-q', 'dependency:copy-dependencies', `-DoutputDirectory=${lib}`], ENGINE_DIR);
  if (!readdirSync(lib).includes(`opensearch-${OPENSEARCH_VERSION}.jar`)) {
    throw new Error(`Maven did not copy opensearch-${OPENSEARCH_VERSION}.jar into ${lib}`);
  }
  run('javac', ['-d', classes, '-cp', join(lib, '*'), join(ENGINE_DIR, 'EmbeddedOpenSearch.java')], ENGINE_DIR);
  writeFileSync(join(cache, 'ready.stamp'), `${stamp()}\n`);
  return cache;
}

export interface OpenSearchServer {
  url: string;
  /** Milliseconds from spawning the JVM to a yellow or green cluster. */
  startupMs: number;
  stop(): Promise<void>;
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/_cluster/health`, { signal: AbortSignal.timeout(5_000) });
    if (!res.ok) return false;
    const body = (await res.json()) as { status?: string };
    return body.status === 'green' || body.status === 'yellow';
  } catch {
    return false;
  }
}

/**
 * Starts OpenSearch on free loopback ports (HTTP and transport), its home and data in a temp dir, heap 512 MB, and
 * resolves once `GET /_cluster/health` is yellow or green (180 s allowed: a cold JVM on a loaded 2-core machine).
 */
export async function startOpenSearch(): Promise<OpenSearchServer> {
  const cache = prepareOpenSearch();
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const [httpPort, transportPort] = [await freePort(), await freePort()];
    const tmp = tempDir('caliopen-opensearch-');
    mkdirSync(join(tmp.dir, 'config'));
    writeFileSync(join(tmp.dir, 'config', 'opensearch.yml'), '');
    const url = `http://127.0.0.1:${httpPort}`;
    const started = Date.now();
    try {
      const server = await startSpawnedServer({
        binary: 'java',
        args: [
          '-Xms512m',
          '-Xmx512m',
          '-XX:+UseSerialGC',
          '-Djava.awt.headless=true',
          '-Dlog4j2.disable.jmx=true',
          '-Dlog4j.shutdownHookEnabled=false',
          '-cp',
          `${join(cache, 'classes')}:${join(cache, 'lib', '*')}`,
          'EmbeddedOpenSearch',
          tmp.dir,
          String(httpPort),
          String(transportPort),
        ],
        keepChars: 8000,
        ready: () => healthy(url),
        timeoutMs: 180_000,
        pollMs: 250,
        exitedEarly: `OpenSearch exited early (HTTP port ${httpPort})`,
        notReady: `OpenSearch was not yellow/green on ${url} within 180 s`,
        cleanup: tmp.cleanup,
      });
      return { url, startupMs: Date.now() - started, stop: server.stop };
    } catch (e) {
      lastError = e;
      // A port taken between freePort() and the bind: try others. Anything else would fail the same way again.
      if (!/BindException|Address already in use|bind/i.test(String(e))) break;
    }
  }
  throw lastError;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href && process.argv[2] === 'prepare') {
  const started = Date.now();
  const cache = prepareOpenSearch();
  console.log(`OpenSearch ${OPENSEARCH_VERSION} jars and launcher ready in ${cache} (${Date.now() - started} ms)`);
}
