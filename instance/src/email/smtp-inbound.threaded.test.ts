import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import pino from 'pino';
import { afterEach, beforeEach, describe, it } from 'vitest';
import { RawSmtpClient } from '../../../tests/support/smtp-client.ts';
import { waitFor } from '../../../tests/support/net.ts';
import { SqliteStorage } from '../storage/storage.sqlite.ts';
import { SqliteInboundSpool } from './inbound-spool.sqlite.ts';
import { SmtpInboundThread, type SmtpThreadServerOptions } from './smtp-inbound.threaded.ts';

/**
 * The SMTP thread's life seen from the main thread: it listens (or says why it cannot), it is started again on the
 * same port when it dies, and it ends when closed. Real thread, real sockets, real spool and instance.db.
 */

const server = (port = 0): SmtpThreadServerOptions => ({
  host: '127.0.0.1',
  port,
  domain: 'alpha.test',
  maxMessageBytes: 1024 * 1024,
  maxConnections: 10,
  maxConnectionsPerIp: 0,
  messagesPerMinutePerIp: 0,
  tls: null,
});

describe('SmtpInboundThread', () => {
  let dir: string;
  let storage: SqliteStorage;
  let spool: SqliteInboundSpool;
  const logged: { level: string; msg: string }[] = [];
  const logger = pino(
    { level: 'info' },
    {
      write(line: string) {
        const { level, msg } = JSON.parse(line) as { level: number; msg: string };
        logged.push({ level: pino.levels.labels[level]!, msg });
      },
    },
  );

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'caliopen-smtp-thread-'));
    storage = SqliteStorage.open(join(dir, 'instance.db'));
    spool = SqliteInboundSpool.open(join(dir, 'spool.db'));
    logged.length = 0;
  });
  afterEach(async () => {
    await spool.close();
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const greeted = async (port: number): Promise<boolean> => {
    try {
      const c = await RawSmtpClient.connect(port);
      const greeting = await c.read();
      await c.quit();
      return greeting?.code === 220;
    } catch {
      return false;
    }
  };

  it('is started again on the same port when it dies, and says so', async () => {
    const thread = new SmtpInboundThread({ server: server(), instanceDb: join(dir, 'instance.db'), spool, logger });
    const { port } = await thread.listen();
    try {
      assert.ok(await greeted(port));
      // What a crash looks like from here: the thread ends without being asked to.
      await (thread as unknown as { worker: Worker }).worker.terminate();
      await waitFor(() => greeted(port), 30_000);
      assert.equal(thread.boundAddress?.port, port);
      assert.ok(logged.some((l) => l.level === 'error' && /SMTP thread stopped; starting it again/.test(l.msg)));
      assert.ok(logged.some((l) => l.level === 'info' && /listens again/.test(l.msg)));
    } finally {
      await thread.close();
    }
    assert.equal(await greeted(port), false, 'closed: nothing listens any more');
  });

  it('rejects listen with the reason when the port is taken, and leaves no thread behind', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const thread = new SmtpInboundThread({
        server: server(port),
        instanceDb: join(dir, 'instance.db'),
        spool,
        logger,
      });
      await assert.rejects(thread.listen(), /EADDRINUSE/);
      assert.equal((thread as unknown as { worker: Worker | null }).worker, null);
      await thread.close();
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
