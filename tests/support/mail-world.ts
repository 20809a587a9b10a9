import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dkimSign } from 'mailauth';
import { type Api, ok } from './api-client.ts';
import { startDnsServer, type TestDnsServer, type Zone } from './dns-server.ts';
import { startTestInstance, type TestInstance } from './instance.ts';
import { waitFor } from './net.ts';
import { RawSmtpClient } from './smtp-client.ts';

/** A DKIM key (RSA 2048): its private half in PEM, and the public half as the `v=DKIM1` TXT record publishes it. */
export interface DkimKey {
  privatePem: string;
  record: string;
}

export function dkimKey(): DkimKey {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privatePem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    record: `v=DKIM1; k=rsa; p=${pair.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`,
  };
}

/** The message, DKIM-signed for `domain` under `selector` (relaxed/relaxed, as common MTAs sign). */
export async function dkimSigned(
  key: DkimKey,
  signer: { domain: string; selector: string },
  message: Buffer | string,
): Promise<string> {
  const text = Buffer.isBuffer(message) ? message.toString('utf8') : message;
  const result = await dkimSign(text, {
    canonicalization: 'relaxed/relaxed',
    signTime: new Date(),
    signatureData: [{ signingDomain: signer.domain, selector: signer.selector, privateKey: key.privatePem }],
  } as Parameters<typeof dkimSign>[1]);
  assert.deepEqual(result.errors, []);
  return result.signatures + text;
}

/** SPF (this machine may send), the DKIM key under its selector, and DMARC: a well-configured sending domain. */
export function sendingDomain(domain: string, selector: string, key: DkimKey, dmarc = 'v=DMARC1; p=reject'): Zone {
  return {
    [domain]: [{ type: 'TXT', data: 'v=spf1 ip4:127.0.0.1 -all' }],
    [`${selector}._domainkey.${domain}`]: [{ type: 'TXT', data: key.record }],
    [`_dmarc.${domain}`]: [{ type: 'TXT', data: dmarc }],
  };
}

type InstanceOptions = NonNullable<Parameters<typeof startTestInstance>[0]>;

/**
 * An instance with its SMTP server on (a free port unless `env` says), whose SPF/DKIM/DMARC checks ask `dnsServer`
 * (host:port); `env` adds to or overrides these settings.
 */
export function startSmtpInstance(o: InstanceOptions & { dnsServer: string }): Promise<TestInstance> {
  const { dnsServer, env, ...rest } = o;
  return startTestInstance({
    ...rest,
    env: {
      CALIOPEN_SMTP_ENABLED: 'true',
      CALIOPEN_SMTP_PORT: '0',
      CALIOPEN_SMTP_DNS_SERVERS: dnsServer,
      ...env,
    },
  });
}

/** An instance receiving mail over real SMTP, whose SPF/DKIM/DMARC checks ask a real DNS server on loopback. */
export interface MailWorld {
  dns: TestDnsServer;
  inst: TestInstance;
  /** The instance's TLS certificate (PEM), for STARTTLS. */
  cert: string;
  /** One SMTP session as an outside server: EHLO, STARTTLS (unless `tls: false`) and EHLO again, the message, QUIT. */
  deliver(o: { helo: string; from: string; to: string[]; raw: string | Buffer; tls?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

export async function startMailWorld(o: {
  domain: string;
  zone: Zone;
  /** The instance's key lookups (CALIOPEN_DNS_RESOLVERS) ask the same DNS server. */
  keyLookupsThroughDns?: boolean;
  env?: Record<string, string>;
  services?: InstanceOptions['services'];
  /** Where the instance logs (trace level), e.g. to check what never reaches the logs. */
  logTo?: NodeJS.WritableStream;
}): Promise<MailWorld> {
  const dns = await startDnsServer({ zone: o.zone });
  let inst: TestInstance;
  try {
    inst = await startSmtpInstance({
      domain: o.domain,
      dnsServer: `${dns.host}:${dns.port}`,
      env: {
        ...(o.keyLookupsThroughDns ? { CALIOPEN_DNS_RESOLVERS: `${dns.host}:${dns.port}` } : {}),
        ...o.env,
      },
      ...(o.services ? { services: o.services } : {}),
      ...(o.logTo ? { logTo: o.logTo } : {}),
    });
  } catch (e) {
    await dns.close();
    throw e;
  }
  const cert = readFileSync(join(inst.dataDir, 'keys', 'tls.crt'), 'utf8');
  return {
    dns,
    inst,
    cert,
    async deliver(d) {
      const c = await RawSmtpClient.connect(inst.running.smtp!.port);
      assert.equal((await c.read())?.code, 220);
      assert.equal((await c.command(`EHLO ${d.helo}`))?.code, 250);
      if (d.tls !== false) {
        await c.startTls({ ca: cert, servername: o.domain });
        assert.equal((await c.command(`EHLO ${d.helo}`))?.code, 250);
      }
      const reply = await c.send(d.from, d.to, d.raw);
      assert.equal(reply?.code, 250, `${reply?.code} ${reply?.text}`);
      await c.quit();
    },
    async stop() {
      await inst.stop();
      await dns.close();
    },
  };
}

/** Every message of an account (its discussions, then their messages). */
export async function mailbox(inst: { api: Api }, token: string): Promise<any[]> {
  const out: any[] = [];
  for (const d of ok(await inst.api('GET', '/api/v1/discussions?limit=200', { token })).items) {
    out.push(...ok(await inst.api('GET', `/api/v1/discussions/${d.id}/messages?limit=200`, { token })).items);
  }
  return out;
}

/** Waits (30 s at most) for a message of the account that `match` picks; resolves its detail (PI breakdown included). */
export async function receivedMessage(inst: TestInstance, token: string, match: (m: any) => boolean): Promise<any> {
  let id: string | null = null;
  await waitFor(async () => {
    id = (await mailbox(inst, token)).find(match)?.id ?? null;
    return id !== null;
  }, 30_000);
  return ok(await inst.api('GET', `/api/v1/messages/${id}`, { token }));
}
