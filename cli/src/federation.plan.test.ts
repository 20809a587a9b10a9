import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { describe, it } from 'vitest';
import {
  FederationPlanError,
  PORT_SETTINGS,
  federationPlan,
  memberConfig,
  portsInUse,
  registryConfig,
} from './federation.plan.ts';

describe('federation plan', () => {
  it('uses the fixed defaults when nothing is set, every port distinct', () => {
    const plan = federationPlan({});
    assert.equal(plan.registry.port, 8090);
    assert.deepEqual(
      plan.members.map((m) => m.domain),
      ['alpha.test', 'beta.test'],
    );
    assert.deepEqual(plan.members[0].ports, { http: 8080, https: 8443, smtp: 2525, dns: 5301 });
    const ports = plan.bindings.map((b) => b.port);
    assert.equal(new Set(ports).size, ports.length);
    assert.ok(!ports.includes(5353), 'not the mDNS port');
    assert.match(plan.dataDir, /\.data\/federation$/);
  });

  it('takes every port and the data directory from the environment', () => {
    const env: NodeJS.ProcessEnv = { CALIOPEN_DATA_DIR: '/tmp/fed-x' };
    Object.values(PORT_SETTINGS).forEach((p, i) => {
      env[p.env] = String(20000 + i);
    });
    const plan = federationPlan(env);
    assert.equal(plan.dataDir, '/tmp/fed-x');
    assert.equal(plan.members[1].dataDir, '/tmp/fed-x/beta.test');
    assert.deepEqual(
      plan.bindings.map((b) => b.port).sort(),
      Object.values(PORT_SETTINGS).map((_, i) => 20000 + i),
    );
    assert.equal(federationPlan(env, '/elsewhere').dataDir, '/elsewhere', '--data-dir wins');
  });

  it('refuses ports that are not ports, and two services on one port, naming the variables', () => {
    for (const bad of ['0', '65536', '80a', '-1', '8080.5', ' ']) {
      assert.throws(
        () => federationPlan({ CALIOPEN_ALPHA_SMTP_PORT: bad }),
        (e: Error) => e instanceof FederationPlanError && e.message.includes('CALIOPEN_ALPHA_SMTP_PORT'),
        bad,
      );
    }
    assert.throws(
      () => federationPlan({ CALIOPEN_BETA_HTTP_PORT: '8080' }),
      (e: Error) =>
        e instanceof FederationPlanError &&
        /CALIOPEN_BETA_HTTP_PORT and CALIOPEN_ALPHA_HTTP_PORT are both 8080/.test(e.message),
    );
  });

  it('routes each member to the other over SMTP and every lookup to the federation name server', () => {
    const plan = federationPlan({});
    const alpha = memberConfig(plan, plan.members[0]) as {
      outbound: { mxOverride: string[] };
      dns: { resolvers: string[]; enabled: boolean };
      smtp: { dnsServers: string[] };
    };
    assert.deepEqual(alpha.outbound.mxOverride, ['beta.test=127.0.0.1:2526']);
    assert.deepEqual(alpha.dns.resolvers, ['127.0.0.1:5300']);
    assert.deepEqual(alpha.smtp.dnsServers, ['127.0.0.1:5300']);
    assert.equal(alpha.dns.enabled, true);
    const registry = registryConfig(plan) as {
      checks: { connectTo: Record<string, string>; allowPrivateTargets: boolean; dnsServer: string };
    };
    assert.deepEqual(registry.checks.connectTo, { 'alpha.test': '127.0.0.1:8443', 'beta.test': '127.0.0.1:8444' });
    assert.equal(
      registry.checks.allowPrivateTargets,
      false,
      'operator connectTo entries only; no applicant may make it probe loopback',
    );
    assert.equal(registry.checks.dnsServer, '127.0.0.1:5300');
  });

  it('reports a port in use (TCP, and UDP for DNS ports) with the variable that moves it', async () => {
    const tcp = createServer();
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    const tcpPort = (tcp.address() as { port: number }).port;
    // A UDP port whose TCP twin is free: TCP and UDP ports are numbered apart, and a parallel test's TCP socket on the
    // same number would make the planner report the TCP side first (the UDP check this test is about never runs).
    let udp = createSocket('udp4');
    for (;;) {
      await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
      if (await tcpFree(udp.address().port)) break;
      const busy = udp;
      await new Promise<void>((r) => busy.close(() => r()));
      udp = createSocket('udp4');
    }
    const udpPort = udp.address().port;
    try {
      const env: NodeJS.ProcessEnv = {};
      // Free ports for everything else: ask the kernel for each.
      const used = new Set([tcpPort, udpPort]);
      for (const p of Object.values(PORT_SETTINGS)) {
        let port = await freePort();
        while (used.has(port)) port = await freePort();
        used.add(port);
        env[p.env] = String(port);
      }
      env.CALIOPEN_ALPHA_HTTPS_PORT = String(tcpPort);
      env.CALIOPEN_BETA_DNS_PORT = String(udpPort);
      const taken = await portsInUse(federationPlan(env));
      assert.equal(taken.length, 2, taken.join('\n'));
      assert.match(
        taken[0]!,
        new RegExp(`port ${tcpPort} \\(alpha.test public HTTPS face\\) is in use.*CALIOPEN_ALPHA_HTTPS_PORT=`),
      );
      assert.match(
        taken[1]!,
        new RegExp(`port ${udpPort} \\(beta.test DNS responder .*\\) is in use \\(UDP\\).*CALIOPEN_BETA_DNS_PORT=`),
      );
    } finally {
      tcp.close();
      udp.close();
    }
  });
});

function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A port free over TCP and over UDP (the DNS ports are checked on both). */
async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const socket = createSocket('udp4');
      socket.once('error', () => {
        socket.close();
        resolve(false);
      });
      socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
}
