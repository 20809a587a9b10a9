/**
 * An outside XMPP user for tests: a separate Node process running the stock `@xmpp/client` (the library a
 * correspondent's app might use), trusting the test server's self-signed certificate through NODE_EXTRA_CA_CERTS, so
 * nothing in the test process weakens TLS checks. The test drives it over stdin (JSON lines) and reads what it hears
 * from stdout (JSON lines).
 *
 * Run as a script (`node --import tsx tests/support/xmpp-contact.ts`), it is the client; imported, it starts one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ROOT } from './process.ts';

export interface HeardChat {
  from: string;
  to: string;
  id: string | null;
  body: string;
}

export interface XmppContact {
  jid: string;
  /** Chat messages heard so far. */
  heard: HeardChat[];
  /** Sends a chat message (type chat, origin-id = id) and resolves once written. */
  send(to: string, body: string, id?: string): Promise<void>;
  /** Writes a raw stanza (XML text) as it is: for hostile input. */
  sendRaw(xml: string): Promise<void>;
  /** Pings its server and waits for the answer: everything sent before has been taken by the server. */
  ping(): Promise<void>;
  /** How many times it came online (its client reconnects by itself after the server restarted). */
  onlines(): number;
  /** Lines it reported (online, errors...), for failing assertions. */
  log(): string;
  stop(): Promise<void>;
}

const SELF = fileURLToPath(import.meta.url);

export async function startXmppContact(o: {
  port: number;
  domain: string;
  username: string;
  password: string;
  caFile: string;
}): Promise<XmppContact> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', SELF], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_EXTRA_CA_CERTS: o.caFile,
      XMPP_CONTACT: JSON.stringify({ port: o.port, domain: o.domain, username: o.username, password: o.password }),
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const heard: HeardChat[] = [];
  const lines: string[] = [];
  const waiting = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();
  let online: (() => void) | null = null;
  let onlineCount = 0;
  let failed: ((e: Error) => void) | null = null;
  const ready = new Promise<void>((resolve, reject) => {
    online = resolve;
    failed = reject;
  });
  child.stderr?.on('data', (c: Buffer) => lines.push(c.toString()));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    let ev: Record<string, unknown>;
    try {
      ev = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if (ev.ev === 'online') {
      onlineCount++;
      online?.();
    } else if (ev.ev === 'fatal') failed?.(new Error(String(ev.error)));
    else if (ev.ev === 'message') heard.push(ev.message as HeardChat);
    else if (ev.ev === 'done') {
      const w = waiting.get(String(ev.ref));
      waiting.delete(String(ev.ref));
      if (ev.error) w?.reject(new Error(String(ev.error)));
      else w?.resolve();
    }
  });
  child.on('exit', (code) => {
    failed?.(new Error(`xmpp contact exited (${code}): ${lines.join('\n').slice(-2000)}`));
    for (const w of waiting.values()) w.reject(new Error('xmpp contact exited'));
  });
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const timer = setTimeout(() => failed?.(new Error(`xmpp contact not online in 20 s: ${lines.join('\n')}`)), 20_000);
  try {
    await ready;
  } finally {
    clearTimeout(timer);
  }
  let ref = 0;
  const command = (op: Record<string, unknown>) =>
    new Promise<void>((resolve, reject) => {
      const r = String(++ref);
      waiting.set(r, { resolve, reject });
      child.stdin!.write(`${JSON.stringify({ ...op, ref: r })}\n`);
    });
  return {
    jid: `${o.username}@${o.domain}`,
    heard,
    send: (to, body, id) => command({ op: 'send', to, body, id: id ?? null }),
    sendRaw: (xml) => command({ op: 'raw', xml }),
    ping: () => command({ op: 'ping' }),
    onlines: () => onlineCount,
    log: () => lines.join('\n').slice(-4000),
    async stop() {
      process.off('exit', kill);
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin!.write(`${JSON.stringify({ op: 'stop', ref: '0' })}\n`);
      const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** The client process itself. */
async function runClient(): Promise<void> {
  const { client, xml } = await import('@xmpp/client');
  const cfg = JSON.parse(process.env.XMPP_CONTACT!) as {
    port: number;
    domain: string;
    username: string;
    password: string;
  };
  const out = (ev: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(ev)}\n`);
  const xmpp = client({
    service: `xmpp://127.0.0.1:${cfg.port}`,
    domain: cfg.domain,
    username: cfg.username,
    password: cfg.password,
    resource: 'contact',
  });
  xmpp.on('error', (err: Error) => out({ ev: 'error', error: err.message }));
  xmpp.on('stanza', (s: any) => {
    if (!s.is('message')) return;
    const body = s.getChildText('body');
    if (body === null) return;
    out({ ev: 'message', message: { from: s.attrs.from, to: s.attrs.to, id: s.attrs.id ?? null, body } });
  });
  xmpp.on('online', async () => {
    await xmpp.send(xml('presence'));
    out({ ev: 'online' });
  });
  try {
    await xmpp.start();
  } catch (e) {
    out({ ev: 'fatal', error: (e as Error).message });
    process.exit(1);
  }
  createInterface({ input: process.stdin }).on('line', async (line) => {
    const cmd = JSON.parse(line) as {
      op: string;
      ref: string;
      to?: string;
      body?: string;
      id?: string | null;
      xml?: string;
    };
    try {
      if (cmd.op === 'send') {
        const id = cmd.id ?? `c-${Math.random().toString(36).slice(2)}`;
        await xmpp.send(
          xml(
            'message',
            { to: cmd.to, type: 'chat', id },
            xml('body', {}, cmd.body),
            xml('origin-id', { xmlns: 'urn:xmpp:sid:0', id }),
          ),
        );
      } else if (cmd.op === 'ping') {
        await xmpp.iqCaller.request(
          xml('iq', { type: 'get', to: cfg.domain }, xml('ping', { xmlns: 'urn:xmpp:ping' })),
          30_000,
        );
      } else if (cmd.op === 'raw') {
        await xmpp.write(cmd.xml);
      } else if (cmd.op === 'stop') {
        await xmpp.stop().catch(() => undefined);
        process.exit(0);
      }
      out({ ev: 'done', ref: cmd.ref });
    } catch (e) {
      out({ ev: 'done', ref: cmd.ref, error: (e as Error).message });
    }
  });
}

if (process.env.XMPP_CONTACT && process.argv[1] === SELF) void runClient();
