import type { AddressInfo } from 'node:net';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { openSqlite } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import { SqliteAccountRepository } from '../accounts/account.repository.sqlite.ts';
import type { SpamEnvelope } from '../spam/spam-filter.port.ts';
import type { SpamScreening } from '../spam/spam.verdict.ts';
import { SpoolAppender, SpoolWriterClient } from './inbound-spool.appender.ts';
import { createRecipientResolver } from './smtp-inbound.recipients.ts';
import { SmtpInboundServer, type SmtpLog } from './smtp-inbound.server.ts';
import type { SmtpThreadData, ToMain, ToThread } from './smtp-inbound.threaded.ts';

/**
 * The SMTP thread (started by smtp-inbound.threaded.ts through smtp-inbound.entry.mjs): the inbound MX's sessions —
 * TLS, the SMTP dialogue, the message bytes — away from the main thread, which files what they accepted. It resolves
 * recipients through its own read-only connection to instance.db and appends to the spool through a channel to the
 * spool's writer thread, so a session never waits for the main thread's event loop; the main thread hears of each
 * commit (to wake its drain worker), of the counts for its metrics, and of the log records. The spam filter, when
 * configured, is asked through the main thread (its client lives there).
 */

const data = workerData as SmtpThreadData;
const port = parentPort!;
const send = (m: ToMain, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

const log: SmtpLog = {
  info: (obj, msg) => send({ kind: 'log', level: 'info', obj, msg }),
  warn: (obj, msg) => send({ kind: 'log', level: 'warn', obj, msg }),
  error: (obj, msg) => send({ kind: 'log', level: 'error', obj, msg }),
};

const db = openSqlite(data.instanceDb, { readonly: true });
const writer = new SpoolWriterClient(data.spoolPort as MessagePort);
const appender = new SpoolAppender(writer, data.spool, (count) => send({ kind: 'appended', count }));

// Accepted messages are counted per turn of the event loop: one message to the main thread for many.
let accepted = { count: 0, bytes: 0 };
let flushing = false;
const countAccepted = (bytes: number) => {
  accepted.count++;
  accepted.bytes += bytes;
  if (flushing) return;
  flushing = true;
  setImmediate(() => {
    flushing = false;
    send({ kind: 'accepted', ...accepted });
    accepted = { count: 0, bytes: 0 };
  });
};

const screenings = new Map<number, { resolve: (s: SpamScreening) => void; reject: (e: Error) => void }>();
let screeningSeq = 0;
const spam = data.spam
  ? {
      screen(raw: Buffer, envelope: SpamEnvelope): Promise<SpamScreening> {
        const seq = ++screeningSeq;
        return new Promise<SpamScreening>((resolve, reject) => {
          screenings.set(seq, { resolve, reject });
          // Its own copy, handed over (a small message's Buffer views Node's shared pool, which would be copied whole).
          const own = new Uint8Array(raw);
          send({ kind: 'screen', seq, raw: own, envelope }, [own.buffer]);
        });
      },
    }
  : undefined;

const server = new SmtpInboundServer({
  ...data.server,
  spool: { append: (entry) => appender.append(entry) },
  recipients: createRecipientResolver(new SqliteAccountRepository(db), data.server.domain),
  logger: log,
  onAccepted: countAccepted,
  onRejected: (reason) => send({ kind: 'rejected', reason }),
  ...(spam ? { spam } : {}),
});

port.on('message', (m: ToThread) => {
  switch (m.kind) {
    case 'reload':
      server.reloadCertificate(m.tls);
      return;
    case 'screened': {
      const waiter = screenings.get(m.seq);
      screenings.delete(m.seq);
      if (m.ok) waiter?.resolve(m.screening);
      else waiter?.reject(new Error(m.error));
      return;
    }
    case 'close':
      void (async () => {
        await server.close();
        await appender.drain();
        data.spoolPort.close();
        db.close();
        send({ kind: 'closed' });
        port.close();
      })();
      return;
  }
});

server.listen().then(
  (address: AddressInfo) => send({ kind: 'listening', address }),
  (e: Error) => send({ kind: 'failed', message: e.message }),
);
