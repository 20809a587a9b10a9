/**
 * The local federation of `npm start` (`caliopen federation`: a registry, alpha.test and beta.test audited and
 * labelled, a loopback name server for both zones), prepared on free ports in a data folder, for the tests and
 * benches that then run its members as separate processes: federation-processes.test.ts, web-federation.test.ts,
 * tests/bench/federation-processes.bench.ts.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnCaliopen, untilReady } from '@caliopen/cli/federation.children.ts';
import { startLoopbackResolver, type LoopbackResolver } from '@caliopen/cli/federation.resolver.ts';
import { CONFIG_FILE_NAME } from '@caliopen/instance/config/config.loader.ts';
import { freePort } from './net.ts';
import { ROOT } from './process.ts';

export interface MemberPorts {
  http: number;
  https: number;
  smtp: number;
  dns: number;
}

export interface FederationPorts {
  registry: number;
  /** The federation's name server (both zones). */
  resolver: number;
  alpha: MemberPorts;
  beta: MemberPorts;
  /** More free ports, distinct from the others, for the caller's own use. */
  extra: number[];
}

/** Free, distinct loopback ports for every service of the federation, and `extra` more. */
export async function federationPorts(extra = 0): Promise<FederationPorts> {
  const seen = new Set<number>();
  while (seen.size < 10 + extra) seen.add(await freePort());
  const p = [...seen];
  return {
    registry: p[0]!,
    resolver: p[1]!,
    alpha: { http: p[2]!, https: p[3]!, smtp: p[4]!, dns: p[5]! },
    beta: { http: p[6]!, https: p[7]!, smtp: p[8]!, dns: p[9]! },
    extra: p.slice(10),
  };
}

/** The environment that puts `caliopen federation` on these ports. */
export function federationPortEnv(ports: FederationPorts): Record<string, string> {
  const env: Record<string, string> = {
    CALIOPEN_REGISTRY_HTTP_PORT: String(ports.registry),
    CALIOPEN_FEDERATION_DNS_PORT: String(ports.resolver),
  };
  for (const member of ['alpha', 'beta'] as const)
    for (const service of ['http', 'https', 'smtp', 'dns'] as const)
      env[`CALIOPEN_${member.toUpperCase()}_${service.toUpperCase()}_PORT`] = String(ports[member][service]);
  return env;
}

/** The environment without the caller's CALIOPEN_* settings, which would reach every process at once. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CALIOPEN_'))),
    CALIOPEN_LOG_LEVEL: 'warn',
    ...extra,
  };
}

export interface PreparedFederation {
  /** The ports it was prepared on (its members keep them in their configuration). */
  ports: FederationPorts;
  /** What `caliopen federation` printed. */
  output: string;
  /** The accounts it made (credentials.json). */
  credentials: any;
  passwordOf(username: string): string;
}

/**
 * Runs `caliopen federation --data-dir <dataDir>` on free ports until it says the federation is open (both members
 * labelled), then stops it: the members are then started one by one by the caller. A port found free can be taken by
 * another process before the federation binds it (the tests run in parallel): then the whole preparation is done
 * again on other ports, up to three times. Throws with its output otherwise (stopped first, not ready within
 * `timeoutMs`, or not stopping cleanly).
 */
export async function prepareLocalFederation(
  dataDir: string,
  o: { extraPorts?: number; timeoutMs?: number } = {},
): Promise<PreparedFederation> {
  for (let attempt = 1; ; attempt++) {
    const ports = await federationPorts(o.extraPorts ?? 0);
    try {
      return await prepareOn(dataDir, ports, o.timeoutMs ?? 300_000);
    } catch (e) {
      if (attempt >= 3 || !/already in use/.test((e as Error).message)) throw e;
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
}

async function prepareOn(dataDir: string, ports: FederationPorts, timeoutMs: number): Promise<PreparedFederation> {
  const supervisor = spawnCaliopen(['federation', '--data-dir', dataDir], {
    name: 'federation',
    cwd: ROOT,
    env: cleanEnv(federationPortEnv(ports)),
  });
  try {
    await untilReady(
      supervisor,
      async () => supervisor.output().includes('Ready. Ctrl-C stops the federation'),
      timeoutMs,
      250,
    );
  } catch (e) {
    await supervisor.stop('SIGKILL');
    throw e;
  }
  const output = supervisor.output();
  const code = await supervisor.stop('SIGTERM');
  if (code !== 0) throw new Error(`caliopen federation did not stop cleanly (${code}):\n${output.slice(-2000)}`);
  const credentials = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8'));
  return {
    ports,
    output,
    credentials,
    passwordOf: (username) =>
      credentials.instances.flatMap((i: any) => i.accounts).find((a: any) => a.username === username).password,
  };
}

/** The federation's name server on its port, routing each zone to its member's DNS responder. */
export function startFederationResolver(ports: FederationPorts): Promise<LoopbackResolver> {
  return startLoopbackResolver({
    port: ports.resolver,
    routes: [
      { zone: 'alpha.test', host: '127.0.0.1', port: ports.alpha.dns },
      { zone: 'beta.test', host: '127.0.0.1', port: ports.beta.dns },
    ],
    fallback: null,
  });
}

/** Changes a member's configuration file (`<dir>/caliopen.json`) before it starts. */
export function mergeConfig(dir: string, patch: (config: any) => void): void {
  const file = join(dir, CONFIG_FILE_NAME);
  const config = JSON.parse(readFileSync(file, 'utf8'));
  patch(config);
  writeFileSync(file, JSON.stringify(config, null, 2));
}
