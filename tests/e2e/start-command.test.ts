/**
 * The README's first command, `npm start`, exactly as a newcomer runs it: it brings up an instance on embedded
 * defaults that answers /healthz and lets the demo account log in; Ctrl-C stops it; a second start reuses the data.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { createTransport } from 'nodemailer';
import { freePort, waitFor } from '../support/net.ts';
import { tempDir } from '../support/tmp.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tmp = tempDir('caliopen-start-');
after(() => tmp.cleanup());

async function npmStart(port: number): Promise<{ output: () => string; stop: () => Promise<number | null> }> {
  // Its own process group, so Ctrl-C (SIGINT) reaches npm and the node process under it, as in a terminal.
  const child = spawn('npm', ['start'], {
    cwd: root,
    detached: true,
    env: { ...process.env, CALIOPEN_DATA_DIR: join(tmp.dir, 'demo'), CALIOPEN_HTTP_PORT: String(port), CALIOPEN_HTTPS_PORT: '0', CALIOPEN_SMTP_PORT: '0', CALIOPEN_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok && out.includes('Ctrl-C'), 60_000).catch((e) => {
    process.kill(-child.pid!, 'SIGKILL');
    throw new Error(`npm start did not come up: ${(e as Error).message}\n${out}`);
  });
  return {
    output: () => out,
    stop: async () => {
      process.kill(-child.pid!, 'SIGINT');
      return exited;
    },
  };
}

test('npm start: demo instance answers /healthz, the demo account logs in, Ctrl-C stops it, data is reused', async () => {
  const port = await freePort();
  const first = await npmStart(port);
  const health = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { status: string; domain: string };
  assert.equal(health.status, 'ok');
  assert.equal(health.domain, 'demo.test');

  const credentials = JSON.parse(readFileSync(join(tmp.dir, 'demo', 'demo-credentials.json'), 'utf8'));
  const demo = credentials.accounts.find((a: { role: string }) => a.role === 'user');
  assert.ok(first.output().includes(`${demo.username} / ${demo.password}`), 'the start prints how to log in');
  const login = await fetch(`http://127.0.0.1:${port}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: demo.username, password: demo.password }),
  });
  assert.equal(login.status, 200);
  const { account, token } = (await login.json()) as { account: { id: string }; token: string };

  // The demo instance receives mail: send one over SMTP (STARTTLS with the self-signed instance certificate).
  const smtp = /SMTP\s+127\.0\.0\.1:(\d+)/.exec(first.output());
  assert.ok(smtp, first.output());
  const transport = createTransport({ host: '127.0.0.1', port: Number(smtp[1]), secure: false, tls: { rejectUnauthorized: false } });
  await transport.sendMail({ from: 'Zoé <zoe@elsewhere.example>', to: 'demo@demo.test', subject: 'Bienvenue', text: 'Premier message.' });
  transport.close();
  await waitFor(async () => {
    const r = await fetch(`http://127.0.0.1:${port}/api/v1/discussions`, { headers: { authorization: `Bearer ${token}` } });
    const body = (await r.json()) as { items: { title: string }[] };
    return body.items.length === 1;
  }, 30_000);
  assert.equal((await first.stop()) ?? 0, 0);

  const second = await npmStart(port);
  const again = await fetch(`http://127.0.0.1:${port}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: demo.username, password: demo.password }),
  });
  assert.equal(again.status, 200, 'same account, same password after a restart');
  assert.equal(((await again.json()) as { account: { id: string } }).account.id, account.id);
  await second.stop();
});
