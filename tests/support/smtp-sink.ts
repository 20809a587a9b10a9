import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { freePort, waitFor } from './net.ts';

/** A message the sink accepted: envelope, raw bytes and how the connection was protected. */
export interface SinkMessage {
  from: string | null;
  to: string[];
  raw: Buffer;
  helo: string;
  tls: { version: string; cipher: string } | null;
}

/** How the sink answers. `rejectRecipients` maps an address (lowercase) to a reply such as `550 5.1.1 No such user`. */
export interface SinkBehaviour {
  /** Refuse every RCPT with this reply (e.g. '550 5.1.1 No such user here' or '450 4.2.0 Try later'). */
  rejectAll: string | null;
  rejectRecipients: Map<string, string>;
  /** Like `rejectRecipients`, for the next RCPT of that address only (e.g. a 451 the retry gets past). */
  rejectRecipientsOnce: Map<string, string>;
  /** Refuse the message after DATA with this reply. */
  rejectData: string | null;
}

export interface SmtpSink {
  host: string;
  port: number;
  /** Every message accepted since the sink was created (kept across stop/start). */
  messages: SinkMessage[];
  /** Connections seen (including refused transactions): lets a test see retries reach the sink. */
  connections: number;
  behaviour: SinkBehaviour;
  running: boolean;
  /** Closes the listening socket (connections are then refused, like an MX that is down). */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** Resolves once `count` messages have been accepted. */
  waitForMessages(count: number, timeoutMs?: number): Promise<SinkMessage[]>;
}

function replyError(reply: string): Error & { responseCode: number } {
  const m = /^(\d{3})\s+(.*)$/.exec(reply);
  const err = new Error(m ? m[2]! : reply) as Error & { responseCode: number };
  err.responseCode = m ? Number(m[1]) : 550;
  return err;
}

/**
 * A real SMTP server (smtp-server) on a free loopback port playing a recipient domain's MX: STARTTLS with
 * smtp-server's own self-signed certificate (or none with `starttls: false`), no AUTH, records what it accepts;
 * it can be stopped and started again on the same port and told to refuse (4xx or 5xx) recipients or data.
 */
export async function startSmtpSink(
  options: { port?: number; starttls?: boolean; size?: number } = {},
): Promise<SmtpSink> {
  const port = options.port ?? (await freePort());
  const behaviour: SinkBehaviour = {
    rejectAll: null,
    rejectRecipients: new Map(),
    rejectRecipientsOnce: new Map(),
    rejectData: null,
  };
  const sink: SmtpSink = {
    host: '127.0.0.1',
    port,
    messages: [],
    connections: 0,
    behaviour,
    running: false,
    stop,
    start,
    async waitForMessages(count, timeoutMs = 20_000) {
      await waitFor(async () => sink.messages.length >= count, timeoutMs);
      return sink.messages;
    },
  };

  let server: SMTPServer | null = null;

  function build(): SMTPServer {
    const serverOptions: SMTPServerOptions = {
      name: 'mx.sink.test',
      banner: 'sink ready',
      authOptional: true,
      // Without STARTTLS the command is refused too, not only hidden from EHLO.
      disabledCommands: options.starttls === false ? ['AUTH', 'STARTTLS'] : ['AUTH'],
      logger: false,
      // stop() must not wait on a lingering client for long: an MX that goes down drops its connections.
      closeTimeout: 500,
      ...(options.size ? { size: options.size } : {}),
      onConnect(_session, callback) {
        sink.connections++;
        callback();
      },
      onRcptTo(address, _session, callback) {
        const lower = address.address.toLowerCase();
        const once = behaviour.rejectRecipientsOnce.get(lower) ?? null;
        behaviour.rejectRecipientsOnce.delete(lower);
        const reply = behaviour.rejectAll ?? once ?? behaviour.rejectRecipients.get(lower) ?? null;
        callback(reply ? replyError(reply) : null);
      },
      onData(stream, session: SMTPServerSession, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          if (behaviour.rejectData) return callback(replyError(behaviour.rejectData));
          const tls =
            session.secure && session.tlsOptions
              ? { version: session.tlsOptions.version ?? 'unknown', cipher: session.tlsOptions.name }
              : null;
          sink.messages.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks),
            helo: session.hostNameAppearsAs,
            tls,
          });
          callback(null);
        });
      },
    };
    const s = new SMTPServer(serverOptions);
    s.on('error', () => {});
    return s;
  }

  async function start(): Promise<void> {
    if (server) return;
    server = build();
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(port, '127.0.0.1', () => {
        server!.off('error', reject);
        resolve();
      });
    });
    sink.running = true;
  }

  async function stop(): Promise<void> {
    if (!server) return;
    const s = server;
    server = null;
    sink.running = false;
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  await start();
  return sink;
}
