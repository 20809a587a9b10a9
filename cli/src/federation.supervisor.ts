import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
  type WriteStream,
} from 'node:fs';
import { getServers } from 'node:dns';
import { join } from 'node:path';
import { parseKeySet, verifyFeed, type FeedInstance } from '@caliopen/federation-protocol';
import { PasswordHasher } from '@caliopen/platform/crypto/password.hasher.ts';
import { initInstance } from '@caliopen/instance/app/instance.init.ts';
import { CONFIG_FILE_NAME } from '@caliopen/instance/config/config.loader.ts';
import { deepMerge, isObject, type Json } from '@caliopen/platform/config/config.layers.ts';
import { parseServer } from '@caliopen/platform/dns/dns.resolver.ts';
import { labelledInStoredFeed } from '@caliopen/instance/federation/peer-directory.ts';
import { readRegistryApplication } from '@caliopen/instance/registry-client/registry-application.ts';
import { RegistryClientError, type ApplicationView } from '@caliopen/instance/registry-client/registry.client.ts';
import { isAppError } from '@caliopen/instance/shared/errors.ts';
import { CliError } from './cli-error.ts';
import { withServices } from './context.ts';
import { answers, spawnCaliopen, untilReady, type CaliopenChild } from './federation.children.ts';
import {
  AUDITORS,
  FEDERATION_ENV,
  FederationPlanError,
  federationPlan,
  MEMBER_SYNC_SECONDS,
  memberConfig,
  portsInUse,
  registryConfig,
  type FederationPlan,
  type MemberPlan,
} from './federation.plan.ts';
import { startLoopbackResolver, type LoopbackResolver } from './federation.resolver.ts';
import { generatePassword } from './prompt.ts';
import { applyAndReport } from './registry-client.actions.ts';

/*
 * The local federation, as `caliopen federation` (and `npm start`) runs it.
 *
 * Why child processes rather than one process: the registry and each instance are separate services in production,
 * each with its own data directory, master key, database and signal handling; running them as three `caliopen ...`
 * processes exercises exactly the commands an operator runs (`registry start`, `instance start`), keeps one crash
 * from taking the others' state with it, and makes Ctrl-C honest: each process stops through its own shutdown path
 * and must exit 0. The supervisor (this process) only prepares data directories, applies and votes through the
 * public APIs, relays DNS for the `.test` zones, and stops its children: each child has its own process group (the
 * terminal's Ctrl-C reaches the supervisor alone, which stops each child once, in order) and an IPC channel whose
 * loss stops the child, so none outlives a supervisor killed with SIGKILL.
 */

interface Credentials {
  registry: { url: string; origin: string; auditors: { name: string; password: string }[] };
  instances: { domain: string; api: string; accounts: { username: string; address: string; password: string }[] }[];
}

const READY_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 30_000;
/** How long a start waits for the registry to renew a lapsed label (its tick runs every 10 s; the checks run first). */
const RENEWAL_WAIT_MS = 60_000;

class Interrupted extends Error {}

export async function runFederation(opts: { dataDir?: string }): Promise<void> {
  let plan: FederationPlan;
  try {
    plan = federationPlan(process.env, opts.dataDir);
  } catch (e) {
    if (e instanceof FederationPlanError) throw new CliError(e.message, 2);
    throw e;
  }
  const ignored = embeddedDefaultsOnly();
  if (ignored.length > 0) {
    console.log(
      `Ignoring ${ignored.join(', ')}: the local federation runs on embedded defaults (these apply to \`caliopen instance start\` / \`registry start\`).`,
    );
  }
  const taken = await portsInUse(plan);
  if (taken.length > 0)
    throw new CliError(
      `Cannot start the local federation:\n  - ${taken.join('\n  - ')}\n(A federation already running from ${plan.dataDir}? Stop it first.)`,
      2,
    );

  // Signals from the very start: Ctrl-C during setup stops what was started; a second one while stopping is ignored
  // (npm relays the terminal's SIGINT, so the supervisor often receives two).
  let stopping: NodeJS.Signals | null = null;
  let interrupt!: (sig: NodeJS.Signals) => void;
  const interrupted = new Promise<NodeJS.Signals>((resolve) => (interrupt = resolve));
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) return;
    stopping = sig;
    interrupt(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const step = <T>(work: Promise<T>): Promise<T> =>
    Promise.race([work, interrupted.then(() => Promise.reject(new Interrupted()))]);

  const children: CaliopenChild[] = [];
  const logs: WriteStream[] = [];
  let resolver: LoopbackResolver | null = null;
  let failure: unknown = null;
  try {
    mkdirSync(plan.dataDir, { recursive: true, mode: 0o700 });
    mkdirSync(plan.logDir, { recursive: true, mode: 0o700 });
    const credentials = loadCredentials(plan);
    writeCredentials(plan, credentials);
    await step(prepareRegistry(plan, credentials));
    for (const member of plan.members) await step(prepareMember(plan, member, credentials));

    resolver = await step(
      startLoopbackResolver({
        port: plan.resolverPort,
        routes: plan.members.map((m) => ({ zone: m.domain, host: '127.0.0.1', port: m.ports.dns })),
        fallback: systemResolver(plan.resolverPort),
      }),
    );

    const spawnChild = (name: string, args: string[]) => {
      const log = createWriteStream(join(plan.logDir, `${name}.log`), { flags: 'a', mode: 0o600 });
      logs.push(log);
      const child = spawnCaliopen(args, {
        name,
        supervised: true,
        onLine: (line) => {
          log.write(`${line}\n`);
          if (line.trim() !== '') console.log(`[${name}] ${line}`);
        },
      });
      children.push(child);
      return child;
    };
    // Instances first: the registry's first maintenance tick may re-check its members at once.
    const memberChildren = plan.members.map((m) =>
      spawnChild(m.domain, ['instance', 'start', '--data-dir', m.dataDir]),
    );
    await step(
      Promise.all(
        memberChildren.map((child, i) =>
          untilReady(
            child,
            async () =>
              child.output().includes('listening on') &&
              (await answers(`http://127.0.0.1:${plan.members[i]!.ports.http}/healthz`)),
            READY_TIMEOUT_MS,
          ),
        ),
      ),
    );
    const registry = spawnChild('registry', ['registry', 'start', '--data-dir', plan.registry.dataDir]);
    await step(
      untilReady(
        registry,
        async () => registry.output().includes('listening on') && (await answers(`${plan.registry.url}/v1/keys`)),
        READY_TIMEOUT_MS,
      ),
    );

    const labels: string[] = [];
    for (const member of plan.members) labels.push(await step(ensureLabelled(plan, member, credentials)));
    const feed = await step(verifiedFeed(plan));
    const federated = await step(untilMembersSeeEachOther(plan, feed));

    printSummary(plan, credentials, labels, feed, federated);
    const crashed = Promise.race(children.map((c) => c.exited.then((code) => ({ child: c, code }))));
    const outcome = await Promise.race([interrupted.then(() => null), crashed]);
    if (outcome !== null) {
      failure = new CliError(
        `${outcome.child.name} exited with code ${outcome.code} (log: ${join(plan.logDir, `${outcome.child.name}.log`)}); stopping the federation.`,
        1,
      );
      stopping = 'SIGTERM';
    }
  } catch (e) {
    if (!(e instanceof Interrupted)) failure = e;
    stopping ??= 'SIGTERM';
  }

  console.log('Stopping the local federation…');
  const codes = await Promise.all([...children].reverse().map((c) => stopChild(c)));
  await resolver?.close();
  await Promise.all(logs.map((l) => new Promise<void>((r) => l.end(() => r()))));
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (failure !== null) throw failure;
  const unclean = children.filter((_, i) => codes[children.length - 1 - i] !== 0);
  if (unclean.length > 0)
    throw new CliError(`${unclean.map((c) => c.name).join(', ')} did not stop cleanly (logs in ${plan.logDir}).`, 1);
  console.log('Stopped. The next start reuses the same data.');
}

/**
 * The federation runs on embedded defaults with its own ports: every other CALIOPEN_* (and engine) variable would
 * reach all three processes at once — one HTTP port for both instances, one master key for all — so they are
 * removed from this process (and thus from its children). Returns the names removed.
 */
function embeddedDefaultsOnly(): string[] {
  const ignored: string[] = [];
  for (const name of Object.keys(process.env)) {
    const per =
      /^(CALIOPEN_|CASSANDRA_)/.test(name) ||
      name === 'ELASTICSEARCH_URL' ||
      name === 'OPENSEARCH_URL' ||
      name === 'REDIS_URL';
    if (per && !FEDERATION_ENV.has(name)) {
      ignored.push(name);
      delete process.env[name];
    }
  }
  delete process.env.CALIOPEN_DATA_DIR;
  // Children log warnings and errors only (to the console and <data-dir>/logs), unless asked otherwise.
  process.env.CALIOPEN_LOG_LEVEL ??= 'warn';
  return ignored;
}

/** The system's resolver for names outside the federation's zones (null when it is unknown or this very port). */
function systemResolver(ownPort: number): { host: string; port: number } | null {
  const first = getServers()[0];
  const server = first === undefined ? null : parseServer(first);
  if (server === null || (server.port === ownPort && (server.host === '127.0.0.1' || server.host === '::1')))
    return null;
  return server;
}

// ---------------------------------------------------------------------------------------------------------------
// Data directories and accounts

function loadCredentials(plan: FederationPlan): Credentials {
  const stored: Partial<Credentials> = existsSync(plan.credentialsFile)
    ? (JSON.parse(readFileSync(plan.credentialsFile, 'utf8')) as Partial<Credentials>)
    : {};
  const auditors = AUDITORS.map(
    (name) => stored.registry?.auditors?.find((a) => a.name === name) ?? { name, password: generatePassword() },
  );
  return {
    registry: { url: plan.registry.url, origin: plan.registry.origin, auditors },
    instances: plan.members.map((m) => {
      const address = `${m.user.username}@${m.domain}`;
      const known = stored.instances
        ?.find((i) => i.domain === m.domain)
        ?.accounts.find((a) => a.username === m.user.username);
      return {
        domain: m.domain,
        api: `http://127.0.0.1:${m.ports.http}/api/v1`,
        accounts: [{ username: m.user.username, address, password: known?.password ?? generatePassword() }],
      };
    }),
  };
}

/** Written before any account exists: an account is never created with a password that is not on disk. */
function writeCredentials(plan: FederationPlan, credentials: Credentials): void {
  const tmp = `${plan.credentialsFile}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, plan.credentialsFile);
}

/** Merges `ours` into a JSON config file (what the operator added stays), written atomically, mode 0600. */
function mergeJsonFile(file: string, ours: Json): void {
  const current: unknown = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  const merged = deepMerge(isObject(current) ? current : {}, ours);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(merged, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

/**
 * Creates the registry on the first start, merges the federation's settings into its configuration, creates the demo
 * auditors, and writes the key set the members pin (their federation.registryKeys): what GET /v1/keys will publish,
 * read before the registry runs since the members start first. All through the registry's operator API.
 */
async function prepareRegistry(plan: FederationPlan, credentials: Credentials): Promise<void> {
  const { ensureAuditors, initRegistry, registryKeySet } = await import('@caliopen/registry/app/registry.admin.ts');
  const { REGISTRY_CONFIG_FILE } = await import('@caliopen/registry/config/registry-config.ts');
  const configFile = join(plan.registry.dataDir, REGISTRY_CONFIG_FILE);
  if (!existsSync(configFile)) {
    await initRegistry(
      {
        dataDir: plan.registry.dataDir,
        origin: plan.registry.origin,
        httpPort: String(plan.registry.port),
        approvals: String(AUDITORS.length),
      },
      () => {},
    );
    console.log(`Created the registry ${plan.registry.origin} in ${plan.registry.dataDir}.`);
  }
  mergeJsonFile(configFile, registryConfig(plan) as Json);
  const where = { dataDir: plan.registry.dataDir };
  await ensureAuditors(where, credentials.registry.auditors);
  const document = await registryKeySet(where);
  writeFileSync(`${plan.registry.keysFile}.tmp`, `${JSON.stringify(document, null, 2)}\n`, { mode: 0o644 });
  renameSync(`${plan.registry.keysFile}.tmp`, plan.registry.keysFile);
}

async function prepareMember(plan: FederationPlan, member: MemberPlan, credentials: Credentials): Promise<void> {
  const configFile = join(member.dataDir, CONFIG_FILE_NAME);
  if (!existsSync(configFile)) {
    const identity = await initInstance(
      { domain: member.domain, dataDir: member.dataDir, httpPort: String(member.ports.http) },
      () => {},
    );
    console.log(
      `Created ${member.domain} in ${member.dataDir} (keys, self-signed certificate ${identity.tls.fingerprintSha256.slice(0, 16)}…).`,
    );
  }
  mergeJsonFile(configFile, memberConfig(plan, member) as Json);
  const account = credentials.instances.find((i) => i.domain === member.domain)!.accounts[0]!;
  await withServices({ dataDir: member.dataDir }, async (s) => {
    const existing = await s.accounts.getByUsername(account.username).catch((e: unknown) => {
      if (isAppError(e) && e.code === 'not_found') return null;
      throw e;
    });
    if (existing === null) {
      await s.accounts.create({
        username: account.username,
        password: account.password,
        role: 'user',
        displayName: member.user.displayName,
      });
    } else if (!(await new PasswordHasher().verify(existing.passwordHash, account.password))) {
      // credentials.json was lost or replaced: the account takes the password written there now.
      await s.accounts.setPassword(existing.id, account.password);
    }
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Registry: apply, audit, label

/**
 * Brings a member to a valid label through the registry's public API, doing only what is missing: apply (first
 * start, or when the registry no longer knows the application), have the demo auditors approve (a pending
 * application), or wait for the registry's maintenance tick to renew a label that lapsed while the federation was
 * stopped. A revoked member stays revoked (that is the auditors' decision): the summary says how to apply again.
 * Returns the line the summary prints.
 */
async function ensureLabelled(plan: FederationPlan, member: MemberPlan, credentials: Credentials): Promise<string> {
  const where = { dataDir: member.dataDir };
  let view = await readRegistryApplication(where, { registryUrl: plan.registry.url }).catch((e: unknown) => {
    // The registry's data was reset: this application is unknown there, apply again.
    if (e instanceof RegistryClientError && (e.status === 404 || e.status === 401)) return null;
    throw e;
  });
  if (view === null || view.status === 'closed') {
    const applied = await applyAndReport(
      {
        registry: plan.registry.url,
        dataDir: member.dataDir,
        jurisdiction: member.domain === 'alpha.test' ? 'FR' : 'DE',
        adminEmail: `admin@${member.domain}`,
        yes: true,
      },
      () => {},
    );
    view = applied!.application;
    console.log(`${member.domain} applied to ${plan.registry.origin} (application ${view.id}).`);
  }
  if (view.status === 'pending') {
    view = (await readRegistryApplication(where, { verify: true }))!;
    if (!view.checks?.mandatoryPassed) {
      const failing =
        view.checks?.results.filter((r) => r.mandatory && r.status === 'fail').map((r) => `${r.id}: ${r.evidence}`) ??
        [];
      return `${member.domain}: NOT labelled, mandatory checks fail:\n      ${failing.join('\n      ')}`;
    }
    for (const auditor of credentials.registry.auditors) await approve(plan, auditor, view.id);
    view = (await readRegistryApplication(where))!;
    if (view.label)
      console.log(
        `${member.domain} approved by ${credentials.registry.auditors.map((a) => a.name).join(' and ')}: label ${view.label.id}.`,
      );
  }
  const labelled = (v: ApplicationView) => v.label?.status === 'labelled' && Date.parse(v.label.expiresAt) > Date.now();
  if (view.status === 'approved' && !labelled(view) && view.label?.status !== 'revoked') {
    const why =
      view.label === null
        ? 'missing'
        : view.label.status === 'labelled'
          ? `expired ${view.label.expiresAt}`
          : view.label.status;
    console.log(
      `${member.domain}: label ${why}; waiting for the registry to renew it (its maintenance tick re-runs the checks first)…`,
    );
    const until = Date.now() + RENEWAL_WAIT_MS;
    while (!labelled(view) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 1000));
      view = (await readRegistryApplication(where))!;
    }
  }
  if (view.label?.status === 'revoked') {
    return `${member.domain}: label REVOKED (${view.label.revocationReason ?? 'no reason given'}); a new application needs a new decision: \`caliopen instance apply --registry ${plan.registry.url} --data-dir ${member.dataDir}\``;
  }
  if (!labelled(view))
    return `${member.domain}: NOT labelled yet (${view.decision.blockers.join('; ') || view.label?.status || view.status}); see \`caliopen instance label --data-dir ${member.dataDir}\``;
  return `${member.domain}: labelled (label ${view.label!.id}, expires ${view.label!.expiresAt})`;
}

async function approve(
  plan: FederationPlan,
  auditor: { name: string; password: string },
  applicationId: string,
): Promise<void> {
  const call = async (path: string, body: unknown, token?: string) => {
    const res = await fetch(`${plan.registry.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
    const json = (await res.json().catch(() => null)) as { token?: string; code?: string; detail?: string } | null;
    if (!res.ok)
      throw new CliError(
        `the registry refused ${path} for auditor ${auditor.name}: ${json?.detail ?? json?.code ?? res.status}`,
        1,
      );
    return json;
  };
  const login = await call('/v1/auth/login', { name: auditor.name, password: auditor.password });
  await call(`/v1/audit/applications/${encodeURIComponent(applicationId)}/votes`, { vote: 'approve' }, login!.token);
  await call('/v1/auth/logout', {}, login!.token).catch(() => undefined);
}

/** The registry's feed, verified as a peer verifies it: signature by the published key set, labels included. */
async function verifiedFeed(
  plan: FederationPlan,
): Promise<{ serial: number; instances: readonly FeedInstance[] } | { error: string }> {
  const keys = parseKeySet(await (await fetch(`${plan.registry.url}/v1/keys`)).json());
  if (!keys.ok) return { error: keys.error.message };
  const bytes = new Uint8Array(await (await fetch(`${plan.registry.url}/v1/index`)).arrayBuffer());
  const feed = await verifyFeed(bytes, { keySet: keys.value, now: Math.floor(Date.now() / 1000), verifyLabels: true });
  if (!feed.ok) return { error: `${feed.error.code}: ${feed.error.message}` };
  return { serial: feed.value.feed.serial, instances: feed.value.feed.instances };
}

/**
 * Waits (up to a minute) until each member's peer directory holds a feed listing every member labelled — what makes
 * alice's mail to bob go over the federation rather than SMTP. Read from each member's stored copy of the feed, through
 * the function its peer directory publishes for that. Returns, per member, the domains it sees labelled.
 */
async function untilMembersSeeEachOther(
  plan: FederationPlan,
  feed: Awaited<ReturnType<typeof verifiedFeed>>,
): Promise<string[][]> {
  const expected = 'error' in feed ? [] : feed.instances.filter((e) => e.status === 'labelled').map((e) => e.domain);
  const seen = () => plan.members.map((m) => labelledInStoredFeed(m.dataDir));
  const until = Date.now() + 60_000;
  let current = seen();
  while (Date.now() < until && !current.every((domains) => expected.every((d) => domains.includes(d)))) {
    await new Promise((r) => setTimeout(r, 500));
    current = seen();
  }
  return current;
}

// ---------------------------------------------------------------------------------------------------------------
// Output

function printSummary(
  plan: FederationPlan,
  credentials: Credentials,
  labels: string[],
  feed: Awaited<ReturnType<typeof verifiedFeed>>,
  federated: string[][],
): void {
  const lines: string[] = ['', `Caliopen local federation (data in ${plan.dataDir}, logs in ${plan.logDir}):`, ''];
  const r = plan.registry;
  lines.push(`  registry ${r.origin}`);
  lines.push(
    `    directory  ${r.url}/   (public site: members, their PI, the transparency log with proofs checked in the browser)`,
  );
  lines.push(`    ready      API ${r.url}/v1   (docs ${r.url}/docs)`);
  lines.push(`    feed       ${r.url}/v1/index   (signed; keys at ${r.url}/v1/keys)`);
  lines.push(
    `    auditors   ${credentials.registry.auditors.map((a) => `${a.name} / ${a.password}`).join(', ')}   (POST ${r.url}/v1/auth/login)`,
  );
  if ('error' in feed) lines.push(`    WARNING    the feed does not verify: ${feed.error}`);
  for (const [i, m] of plan.members.entries()) {
    const account = credentials.instances[i]!.accounts[0]!;
    const entry = 'error' in feed ? undefined : feed.instances.find((e) => e.domain === m.domain);
    lines.push('');
    lines.push(`  instance ${m.domain}`);
    lines.push(
      `    web app    http://127.0.0.1:${m.ports.http}/   (open it in a browser, sign in as ${account.username})`,
    );
    lines.push(
      `    ready      API http://127.0.0.1:${m.ports.http}/api/v1   (docs http://127.0.0.1:${m.ports.http}/api/docs)`,
    );
    lines.push(
      `    public     https://${m.domain}:${m.ports.https} on 127.0.0.1:${m.ports.https} (self-signed instance certificate)`,
    );
    lines.push(`    SMTP       127.0.0.1:${m.ports.smtp}   (mail to ${account.address})`);
    lines.push(`    DNS        127.0.0.1:${m.ports.dns}   dig @127.0.0.1 -p ${m.ports.dns} _caliopen.${m.domain} TXT`);
    lines.push(
      `    label      ${labels[i]!.replace(`${m.domain}: `, '')}${entry ? `; in the feed: ${entry.status}, instance PI ${entry.pi.score} (${entry.pi.level})` : ''}`,
    );
    const others = plan.members.filter((o) => o !== m);
    const peersSeen = others.filter((o) => federated[i]!.includes(o.domain));
    const ownSeen = federated[i]!.includes(m.domain);
    lines.push(
      ownSeen && peersSeen.length === others.length
        ? `    federation open: mail to ${others.map((o) => `@${o.domain}`).join(', ')} goes sealed over the federation (feed synced every ${MEMBER_SYNC_SECONDS} s)`
        : `    federation NOT open yet: its copy of the feed lists ${federated[i]!.join(', ') || 'no labelled member'}; mail goes by SMTP meanwhile (GET /api/v1/federation says why)`,
    );
    lines.push(`    login      ${account.address}: username ${account.username}, password ${account.password}`);
  }
  const [alpha, beta] = plan.members;
  const alice = credentials.instances[0]!.accounts[0]!;
  lines.push('');
  lines.push(
    `  name server 127.0.0.1:${plan.resolverPort} (UDP and TCP) answers for ${plan.members.map((m) => m.domain).join(' and ')}:`,
  );
  lines.push(`               dig @127.0.0.1 -p ${plan.resolverPort} ${beta.domain} MX`);
  lines.push('');
  lines.push(
    `Open http://127.0.0.1:${alpha.ports.http}/ and sign in as ${alice.username} (password above), or by API:`,
  );
  lines.push(
    `  curl -s -X POST http://127.0.0.1:${alpha.ports.http}/api/v1/auth/login -H 'content-type: application/json' \\`,
  );
  lines.push(`       -d '{"username":"${alice.username}","password":"${alice.password}"}'`);
  lines.push('');
  lines.push(`Accounts and passwords: ${plan.credentialsFile} (mode 0600).`);
  lines.push('Ready. Ctrl-C stops the federation; the next start reuses the same data.');
  console.log(lines.join('\n'));
}

async function stopChild(child: CaliopenChild): Promise<number | null> {
  if (child.process.exitCode !== null) return child.process.exitCode;
  const timer = setTimeout(() => {
    console.log(`${child.name} did not stop within ${STOP_TIMEOUT_MS / 1000} s: killing it.`);
    child.process.kill('SIGKILL');
  }, STOP_TIMEOUT_MS);
  const code = await child.stop('SIGTERM');
  clearTimeout(timer);
  return code;
}
