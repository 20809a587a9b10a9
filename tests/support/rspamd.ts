import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './net.ts';
import { realComponent } from './real-component.ts';
import type { RedisServer } from './redis-server.ts';
import { startSpawnedServer } from './spawned-server.ts';
import { tempDir } from './tmp.ts';

export interface RspamdServer {
  /** The normal worker (scans, `/checkv2`). */
  url: string;
  /** The controller (`/learnspam`, `/learnham`, `/stat`), which wants `password`. */
  controllerUrl: string;
  password: string;
  normalPort: number;
  controllerPort: number;
  /** Its log file (rspamd's own words, for a failing test). */
  logFile: string;
  stop(): Promise<void>;
}

/** Whether rspamd is installed (CI: missing throws; elsewhere a loud skip with the install command). */
export function rspamdComponent(): { skip: boolean; path: string } {
  return realComponent('rspamd', 'rspamd');
}

/**
 * Modules left out: everything that asks the network (DNS lists, SPF/DKIM/DMARC, fuzzy storage, remote maps, the
 * update channel) or keeps state beyond Bayes. The tests run offline and must not wait on DNS timeouts.
 */
const DISABLED_MODULES = [
  'rbl',
  'surbl',
  'spf',
  'dkim',
  'dmarc',
  'arc',
  'asn',
  'mx_check',
  'fuzzy_check',
  'phishing',
  'rspamd_update',
  'emails',
  'whitelist',
  'reputation',
  'neural',
  'ratelimit',
  'greylist',
  'replies',
  'history_redis',
  'dcc',
  'antivirus',
  'external_services',
  'url_redirector',
  'multimap',
  'mid',
  'mime_types',
  'hfilter',
];

/** Where compiled Hyperscan regexps are kept between runs: the engines cache, or the temp dir when home is read-only. */
function hyperscanCache(): string {
  for (const dir of [
    join(homedir(), '.cache', 'caliopen-engines', 'rspamd-hs'),
    join(tmpdir(), 'caliopen-rspamd-hs'),
  ]) {
    try {
      mkdirSync(dir, { recursive: true });
      accessSync(dir, constants.W_OK);
      return dir;
    } catch {
      // next
    }
  }
  throw new Error('no writable directory for rspamd’s Hyperscan cache');
}

/**
 * Starts a throwaway rspamd (Debian's 3.4 rules, our own top-level config): a normal worker and a controller on free
 * loopback ports (or the ports given, to start it again where the instance expects it), Bayes on the given Redis
 * with `minLearns` learns per class before it speaks, no proxy, no fuzzy worker, DNS pointed at a closed local
 * port (no module that needs it is on), logs to a file in its temp dir. The controller trusts no address: every lesson
 * needs the password. Compiled Hyperscan regexps are cached in ~/.cache/caliopen-engines/rspamd-hs (the first start
 * compiles them: ~15 s).
 */
export async function startRspamd(o: {
  redis: RedisServer;
  password?: string;
  minLearns?: number;
  normalPort?: number;
  controllerPort?: number;
}): Promise<RspamdServer> {
  const binary = rspamdComponent().path;
  if (!binary) throw new Error('rspamd is not installed: apt-get install -y rspamd');
  const password = o.password ?? 'rspamd-test-password';
  const normalPort = o.normalPort ?? (await freePort());
  const controllerPort = o.controllerPort ?? (await freePort());
  const tmp = tempDir('caliopen-rspamd-');
  const dir = tmp.dir;
  const local = join(dir, 'local.d');
  mkdirSync(local);
  mkdirSync(join(dir, 'db'));
  const hsCache = hyperscanCache();
  const quote = (s: string) => JSON.stringify(s);
  writeFileSync(
    join(dir, 'rspamd.conf'),
    `.include "$CONFDIR/common.conf"
options {
  pidfile = "$RUNDIR/rspamd.pid";
  .include "$CONFDIR/options.inc"
  .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/options.inc"
}
logging {
  type = "file";
  filename = "$LOGDIR/rspamd.log";
  level = "info";
}
worker "normal" {
  bind_socket = "127.0.0.1:${normalPort}";
  mime = true;
  count = 1;
}
worker "controller" {
  bind_socket = "127.0.0.1:${controllerPort}";
  count = 1;
  password = ${quote(password)};
  enable_password = ${quote(password)};
  secure_ip = "192.0.2.1";
}
`,
  );
  writeFileSync(
    join(local, 'options.inc'),
    `dns { nameserver = ["127.0.0.1:9"]; timeout = 0.2s; retransmits = 0; sockets = 1; }
hs_cache_dir = ${quote(`${hsCache}/`)};
`,
  );
  writeFileSync(join(local, 'redis.conf'), `servers = "127.0.0.1:${o.redis.port}";\n`);
  writeFileSync(
    join(local, 'classifier-bayes.conf'),
    `min_learns = ${o.minLearns ?? 3};\nmin_tokens = 5;\nautolearn = false;\n`,
  );
  for (const m of DISABLED_MODULES) writeFileSync(join(local, `${m}.conf`), 'enabled = false;\n');

  const root = process.getuid?.() === 0 ? ['-u', 'root', '-g', 'root'] : [];
  const args = ['-f', '-i', ...root, '-c', join(dir, 'rspamd.conf')];
  for (const [k, v] of Object.entries({ LOCAL_CONFDIR: dir, DBDIR: join(dir, 'db'), RUNDIR: dir, LOGDIR: dir }))
    args.push('--var', `${k}=${v}`);
  const url = `http://127.0.0.1:${normalPort}`;
  const controllerUrl = `http://127.0.0.1:${controllerPort}`;
  const pong = async (base: string) => {
    try {
      const r = await fetch(`${base}/ping`, { signal: AbortSignal.timeout(1000) });
      return r.status === 200 && (await r.text()).trim() === 'pong';
    } catch {
      return false;
    }
  };
  const logFile = join(dir, 'rspamd.log');
  const server = await startSpawnedServer({
    binary,
    args,
    keepChars: 4000,
    ready: async () => (await pong(url)) && (await pong(controllerUrl)),
    timeoutMs: 120_000,
    pollMs: 200,
    exitedEarly: `rspamd exited early (ports ${normalPort}, ${controllerPort})`,
    notReady: `rspamd did not answer /ping on ${normalPort} and ${controllerPort} within 120 s`,
    cleanup: tmp.cleanup,
  });
  return { url, controllerUrl, password, normalPort, controllerPort, logFile, stop: server.stop };
}
