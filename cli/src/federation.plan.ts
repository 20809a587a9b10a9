import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

/**
 * What `caliopen federation` runs, where, on which ports: pure data, computed from the environment. The processes
 * themselves are started by federation.command.ts.
 */

export const REGISTRY_ORIGIN = 'registry.test';
export const AUDITORS = ['ines', 'oscar'] as const;

export interface MemberPlan {
  domain: string;
  /** The demo user: `<username>@<domain>`. */
  user: { username: string; displayName: string };
  ports: { http: number; https: number; smtp: number; dns: number };
  dataDir: string;
}

export interface FederationPlan {
  dataDir: string;
  credentialsFile: string;
  logDir: string;
  /** `keysFile`: the registry's published key set, written at each start, which the members pin. */
  registry: { origin: string; dataDir: string; port: number; url: string; keysFile: string };
  /** The federation's name server (federation.resolver.ts). */
  resolverPort: number;
  members: [MemberPlan, MemberPlan];
  /** Every port, what listens there and the variable that moves it. */
  bindings: { port: number; what: string; env: string; udp: boolean }[];
}

interface PortSetting {
  env: string;
  what: string;
  fallback: number;
  /** DNS ports are bound over UDP and TCP. */
  udp?: true;
}

/**
 * Fixed defaults, each overridable by its environment variable. They avoid the usual development ports of other
 * software where that is cheap: 5353 (mDNS, often taken by avahi) is not used; 8080/8443/2525 are the instance's
 * own defaults.
 */
export const PORT_SETTINGS = {
  registry: { env: 'CALIOPEN_REGISTRY_HTTP_PORT', what: 'registry HTTP API', fallback: 8090 },
  resolver: {
    env: 'CALIOPEN_FEDERATION_DNS_PORT',
    what: 'federation name server (UDP and TCP)',
    fallback: 5300,
    udp: true,
  },
  alphaHttp: { env: 'CALIOPEN_ALPHA_HTTP_PORT', what: 'alpha.test HTTP API', fallback: 8080 },
  alphaHttps: { env: 'CALIOPEN_ALPHA_HTTPS_PORT', what: 'alpha.test public HTTPS face', fallback: 8443 },
  alphaSmtp: { env: 'CALIOPEN_ALPHA_SMTP_PORT', what: 'alpha.test SMTP', fallback: 2525 },
  alphaDns: {
    env: 'CALIOPEN_ALPHA_DNS_PORT',
    what: 'alpha.test DNS responder (UDP and TCP)',
    fallback: 5301,
    udp: true,
  },
  betaHttp: { env: 'CALIOPEN_BETA_HTTP_PORT', what: 'beta.test HTTP API', fallback: 8081 },
  betaHttps: { env: 'CALIOPEN_BETA_HTTPS_PORT', what: 'beta.test public HTTPS face', fallback: 8444 },
  betaSmtp: { env: 'CALIOPEN_BETA_SMTP_PORT', what: 'beta.test SMTP', fallback: 2526 },
  betaDns: { env: 'CALIOPEN_BETA_DNS_PORT', what: 'beta.test DNS responder (UDP and TCP)', fallback: 5302, udp: true },
} satisfies Record<string, PortSetting>;

type PortName = keyof typeof PORT_SETTINGS;

/** Environment variables `caliopen federation` reads itself; every other CALIOPEN_* setting is for one process. */
export const FEDERATION_ENV = new Set([
  'CALIOPEN_DATA_DIR',
  'CALIOPEN_LOG_LEVEL',
  ...Object.values(PORT_SETTINGS).map((p) => p.env),
]);

export class FederationPlanError extends Error {}

/** The plan from the environment: ports validated (integers 1–65535, no two alike), directories resolved. */
export function federationPlan(env: NodeJS.ProcessEnv, dataDirOption?: string): FederationPlan {
  const ports = {} as Record<PortName, number>;
  const problems: string[] = [];
  for (const [name, setting] of Object.entries(PORT_SETTINGS) as [PortName, PortSetting][]) {
    const raw = env[setting.env];
    if (raw === undefined || raw === '') {
      ports[name] = setting.fallback;
      continue;
    }
    const value = Number(raw);
    if (!/^\d{1,5}$/.test(raw.trim()) || value < 1 || value > 65535)
      problems.push(`${setting.env}="${raw}" must be a port number from 1 to 65535`);
    ports[name] = value;
  }
  const seen = new Map<number, string>();
  for (const [name, port] of Object.entries(ports) as [PortName, number][]) {
    const other = seen.get(port);
    if (other !== undefined)
      problems.push(`${PORT_SETTINGS[name].env} and ${other} are both ${port}: each needs its own port`);
    seen.set(port, PORT_SETTINGS[name].env);
  }
  if (problems.length > 0) throw new FederationPlanError(`Invalid port settings:\n  - ${problems.join('\n  - ')}`);

  const dataDir = resolve(dataDirOption ?? env.CALIOPEN_DATA_DIR ?? '.data/federation');
  const member = (domain: string, username: string, displayName: string, p: 'alpha' | 'beta'): MemberPlan => ({
    domain,
    user: { username, displayName },
    ports: { http: ports[`${p}Http`], https: ports[`${p}Https`], smtp: ports[`${p}Smtp`], dns: ports[`${p}Dns`] },
    dataDir: join(dataDir, domain),
  });
  return {
    dataDir,
    credentialsFile: join(dataDir, 'credentials.json'),
    logDir: join(dataDir, 'logs'),
    registry: {
      origin: REGISTRY_ORIGIN,
      dataDir: join(dataDir, 'registry'),
      port: ports.registry,
      url: `http://127.0.0.1:${ports.registry}`,
      keysFile: join(dataDir, 'registry-keys.json'),
    },
    resolverPort: ports.resolver,
    members: [member('alpha.test', 'alice', 'Alice', 'alpha'), member('beta.test', 'bob', 'Bob', 'beta')],
    bindings: (Object.entries(PORT_SETTINGS) as [PortName, PortSetting][]).map(([name, s]) => ({
      port: ports[name],
      what: s.what,
      env: s.env,
      udp: s.udp === true,
    })),
  };
}

/** How often members sync the registry's feed in the local federation (a delta, usually nothing; production: 300 s). */
export const MEMBER_SYNC_SECONDS = 5;

/**
 * The instance configuration the federation writes into `<member>/caliopen.json` (merged over what is there, so
 * `caliopen instance start --data-dir <member>` runs the same instance on its own): every port, SMTP and the DNS
 * responder on, the federation's name server for every lookup (peers' host names included), the registry's feed
 * with its key set pinned, and mail to the other member routed to its SMTP port when it goes by email.
 */
export function memberConfig(plan: FederationPlan, member: MemberPlan): Record<string, unknown> {
  const resolver = `127.0.0.1:${plan.resolverPort}`;
  return {
    domain: member.domain,
    http: { host: '127.0.0.1', port: member.ports.http },
    https: { enabled: true, host: '127.0.0.1', port: member.ports.https },
    smtp: { enabled: true, host: '127.0.0.1', port: member.ports.smtp, dnsServers: [resolver] },
    dns: { enabled: true, host: '127.0.0.1', port: member.ports.dns, addresses: ['127.0.0.1'], resolvers: [resolver] },
    outbound: {
      mxOverride: plan.members.filter((m) => m !== member).map((m) => `${m.domain}=127.0.0.1:${m.ports.smtp}`),
    },
    federation: {
      registryUrl: plan.registry.url,
      registryKeys: plan.registry.keysFile,
      syncSeconds: MEMBER_SYNC_SECONDS,
    },
  };
}

/**
 * The registry configuration written into `<registry>/registry.json` (merged likewise). The checks reach each member
 * through `checks.connectTo` — an operator's entry, trusted as such — so `checks.allowPrivateTargets` stays off: no
 * other applicant can make this registry probe the machine's loopback. DNS checks ask the federation's name server.
 * The maintenance tick runs every 10 s and members are re-checked every 15 min, so that a label due for renewal when
 * the federation starts again is renewed within seconds, and a check that failed while a member was down is retried
 * soon (the production defaults are 60 s and 6 h).
 */
export function registryConfig(plan: FederationPlan): Record<string, unknown> {
  return {
    origin: plan.registry.origin,
    http: { host: '127.0.0.1', port: plan.registry.port },
    checks: {
      dnsServer: `127.0.0.1:${plan.resolverPort}`,
      connectTo: Object.fromEntries(plan.members.map((m) => [m.domain, `127.0.0.1:${m.ports.https}`])),
      allowPrivateTargets: false,
      recheckIntervalHours: 0.25,
    },
    audit: { approvalsRequired: AUDITORS.length },
    tickSeconds: 10,
  };
}

/** Every port of the plan that something already uses, with the variable that moves it. */
export async function portsInUse(plan: FederationPlan): Promise<string[]> {
  const taken: string[] = [];
  for (const b of plan.bindings) {
    const why = (await tcpTaken(b.port)) ?? (b.udp ? await udpTaken(b.port) : null);
    if (why) taken.push(`port ${b.port} (${b.what}) is ${why}: stop what uses it, or set ${b.env}=<another port>`);
  }
  return taken;
}

function tcpTaken(port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (e: NodeJS.ErrnoException) =>
      resolve(e.code === 'EADDRINUSE' ? 'in use' : `not available (${e.code ?? e.message})`),
    );
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(null)));
  });
}

function udpTaken(port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', (e: NodeJS.ErrnoException) => {
      socket.close();
      resolve(e.code === 'EADDRINUSE' ? 'in use (UDP)' : `not available over UDP (${e.code ?? e.message})`);
    });
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(null)));
  });
}
