/**
 * The README's first command, `npm start`, exactly as a newcomer runs it: it brings up the local federation — a
 * registry and two labelled instances, alpha.test and beta.test, as separate processes on loopback — on embedded
 * defaults. Both instances answer, each holds a label that verifies in the registry's signed feed, alice and bob log
 * in, SMTP takes a message for alice, the DNS responders answer; a supervisor killed outright leaves no child behind.
 * A second start reuses the data (same registry key, same labels, no second application), and Ctrl-C stops
 * everything with exit 0 and no process left. A port already taken stops the start with the variable to set.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, test } from 'vitest';
import {
  parseKeySet,
  verifyFeed,
  verifyLabel,
  unwrap,
  type FeedInstance,
  type KeySet,
} from '@caliopen/federation-protocol';
import { dnsQuery } from '@caliopen/platform/dns/dns.resolver.ts';
import { openPgpKeyName } from '@caliopen/instance/discovery/key-names.ts';
import { createTransport } from 'nodemailer';
import { freePort, waitFor } from '../support/net.ts';
import { CALIOPEN_BIN, caliopenAsync, ROOT } from '../support/process.ts';
import { tempDir } from '../support/tmp.ts';

const tmp = tempDir('caliopen-start-');
afterAll(() => tmp.cleanup());
const dataDir = join(tmp.dir, 'federation');

interface Ports {
  registry: number;
  resolver: number;
  alpha: { http: number; https: number; smtp: number; dns: number };
  beta: { http: number; https: number; smtp: number; dns: number };
}

async function freePorts(): Promise<Ports> {
  const seen = new Set<number>();
  const next = async (): Promise<number> => {
    for (;;) {
      const p = await freePort();
      if (!seen.has(p)) {
        seen.add(p);
        return p;
      }
    }
  };
  const member = async () => ({ http: await next(), https: await next(), smtp: await next(), dns: await next() });
  return { registry: await next(), resolver: await next(), alpha: await member(), beta: await member() };
}

function portEnv(p: Ports): Record<string, string> {
  return {
    CALIOPEN_DATA_DIR: dataDir,
    CALIOPEN_REGISTRY_HTTP_PORT: String(p.registry),
    CALIOPEN_FEDERATION_DNS_PORT: String(p.resolver),
    CALIOPEN_ALPHA_HTTP_PORT: String(p.alpha.http),
    CALIOPEN_ALPHA_HTTPS_PORT: String(p.alpha.https),
    CALIOPEN_ALPHA_SMTP_PORT: String(p.alpha.smtp),
    CALIOPEN_ALPHA_DNS_PORT: String(p.alpha.dns),
    CALIOPEN_BETA_HTTP_PORT: String(p.beta.http),
    CALIOPEN_BETA_HTTPS_PORT: String(p.beta.https),
    CALIOPEN_BETA_SMTP_PORT: String(p.beta.smtp),
    CALIOPEN_BETA_DNS_PORT: String(p.beta.dns),
  };
}

/** Processes (other than us) whose command line names the test's data directory: the federation's children. */
function processesOf(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid)) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmd.includes(dir)) found.push(`${pid}: ${cmd}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

interface Started {
  pid: number;
  output: () => string;
  exited: Promise<number | null>;
  /** Ctrl-C as a terminal sends it: SIGINT to the whole foreground process group (npm, sh, the supervisor). */
  interrupt: () => Promise<number | null>;
}

/**
 * Starts the federation as a terminal's foreground job (its own process group): `npm start` as the README says, or
 * the command itself (`caliopen federation`), whose own exit code npm hides (npm re-raises a Ctrl-C on itself).
 */
async function start(ports: Ports, how: 'npm start' | 'caliopen federation'): Promise<Started> {
  // This test's own CALIOPEN_* settings must not leak in; a stray one must be ignored, and said so.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CALIOPEN_')));
  const [cmd, args] = how === 'npm start' ? ['npm', ['start']] : [process.execPath, [CALIOPEN_BIN, 'federation']];
  const child = spawn(cmd as string, args as string[], {
    cwd: ROOT,
    detached: true,
    env: { ...env, ...portEnv(ports), CALIOPEN_HTTP_PORT: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error('exited');
      return out.includes('Ready. Ctrl-C stops the federation');
    },
    150_000,
    200,
  ).catch((e) => {
    process.kill(-child.pid!, 'SIGKILL');
    throw new Error(`${how} did not come up: ${(e as Error).message}\n${out}`);
  });
  return {
    pid: child.pid!,
    output: () => out,
    exited,
    interrupt: async () => {
      process.kill(-child.pid!, 'SIGINT');
      return exited;
    },
  };
}

/** The text of a TXT record (its strings joined). */
function txtOf(record: unknown): string {
  return Buffer.concat((record as { data: Buffer[] }).data).toString();
}

async function json(url: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function login(port: number, username: string, password: string): Promise<{ status: number; body: any }> {
  return json(`http://127.0.0.1:${port}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
}

async function verifiedFeed(registryPort: number, keySet: KeySet): Promise<readonly FeedInstance[]> {
  const bytes = new Uint8Array(await (await fetch(`http://127.0.0.1:${registryPort}/v1/index`)).arrayBuffer());
  const verified = await verifyFeed(bytes, { keySet, now: Math.floor(Date.now() / 1000), verifyLabels: true });
  assert.ok(verified.ok, verified.ok ? '' : `${verified.error.code}: ${verified.error.message}`);
  return verified.value.feed.instances;
}

describe('npm start: the local federation', () => {
  const state: {
    ports?: Ports;
    kids?: string[];
    labels?: Record<string, string>;
    applications?: Record<string, string>;
    credentials?: any;
  } = {};

  test('a port already in use stops the start at once, naming the variable that moves it', async () => {
    const ports = await freePorts();
    const squatter = createServer();
    await new Promise<void>((r) => squatter.listen(ports.beta.smtp, '127.0.0.1', r));
    try {
      const r = await caliopenAsync(['federation'], { env: portEnv(ports) });
      assert.equal(r.code, 2, `${r.stdout}\n${r.stderr}`);
      assert.match(
        r.stderr,
        new RegExp(`port ${ports.beta.smtp} \\(beta.test SMTP\\) is in use: .*CALIOPEN_BETA_SMTP_PORT=<another port>`),
      );
      assert.equal(existsSync(dataDir), false, 'nothing was created');
    } finally {
      squatter.close();
    }
  });

  test('`npm start`: a registry and two labelled instances, demo accounts, mail, DNS; a killed supervisor leaves no child', async () => {
    const ports = (state.ports = await freePorts());
    const first = await start(ports, 'npm start');
    const out = first.output();
    try {
      // Both instances answer, each for its own domain.
      for (const [domain, p] of [
        ['alpha.test', ports.alpha],
        ['beta.test', ports.beta],
      ] as const) {
        const health = await json(`http://127.0.0.1:${p.http}/healthz`);
        assert.equal(health.status, 200);
        assert.equal(health.body.domain, domain);
      }
      assert.match(out, /Ignoring CALIOPEN_HTTP_PORT: the local federation runs on embedded defaults/);

      // Credentials: a file only its owner reads, and the start says how to log in.
      const credentialsFile = join(dataDir, 'credentials.json');
      assert.equal(statSync(credentialsFile).mode & 0o777, 0o600);
      const credentials = (state.credentials = JSON.parse(readFileSync(credentialsFile, 'utf8')));
      const [alice, bob] = [credentials.instances[0].accounts[0], credentials.instances[1].accounts[0]];
      assert.equal(alice.address, 'alice@alpha.test');
      assert.equal(bob.address, 'bob@beta.test');
      assert.ok(out.includes(`curl -s -X POST http://127.0.0.1:${ports.alpha.http}/api/v1/auth/login`), out);
      assert.ok(out.includes(`"password":"${alice.password}"`));
      assert.ok(out.includes(`http://127.0.0.1:${ports.registry}/v1/index`), 'the feed URL');
      // The association's public site: its address is printed and the registry serves it at /.
      assert.ok(out.includes(`directory  http://127.0.0.1:${ports.registry}/   (public site`), out);
      const site = await fetch(`http://127.0.0.1:${ports.registry}/`);
      assert.equal(site.status, 200);
      assert.match(await site.text(), /<title>Caliopen association/);
      assert.match(site.headers.get('content-security-policy') ?? '', /script-src 'self'/);
      assert.ok(out.includes(`dig @127.0.0.1 -p ${ports.alpha.dns} _caliopen.alpha.test TXT`), 'a dig example');
      // Each instance's web app: its address is printed and it answers the app's page.
      for (const [p, user] of [
        [ports.alpha, 'alice'],
        [ports.beta, 'bob'],
      ] as const) {
        assert.ok(
          out.includes(`web app    http://127.0.0.1:${p.http}/   (open it in a browser, sign in as ${user})`),
          out,
        );
        const app = await fetch(`http://127.0.0.1:${p.http}/`);
        assert.equal(app.status, 200);
        assert.match(await app.text(), /<div id="root"><\/div>/);
        assert.match(app.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
      }

      // Each instance holds a label that verifies, in the registry's signed feed, against the registry's key set.
      const keySet = unwrap(parseKeySet((await json(`http://127.0.0.1:${ports.registry}/v1/keys`)).body));
      state.kids = keySet.document.keys.map((k) => k.kid);
      const instances = await verifiedFeed(ports.registry, keySet);
      state.labels = {};
      for (const domain of ['alpha.test', 'beta.test']) {
        const entry = instances.find((i) => i.domain === domain);
        assert.ok(entry, `${domain} is in the feed`);
        assert.equal(entry.status, 'labelled');
        const claims = unwrap(
          await verifyLabel(entry.label, { keySet, expectedDomain: domain, now: Math.floor(Date.now() / 1000) }),
        );
        assert.equal(claims.id, entry.labelId);
        state.labels[domain] = entry.labelId;
      }
      state.applications = Object.fromEntries(
        ['alpha.test', 'beta.test'].map((d) => [
          d,
          JSON.parse(readFileSync(join(dataDir, d, 'registry', 'application.json'), 'utf8')).applicationId,
        ]),
      );

      // alice and bob log in, each on their own instance only.
      const a = await login(ports.alpha.http, alice.username, alice.password);
      assert.equal(a.status, 200);
      assert.equal((await login(ports.beta.http, bob.username, bob.password)).status, 200);
      assert.equal(
        (await login(ports.beta.http, alice.username, alice.password)).status,
        401,
        'alice has no account on beta',
      );
      assert.equal((await login(ports.alpha.http, alice.username, `${alice.password}x`)).status, 401);

      // SMTP: a message to alice on alpha's SMTP port (STARTTLS with the self-signed instance certificate) reaches her.
      const transport = createTransport({
        host: '127.0.0.1',
        port: ports.alpha.smtp,
        secure: false,
        tls: { rejectUnauthorized: false },
      });
      await transport.sendMail({
        from: 'Bob <bob@beta.test>',
        to: 'alice@alpha.test',
        subject: 'Bonjour Alice',
        text: 'Par SMTP, pour commencer.',
      });
      transport.close();
      await waitFor(async () => {
        const r = await json(`http://127.0.0.1:${ports.alpha.http}/api/v1/discussions`, {
          headers: { authorization: `Bearer ${a.body.token}` },
        });
        return r.body.items.length === 1;
      }, 30_000);

      // DNS: alpha's responder answers over UDP for its zone (the discovery TXT, alice's OPENPGPKEY name), and the
      // federation's name server relays beta's zone.
      const txt = await dnsQuery('_caliopen.alpha.test', 'TXT', { servers: [`127.0.0.1:${ports.alpha.dns}`] });
      assert.equal(txt.error, null, txt.error?.message);
      assert.equal(txt.answer!.transport, 'udp');
      assert.match(txtOf(txt.answer!.records[0]!), /^v=caliopen1; sig=ed25519:/);
      const key = await dnsQuery(openPgpKeyName('alice', 'alpha.test'), 'UNKNOWN_61', {
        servers: [`127.0.0.1:${ports.alpha.dns}`],
      });
      assert.equal(key.error, null, `an authoritative answer (a key or NXDOMAIN): ${key.error?.message}`);
      assert.equal(key.answer!.transport, 'udp');
      const relayed = await dnsQuery('_caliopen.beta.test', 'TXT', { servers: [`127.0.0.1:${ports.resolver}`] });
      assert.equal(relayed.error, null, relayed.error?.message);
      assert.equal(relayed.answer!.records.length, 1);
    } catch (e) {
      process.kill(-first.pid, 'SIGKILL');
      throw new Error(`${(e as Error).message}\n--- output ---\n${first.output()}`);
    }

    assert.ok(processesOf(dataDir).length >= 3, 'the registry and both instances run as processes');
    // npm, its shell and the supervisor killed outright (no Ctrl-C): the children notice and stop on their own.
    process.kill(-first.pid, 'SIGKILL');
    await first.exited;
    await waitFor(async () => processesOf(dataDir).length === 0, 30_000).catch(() => {
      const left = processesOf(dataDir);
      for (const p of left) process.kill(Number(p.split(':')[0]), 'SIGKILL');
      assert.fail(`children outlived their supervisor:\n${left.join('\n')}`);
    });
  });

  test('second start reuses everything: same registry key, same labels, no new application; Ctrl-C exits 0, nothing left', async () => {
    const ports = state.ports!;
    assert.ok(state.labels, 'the first start ran');
    const second = await start(ports, 'caliopen federation');
    try {
      const out = second.output();
      assert.doesNotMatch(out, /applied to|Created /, 'nothing created or applied again');
      const keySet = unwrap(parseKeySet((await json(`http://127.0.0.1:${ports.registry}/v1/keys`)).body));
      assert.deepEqual(
        keySet.document.keys.map((k) => k.kid),
        state.kids,
      );
      const instances = await verifiedFeed(ports.registry, keySet);
      for (const domain of ['alpha.test', 'beta.test']) {
        assert.equal(
          instances.find((i) => i.domain === domain)?.labelId,
          state.labels![domain],
          `${domain} keeps its label`,
        );
        const app = JSON.parse(readFileSync(join(dataDir, domain, 'registry', 'application.json'), 'utf8'));
        assert.equal(app.applicationId, state.applications![domain]);
      }
      // The registry's own record: one application per domain, ever.
      const auditor = state.credentials.registry.auditors[0];
      const session = await json(`http://127.0.0.1:${ports.registry}/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: auditor.name, password: auditor.password }),
      });
      assert.equal(session.status, 200);
      const all: { domain: string }[] = [];
      for (const status of ['pending', 'approved', 'closed']) {
        const q = await json(`http://127.0.0.1:${ports.registry}/v1/audit/applications?status=${status}`, {
          headers: { authorization: `Bearer ${session.body.token}` },
        });
        all.push(...q.body.applications);
      }
      assert.deepEqual(all.map((a) => a.domain).sort(), ['alpha.test', 'beta.test']);

      // Same accounts, same passwords, alice's mail still there.
      const alice = state.credentials.instances[0].accounts[0];
      const again = await login(ports.alpha.http, alice.username, alice.password);
      assert.equal(again.status, 200);
      const discussions = await json(`http://127.0.0.1:${ports.alpha.http}/api/v1/discussions`, {
        headers: { authorization: `Bearer ${again.body.token}` },
      });
      assert.equal(discussions.body.items.length, 1);
    } catch (e) {
      process.kill(-second.pid, 'SIGKILL');
      throw new Error(`${(e as Error).message}\n--- output ---\n${second.output()}`);
    }

    assert.equal(await second.interrupt(), 0, second.output());
    assert.deepEqual(processesOf(dataDir), [], 'no process left');
    assert.match(second.output(), /Stopped\. The next start reuses the same data\./);
  });
});
