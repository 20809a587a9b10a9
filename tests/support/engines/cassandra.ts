import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../net.ts';
import { startSpawnedServer } from '../spawned-server.ts';
import { tempDir } from '../tmp.ts';

/**
 * A real single Apache Cassandra 5.0 node for the conformance suites, started from Maven Central's jars (no docker,
 * no tarball): `pom.xml` beside this file lists `org.apache.cassandra:cassandra-all`; `mvn dependency:copy-dependencies`
 * copies it and its runtime dependencies into a cache outside the repo (CALIOPEN_ENGINES_CACHE, default
 * ~/.cache/caliopen-engines), and the node runs `CassandraDaemon` from those jars on Java 17, on free loopback
 * ports, with its data, yaml and logback config in a temp dir removed on stop.
 *
 * `node --import tsx tests/support/engines/cassandra.ts fetch` downloads the jars (.ci/run does it before the tests,
 * so the download is visible and never inside a test's timeout); `... start` starts a node and prints its address
 * and the node's warnings until Ctrl-C (for a manual run of the suites with CASSANDRA_CONTACT_POINTS).
 */

export const CASSANDRA_VERSION = '5.0.9';
const POM = fileURLToPath(new URL('./cassandra/pom.xml', import.meta.url));
export const FETCH_COMMAND = 'node --import tsx tests/support/engines/cassandra.ts fetch';

function cacheDir(): string {
  const root = process.env.CALIOPEN_ENGINES_CACHE || join(homedir(), '.cache', 'caliopen-engines');
  return join(root, `cassandra-${CASSANDRA_VERSION}`);
}
const libDir = () => join(cacheDir(), 'lib');

/** Java 17 (Cassandra 5.0 runs on 11 and 17; 24+ lacks the SecurityManager it needs): CASSANDRA_JAVA, else `java`. */
function javaBinary(): string {
  return process.env.CASSANDRA_JAVA || 'java';
}

function javaMajor(java: string): number | undefined {
  const out = spawnSync(java, ['-version'], { encoding: 'utf8' });
  if (out.error || out.status !== 0) return undefined;
  const m = /version "(\d+)(?:\.(\d+))?/.exec(out.stderr);
  if (!m) return undefined;
  return m[1] === '1' ? Number(m[2]) : Number(m[1]);
}

function hasCommand(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).status === 0;
}

function jarsPresent(): boolean {
  return existsSync(join(libDir(), `cassandra-all-${CASSANDRA_VERSION}.jar`));
}

/**
 * What is missing to run the node, as a sentence with the command that fixes it, or undefined when all is there
 * (Java 17, and the jars or Maven to fetch them).
 */
export function cassandraEngineMissing(): string | undefined {
  const java = javaBinary();
  const major = javaMajor(java);
  if (major === undefined) return `no Java found (${java}): apt-get install -y openjdk-17-jre-headless maven`;
  if (major !== 17 && major !== 11) {
    return `Cassandra 5.0 needs Java 11 or 17, ${java} is Java ${major}: set CASSANDRA_JAVA=/usr/lib/jvm/java-17-openjdk-amd64/bin/java`;
  }
  if (!jarsPresent() && !hasCommand('mvn')) {
    return `the Cassandra jars are not in ${libDir()} and Maven is missing: apt-get install -y maven && ${FETCH_COMMAND}`;
  }
  return undefined;
}

/**
 * Copies cassandra-all and its runtime dependencies from Maven Central into the cache (once). Asynchronous: inside
 * the test run's main process a download must not block it. Maven's output goes to stderr.
 */
export async function fetchCassandraJars(): Promise<string> {
  if (jarsPresent()) return libDir();
  mkdirSync(libDir(), { recursive: true });
  const mvn = spawn('mvn', ['-B', '-q', '-f', POM, 'dependency:copy-dependencies', `-DoutputDirectory=${libDir()}`], {
    stdio: ['ignore', process.stderr, process.stderr],
  });
  const [code] = (await once(mvn, 'exit')) as [number | null];
  if (code !== 0 || !jarsPresent()) {
    throw new Error(
      `mvn could not fetch cassandra-all-${CASSANDRA_VERSION} into ${libDir()} (exit ${code}): ${FETCH_COMMAND}`,
    );
  }
  return libDir();
}

export interface CassandraNode {
  /** '127.0.0.1:<port>', for the driver's contactPoints. */
  contactPoint: string;
  nativePort: number;
  localDataCenter: string;
  /** Milliseconds from spawn to the first CQL answer. */
  startupMs: number;
  stop(): Promise<void>;
}

/** The module opens and exports of Cassandra 5.0's conf/jvm17-server.options (the JPMS section). */
const JVM17_MODULE_OPTIONS = [
  '--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED',
  '--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED',
  '--add-exports=java.base/sun.nio.ch=ALL-UNNAMED',
  '--add-exports=java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED',
  '--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED',
  '--add-exports=java.rmi/sun.rmi.server=ALL-UNNAMED',
  '--add-exports=java.sql/java.sql=ALL-UNNAMED',
  '--add-exports=java.base/java.lang.ref=ALL-UNNAMED',
  '--add-exports=jdk.unsupported/sun.misc=ALL-UNNAMED',
  '--add-opens=java.base/java.lang.module=ALL-UNNAMED',
  '--add-opens=java.base/jdk.internal.loader=ALL-UNNAMED',
  '--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED',
  '--add-opens=java.base/jdk.internal.reflect=ALL-UNNAMED',
  '--add-opens=java.base/jdk.internal.math=ALL-UNNAMED',
  '--add-opens=java.base/jdk.internal.module=ALL-UNNAMED',
  '--add-opens=java.base/jdk.internal.util.jar=ALL-UNNAMED',
  '--add-opens=jdk.management/com.sun.management.internal=ALL-UNNAMED',
  '--add-opens=java.base/sun.nio.ch=ALL-UNNAMED',
  '--add-opens=java.base/java.io=ALL-UNNAMED',
  '--add-opens=java.base/java.nio=ALL-UNNAMED',
  '--add-opens=java.base/java.util.concurrent=ALL-UNNAMED',
  '--add-opens=java.base/java.util=ALL-UNNAMED',
  '--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED',
  '--add-opens=java.base/java.lang=ALL-UNNAMED',
  '--add-opens=java.base/java.math=ALL-UNNAMED',
  '--add-opens=java.base/java.lang.reflect=ALL-UNNAMED',
  '--add-opens=java.base/java.net=ALL-UNNAMED',
];

/** A single-node cassandra.yaml: loopback only, no auth, small caches, snapshots off (the suites drop keyspaces). */
function cassandraYaml(dir: string, nativePort: number, storagePort: number): string {
  const d = (name: string) => JSON.stringify(join(dir, name));
  return `cluster_name: caliopen-test
num_tokens: 1
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1:${storagePort}"
listen_address: 127.0.0.1
rpc_address: 127.0.0.1
storage_port: ${storagePort}
ssl_storage_port: ${storagePort}
start_native_transport: true
native_transport_port: ${nativePort}
commitlog_sync: periodic
commitlog_sync_period: 10000ms
commitlog_segment_size: 8MiB
data_file_directories: [${d('data')}]
commitlog_directory: ${d('commitlog')}
saved_caches_directory: ${d('saved_caches')}
hints_directory: ${d('hints')}
cdc_raw_directory: ${d('cdc_raw')}
authenticator: AllowAllAuthenticator
authorizer: AllowAllAuthorizer
auto_snapshot: false
snapshot_before_compaction: false
concurrent_compactors: 1
concurrent_reads: 4
concurrent_writes: 4
concurrent_counter_writes: 4
memtable_heap_space: 64MiB
memtable_offheap_space: 64MiB
key_cache_size: 8MiB
disk_access_mode: mmap_index_only
dynamic_snitch: false
`;
}

/** Warnings and errors only, on stdout (kept by the launcher for its error message). */
const LOGBACK = `<configuration>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%-5level %logger{20} %msg%n</pattern></encoder>
  </appender>
  <logger name="org.apache.cassandra.service.CassandraDaemon" level="INFO"/>
  <root level="WARN"><appender-ref ref="STDOUT"/></root>
</configuration>
`;

/**
 * Whether a CQL server answers on the port: a native-protocol v4 OPTIONS frame gets a SUPPORTED frame (opcode 0x06)
 * back. No driver involved, so a half-started node cannot leave a driver's reconnection timers behind.
 */
export function cqlAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = Buffer.alloc(0);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.on('connect', () => socket.write(Buffer.from([0x04, 0, 0, 0, 0x05, 0, 0, 0, 0])));
    socket.on('data', (chunk) => {
      reply = Buffer.concat([reply, chunk]);
      if (reply.length >= 9) done(reply[0] === 0x84 && reply[4] === 0x06);
    });
    socket.on('error', () => done(false));
  });
}

/**
 * Starts one node (fetching the jars first when needed) and resolves when CQL answers; rejects with the node's last
 * output when it exits or does not answer within `timeoutMs` (180 s by default: a JVM and Cassandra's startup on a
 * busy 2-core machine).
 */
export async function startCassandraNode(o: { timeoutMs?: number; echo?: boolean } = {}): Promise<CassandraNode> {
  // A port picked free may be taken before the JVM binds it (other test servers start meanwhile): one more try.
  try {
    return await startOnce(o);
  } catch (err) {
    if (!/Address already in use|BindException/.test(String(err))) throw err;
    return startOnce(o);
  }
}

async function startOnce(o: { timeoutMs?: number; echo?: boolean }): Promise<CassandraNode> {
  const lib = await fetchCassandraJars();
  const jars = readdirSync(lib).filter((f) => f.endsWith('.jar'));
  const jamm = jars.find((f) => /^jamm-[\d.]+\.jar$/.test(f));
  if (!jamm) throw new Error(`no jamm jar in ${lib}: delete the folder and run ${FETCH_COMMAND}`);
  const nativePort = await freePort();
  let storagePort = await freePort();
  while (storagePort === nativePort) storagePort = await freePort();

  const tmp = tempDir('caliopen-cassandra-');
  const yaml = join(tmp.dir, 'cassandra.yaml');
  const logback = join(tmp.dir, 'logback.xml');
  writeFileSync(yaml, cassandraYaml(tmp.dir, nativePort, storagePort));
  writeFileSync(logback, LOGBACK);
  mkdirSync(join(tmp.dir, 'triggers'));

  const args = [
    '-Xms512m',
    '-Xmx1g',
    '-Xss512k',
    '-XX:+UseG1GC',
    '-XX:ActiveProcessorCount=2',
    '-Djava.net.preferIPv4Stack=true',
    '-Djdk.attach.allowAttachSelf=true',
    '-Dio.netty.tryReflectionSetAccessible=true',
    ...JVM17_MODULE_OPTIONS,
    `-javaagent:${join(lib, jamm)}`,
    `-Dcassandra.config=file://${yaml}`,
    `-Dcassandra.storagedir=${tmp.dir}`,
    `-Dcassandra.logdir=${tmp.dir}`,
    `-Dcassandra.triggers_dir=${join(tmp.dir, 'triggers')}`,
    `-Dlogback.configurationFile=${logback}`,
    '-Dcassandra-foreground=yes',
    '-Dcassandra.skip_wait_for_gossip_to_settle=0',
    '-Dcassandra.ring_delay_ms=0',
    '-Dcassandra.load_ring_state=false',
    '-Dcassandra.initial_token=0',
    '-Dcassandra.superuser_setup_delay_ms=0',
    '-cp',
    `${lib}/*`,
    'org.apache.cassandra.service.CassandraDaemon',
  ];
  const timeoutMs = o.timeoutMs ?? 180_000;
  const started = Date.now();
  const server = await startSpawnedServer({
    binary: javaBinary(),
    args,
    keepChars: 8000,
    ready: () => cqlAnswers(nativePort),
    timeoutMs,
    pollMs: 250,
    exitedEarly: `Cassandra ${CASSANDRA_VERSION} exited before answering CQL on port ${nativePort}`,
    notReady: `Cassandra ${CASSANDRA_VERSION} did not answer CQL on port ${nativePort} within ${timeoutMs / 1000} s`,
    cleanup: tmp.cleanup,
  });
  if (o.echo) {
    server.child.stdout?.pipe(process.stdout);
    server.child.stderr?.pipe(process.stderr);
  }
  return {
    contactPoint: `127.0.0.1:${nativePort}`,
    nativePort,
    localDataCenter: 'datacenter1',
    startupMs: Date.now() - started,
    stop: server.stop,
  };
}

async function main(command: string | undefined): Promise<void> {
  if (command === 'fetch') {
    const started = Date.now();
    const dir = await fetchCassandraJars();
    console.log(`Cassandra ${CASSANDRA_VERSION} jars in ${dir} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    return;
  }
  if (command === 'start') {
    const node = await startCassandraNode({ echo: true });
    console.log(
      `Cassandra ${CASSANDRA_VERSION} answers CQL on ${node.contactPoint} after ${(node.startupMs / 1000).toFixed(1)} s` +
        ` (CASSANDRA_CONTACT_POINTS=${node.contactPoint}); Ctrl-C stops it`,
    );
    await new Promise<void>((resolve) => process.once('SIGINT', resolve));
    await node.stop();
    return;
  }
  throw new Error('usage: node --import tsx tests/support/engines/cassandra.ts fetch|start');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv[2]).catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
