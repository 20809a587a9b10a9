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
    const udp = createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
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

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
