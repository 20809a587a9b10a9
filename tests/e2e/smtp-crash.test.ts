import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { AccountService } from '@caliopen/instance/accounts/account.service.ts';
import { PasswordHasher } from '@caliopen/platform/crypto/password.hasher.ts';
import { initInstance } from '@caliopen/instance/app/instance.init.ts';
import { systemClock } from '@caliopen/platform/clock/clock.port.ts';
import { openSqlite } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import { SqliteStorage } from '@caliopen/instance/storage/storage.sqlite.ts';
import { freePort, waitFor } from '../support/net.ts';
import { RawSmtpClient } from '../support/smtp-client.ts';
import { tempDir } from '../support/tmp.ts';
import { startInternetDns } from './fixtures/internet-dns.ts';

/**
 * R1: the instance process is killed with SIGKILL in the middle of an SMTP burst (1,000 messages of ~2 KB on 8
 * connections); after a restart, every message that got a `250` is in the mailbox exactly once, and no message is
 * there twice. The instance runs as an operator runs it (`caliopen instance start`, a separate process); the mailbox
 * is read from its database after a clean stop.
 *
 * Full size (TARGETS.md R1: 10,000 in a script): `npm run bench:r1` runs this file with R1_TOTAL=10000 (the kill
 * comes after 30% of the burst is acknowledged, whatever the size).
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(root, 'cli/bin/caliopen.mjs');
const DOMAIN = 'crash.test';
const TOTAL = Number(process.env.R1_TOTAL ?? 1000);
const CONNECTIONS = 8;
const KILL_AFTER = Math.round(TOTAL * 0.3);
/** Bounds grow with the burst. */
const SCALE = Math.max(1, TOTAL / 1000);

function startProcess(dataDir: string, env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [BIN, 'instance', 'start', '--data-dir', dataDir], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
}

const body =
  'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore.\r\n'.repeat(20);
const message = (n: number) =>
  `From: Burst <burst@sender.example>\r\nTo: bob@${DOMAIN}\r\nSubject: burst ${n}\r\nMessage-ID: <burst-${n}@sender.example>\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n\r\n${body}`;

it(`SIGKILL during a burst of ${TOTAL.toLocaleString('en-US')} messages on 8 connections: every acknowledged message is delivered exactly once`, {
  timeout: 180_000 * SCALE,
}, async () => {
  const tmp = tempDir('caliopen-smtp-crash-');
  const dataDir = join(tmp.dir, 'instance');
  const dns = await startInternetDns({ 'sender.example': ['v=spf1 ip4:127.0.0.1 -all'] });
  const children: ChildProcess[] = [];
  const t0 = Date.now();
  const mark = (what: string) => console.info(`${what} at ${Date.now() - t0} ms`);
  try {
    // Created in this process (what `caliopen instance init` and `admin user add` do), to spare two process starts.
    await initInstance({ domain: DOMAIN, dataDir, httpPort: '0' }, () => {});
    const storage = SqliteStorage.inDataDir(dataDir);
    await new AccountService(storage, new PasswordHasher(), systemClock, 1024 ** 3).create({
      username: 'bob',
      password: 'pw-bob-0123456789',
    });
    await storage.close();
    mark('init+user');
    const smtpPort = await freePort();
    const env = {
      CALIOPEN_HTTP_PORT: '0',
      CALIOPEN_HTTPS_PORT: '0',
      CALIOPEN_SMTP_ENABLED: 'true',
      CALIOPEN_SMTP_PORT: String(smtpPort),
      CALIOPEN_SMTP_MAX_CONNECTIONS_PER_IP: '0',
      CALIOPEN_SMTP_MESSAGES_PER_MINUTE_PER_IP: '0',
      CALIOPEN_SMTP_DNS_SERVERS: dns.server,
      CALIOPEN_LOG_LEVEL: 'error',
    };
    const answers = async () => {
      const c = await RawSmtpClient.connect(smtpPort);
      const greeting = await c.read(2000);
      c.destroy();
      return greeting?.code === 220;
    };

    const first = startProcess(dataDir, env);
    children.push(first);
    await waitFor(answers, 60_000, 100);
    mark('started');

    // The burst: 8 connections take the next message number from a shared counter; a 250 is an acknowledgement.
    const acknowledged = new Set<number>();
    const attempted = new Set<number>();
    let next = 0;
    let killed = false;
    const sender = async () => {
      const c = await RawSmtpClient.connect(smtpPort);
      try {
        if ((await c.read())?.code !== 220) return;
        if ((await c.command('EHLO burst.sender.example'))?.code !== 250) return;
        while (next < TOTAL) {
          const n = next++;
          attempted.add(n);
          const reply = await c.send('burst@sender.example', [`bob@${DOMAIN}`], message(n)).catch(() => null);
          if (reply?.code === 250) acknowledged.add(n);
          else return; // the server is gone
          if (!killed && acknowledged.size >= KILL_AFTER) {
            killed = true;
            first.kill('SIGKILL');
          }
        }
      } finally {
        c.destroy();
      }
    };
    await Promise.all(Array.from({ length: CONNECTIONS }, sender));
    await exited(first);
    mark('killed');
    assert.equal(first.signalCode, 'SIGKILL', 'the process died by SIGKILL');
    assert.ok(
      acknowledged.size >= KILL_AFTER && acknowledged.size < TOTAL,
      `killed mid-burst (${acknowledged.size} acknowledged)`,
    );
    console.info(`killed after ${acknowledged.size} acknowledged, ${attempted.size} attempted`);

    // Restart: leftovers in the spool are delivered; then a clean stop so the databases can be read.
    const second = startProcess(dataDir, env);
    children.push(second);
    await waitFor(answers, 60_000, 100);
    mark('restarted');
    // What a sending MTA does next: it retries the messages it got no 250 for. Those that were committed before the
    // process died arrive a second time with the same bytes, and must still end up in the mailbox once.
    const retried = [...attempted].filter((n) => !acknowledged.has(n));
    const retry = await RawSmtpClient.connect(smtpPort);
    assert.equal((await retry.read())?.code, 220);
    await retry.command('EHLO burst.sender.example');
    for (const n of retried) {
      assert.equal(
        (await retry.send('burst@sender.example', [`bob@${DOMAIN}`], message(n)))?.code,
        250,
        `retry of ${n}`,
      );
      acknowledged.add(n);
    }
    await retry.quit();
    const spool = openSqlite(join(dataDir, 'spool.db'), { readonly: true });
    try {
      await waitFor(
        async () => (spool.prepare('SELECT COUNT(*) AS n FROM spool').get() as { n: number }).n === 0,
        90_000 * SCALE,
        200,
      );
    } finally {
      spool.close();
    }
    mark('drained');
    second.kill('SIGTERM');
    await exited(second);
    assert.equal(second.exitCode, 0, 'a clean stop after the restart');
    mark('stopped');

    const db = openSqlite(join(dataDir, 'instance.db'), { readonly: true });
    const rows = db
      .prepare("SELECT external_id AS id, COUNT(*) AS n FROM messages WHERE direction = 'inbound' GROUP BY external_id")
      .all() as { id: string; n: number }[];
    db.close();
    const stored = new Map(rows.map((r) => [r.id, r.n]));
    const duplicated = rows.filter((r) => r.n > 1).map((r) => r.id);
    const lost = [...acknowledged].filter((n) => !stored.has(`<burst-${n}@sender.example>`));
    assert.deepEqual(duplicated, [], 'no message stored twice');
    assert.deepEqual(lost, [], 'no acknowledged message lost');
    assert.equal(rows.length, acknowledged.size, 'nothing else stored');
    console.info(`${rows.length} stored exactly once, ${retried.length} of them acknowledged only after a retry`);
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await dns.stop();
    tmp.cleanup();
  }
});
