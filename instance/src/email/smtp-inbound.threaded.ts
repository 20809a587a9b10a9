import type { AddressInfo } from 'node:net';
import { Worker, type MessagePort } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { SpamEnvelope } from '../spam/spam-filter.port.ts';
import type { SpamScreening } from '../spam/spam.verdict.ts';
import type { SpoolAppendOptions } from './inbound-spool.appender.ts';
import type { SqliteInboundSpool } from './inbound-spool.sqlite.ts';
import type { SmtpInboundOptions } from './smtp-inbound.server.ts';

/** The server's settings that cross to the SMTP thread (plain data). */
export type SmtpThreadServerOptions = Pick<
  SmtpInboundOptions,
  | 'host'
  | 'port'
  | 'domain'
  | 'maxMessageBytes'
  | 'maxConnections'
  | 'maxConnectionsPerIp'
  | 'messagesPerMinutePerIp'
  | 'tls'
  | 'socketTimeoutMs'
  | 'closeTimeoutMs'
>;

export interface SmtpThreadData {
  server: SmtpThreadServerOptions;
  /** instance.db, read by the thread's own read-only connection (recipient look-ups). */
  instanceDb: string;
  /** A channel to the spool's writer thread (SqliteInboundSpool.appendChannel). */
  spoolPort: MessagePort;
  spool: SpoolAppendOptions;
  /** Whether a spam filter screens messages (through the main thread). */
  spam: boolean;
}

/** From the SMTP thread to the main thread. */
export type ToMain =
  | { kind: 'listening'; address: AddressInfo }
  | { kind: 'failed'; message: string }
  | { kind: 'appended'; count: number }
  | { kind: 'accepted'; count: number; bytes: number }
  | { kind: 'rejected'; reason: string }
  | { kind: 'log'; level: 'info' | 'warn' | 'error'; obj: object; msg: string }
  | { kind: 'screen'; seq: number; raw: Uint8Array; envelope: SpamEnvelope }
  | { kind: 'closed' };

/** From the main thread to the SMTP thread. */
export type ToThread =
  | { kind: 'reload'; tls: { certPem: string; keyPem: string } }
  | { kind: 'screened'; seq: number; ok: true; screening: SpamScreening }
  | { kind: 'screened'; seq: number; ok: false; error: string }
  | { kind: 'close' };

export interface SmtpInboundThreadOptions {
  server: SmtpThreadServerOptions;
  instanceDb: string;
  spool: SqliteInboundSpool;
  spoolOptions?: SpoolAppendOptions;
  logger: Logger;
  onAccepted?: (count: number, bytes: number) => void;
  onRejected?: (reason: string) => void;
  spam?: { screen(raw: Buffer, envelope: SpamEnvelope): Promise<SpamScreening> };
}

/**
 * The inbound MX on a thread of its own (smtp-inbound.thread.ts), seen from the main thread: the same surface as
 * SmtpInboundServer (listen, reloadCertificate, close). With the sessions there, the main thread's event loop is left
 * to filing what they accepted: during a burst the mailboxes fill while messages still arrive (issue 14, P1), and a
 * long batch being filed no longer delays any session's replies. A thread that stops unexpectedly is started again.
 */
export class SmtpInboundThread {
  private worker: Worker | null = null;
  private address: AddressInfo | null = null;
  private closing: Promise<void> | null = null;
  private tls: SmtpThreadServerOptions['tls'];
  private restarts = 0;

  constructor(private readonly options: SmtpInboundThreadOptions) {
    this.tls = options.server.tls;
  }

  /** Starts the thread; resolves the bound address once it listens (rejects when it cannot). */
  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const worker = this.start(this.address?.port ?? this.options.server.port);
      const onMessage = (m: ToMain) => {
        if (m.kind === 'listening') {
          worker.off('message', onMessage);
          this.address = m.address;
          resolve(m.address);
        } else if (m.kind === 'failed') {
          worker.off('message', onMessage);
          this.worker = null;
          void worker.terminate();
          reject(new Error(m.message));
        }
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
  }

  private start(port: number): Worker {
    const { options } = this;
    const data: SmtpThreadData = {
      server: { ...options.server, port, tls: this.tls },
      instanceDb: options.instanceDb,
      spoolPort: options.spool.appendChannel(),
      spool: options.spoolOptions ?? {},
      spam: options.spam !== undefined,
    };
    const worker = new Worker(new URL('./smtp-inbound.entry.mjs', import.meta.url), {
      workerData: data,
      transferList: [data.spoolPort],
    });
    this.worker = worker;
    const log = options.logger;
    worker.on('message', (m: ToMain) => this.handle(worker, m));
    worker.on('error', (e) => log.error({ error: e.message }, 'the SMTP thread failed'));
    worker.on('exit', () => {
      if (this.worker !== worker || this.closing || this.address === null) return;
      // Died while serving: its sessions are lost (the clients retry), what it had appended is in the spool.
      this.worker = null;
      const delayMs = Math.min(30_000, 1000 * 2 ** Math.min(this.restarts++, 5));
      log.error({ delayMs }, 'the SMTP thread stopped; starting it again');
      setTimeout(() => {
        if (this.closing) return;
        this.listen().then(
          () => log.info({ port: this.address?.port }, 'the SMTP thread listens again'),
          (e: Error) => log.error({ error: e.message }, 'the SMTP thread cannot listen again'),
        );
      }, delayMs).unref();
    });
    return worker;
  }

  private handle(worker: Worker, m: ToMain): void {
    const { options } = this;
    switch (m.kind) {
      case 'appended':
        options.spool.appendsCommitted(m.count);
        return;
      case 'accepted':
        options.onAccepted?.(m.count, m.bytes);
        return;
      case 'rejected':
        options.onRejected?.(m.reason);
        return;
      case 'log':
        options.logger[m.level](m.obj, m.msg);
        return;
      case 'screen': {
        const reply = (r: ToThread) => worker.postMessage(r);
        const raw = Buffer.from(m.raw.buffer, m.raw.byteOffset, m.raw.byteLength);
        options.spam!.screen(raw, m.envelope).then(
          (screening) => reply({ kind: 'screened', seq: m.seq, ok: true, screening }),
          (e: Error) => reply({ kind: 'screened', seq: m.seq, ok: false, error: e.message }),
        );
        return;
      }
      default:
        return;
    }
  }

  /** Offers a new certificate to the next STARTTLS (an ACME renewal); sessions already in TLS keep theirs. */
  reloadCertificate(tls: { certPem: string; keyPem: string }): void {
    this.tls = tls;
    this.worker?.postMessage({ kind: 'reload', tls } satisfies ToThread);
  }

  get boundAddress(): AddressInfo | null {
    return this.address;
  }

  /** Stops accepting connections; open sessions finish (up to closeTimeoutMs), their appends commit; the thread ends. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const worker = this.worker;
      if (!worker) return;
      await new Promise<void>((resolve) => {
        worker.once('exit', () => resolve());
        worker.postMessage({ kind: 'close' } satisfies ToThread);
      });
      this.worker = null;
    })();
    return this.closing;
  }
}
