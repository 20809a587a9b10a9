import { checkServerIdentity, type TLSSocket } from 'node:tls';
import { isIP, type Socket } from 'node:net';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { DeliveryAttempt, RecipientResult } from './delivery.types.ts';
import { DeliveryFailure, type DeliveryRoute, type MxHost } from './smtp-outbound.types.ts';

export interface SmtpClientOptions {
  /** EHLO name: the instance domain. */
  heloName: string;
  /** Refuse to send in clear: the message waits (4.7.4) rather than cross the network unencrypted. */
  requireTls: boolean;
  /** Smarthost credentials (sent only over TLS). */
  auth?: { user: string; pass: string } | undefined;
  timeouts?: { connectionMs?: number; greetingMs?: number; socketMs?: number };
}

interface SmtpError extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
  rejected?: string[];
  rejectedErrors?: SmtpError[];
  recipient?: string;
}

/** One line of printable ASCII, bounded: what a remote server said may end up in a bounce and in logs. */
export function sanitizeDiagnostic(text: string): string {
  return text
    .replace(/[^\x20-\x7e]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 500);
}

/** The RFC 3463 enhanced code of a reply ("550 5.1.1 ..." -> 5.1.1), else one derived from the basic code. */
export function enhancedStatus(
  response: string | undefined,
  responseCode: number | undefined,
  fallback: string,
): string {
  const m = /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(response ?? '');
  if (m) return m[1]!;
  if (responseCode !== undefined && responseCode >= 200 && responseCode < 600)
    return `${Math.floor(responseCode / 100)}.0.0`;
  return fallback;
}

const isPermanentCode = (code: number | undefined) => code !== undefined && code >= 500 && code < 600;

function tlsOf(conn: SMTPConnection, host: string): DeliveryAttempt['tls'] {
  const socket = conn._socket as TLSSocket | null | false;
  if (!conn.secure || !socket || typeof socket.getProtocol !== 'function') return null;
  const cert = socket.getPeerCertificate();
  const verified =
    socket.authorized && !isIP(host) && cert !== undefined && checkServerIdentity(host, cert) === undefined;
  return {
    version: socket.getProtocol() ?? 'unknown',
    cipher: socket.getCipher()?.name ?? 'unknown',
    certificateVerified: verified,
  };
}

function connect(conn: SMTPConnection): Promise<void> {
  return new Promise((resolve, reject) => {
    conn.once('error', reject);
    conn.connect((err?: Error) => {
      conn.off('error', reject);
      if (err) reject(err);
      else {
        // Each command and the end of the data go out at once (no Nagle): a small write held back until the server
        // acknowledges the previous one costs the server's delayed ACK (40 ms on Linux) per message.
        if (conn._socket) (conn._socket as Socket).setNoDelay(true);
        resolve();
      }
    });
  });
}

function login(conn: SMTPConnection, auth: { user: string; pass: string }): Promise<void> {
  return new Promise((resolve, reject) => conn.login(auth, (err) => (err ? reject(err) : resolve())));
}

function send(
  conn: SMTPConnection,
  from: string,
  to: string[],
  raw: Buffer,
): Promise<{ accepted: string[]; rejected: string[]; rejectedErrors: SmtpError[]; response: string }> {
  return new Promise((resolve, reject) => {
    conn.send({ from, to, size: raw.length }, raw, (err, info) => {
      if (err) reject(err);
      else
        resolve({
          accepted: info!.accepted,
          rejected: info!.rejected,
          rejectedErrors: (info!.rejectedErrors ?? []) as SmtpError[],
          response: info!.response,
        });
    });
  });
}

/** Why a connection to one host did not get as far as the envelope, as a DeliveryFailure. */
function connectionFailure(err: SmtpError, where: string, requireTls: boolean): DeliveryFailure {
  if (err instanceof DeliveryFailure) return err;
  if (err.code === 'ETLS' || (requireTls && /STARTTLS/i.test(err.message))) {
    return new DeliveryFailure(
      false,
      '4.7.4',
      `${where}: TLS is required by policy but could not be negotiated (${sanitizeDiagnostic(err.message)})`,
    );
  }
  if (err.responseCode !== undefined) {
    const text = sanitizeDiagnostic(err.response ?? err.message);
    return new DeliveryFailure(
      isPermanentCode(err.responseCode),
      enhancedStatus(err.response, err.responseCode, '4.4.2'),
      `${where} said: ${text}`,
      text,
    );
  }
  const what = err.code === 'ETIMEDOUT' ? 'timed out' : sanitizeDiagnostic(err.message);
  return new DeliveryFailure(false, '4.4.1', `${where}: no answer (${what})`);
}

/**
 * Sends one message to the recipients of one domain over SMTP (nodemailer's SMTP connection): tries the route's
 * hosts in order until one takes the envelope; STARTTLS when offered (and required when `requireTls`); reports the
 * outcome per recipient — delivered (2xx after DATA), deferred (4xx, no connection, timeout) or failed (5xx) — with
 * the TLS version and cipher actually negotiated. Never throws for a remote problem: everything is in the result.
 */
export async function deliverOverSmtp(
  route: DeliveryRoute,
  envelope: { from: string; to: string[] },
  raw: Buffer,
  options: SmtpClientOptions,
): Promise<DeliveryAttempt> {
  const at = new Date().toISOString();
  let lastFailure: DeliveryFailure | null = null;
  let allPermanent = true;
  for (const host of route.hosts) {
    const where = `${host.host}:${host.port}`;
    let conn: SMTPConnection | null = null;
    try {
      conn = openConnection(host, options);
      // Late socket errors (after QUIT, during close) must not crash the process.
      conn.on('error', () => {});
      await connect(conn);
      const tls = tlsOf(conn, host.host);
      if (options.requireTls && tls === null)
        throw new DeliveryFailure(false, '4.7.4', `${where}: TLS is required by policy but was not offered`);
      if (options.auth) {
        if (tls === null) throw new DeliveryFailure(false, '4.7.4', `${where}: will not send credentials in clear`);
        await login(conn, options.auth).catch((err: SmtpError) => {
          throw new DeliveryFailure(
            false,
            '4.7.8',
            `${where}: authentication refused (${sanitizeDiagnostic(err.response ?? err.message)})`,
          );
        });
      }
      const recipients = await transact(conn, where, envelope, raw);
      conn.quit();
      return { at, remoteMta: where, tls, recipients };
    } catch (err) {
      lastFailure = connectionFailure(err as SmtpError, where, options.requireTls);
      if (!lastFailure.permanent) allPermanent = false;
    } finally {
      conn?.close();
    }
  }
  const failure = lastFailure ?? new DeliveryFailure(false, '4.4.4', 'no host to deliver to');
  const permanent = allPermanent && lastFailure !== null;
  return {
    at,
    remoteMta: null,
    tls: null,
    recipients: envelope.to.map((address) => ({
      address,
      outcome: permanent ? 'failed' : 'deferred',
      status: permanent ? failure.status : toTemporary(failure.status),
      diagnostic: failure.message,
      smtpReply: failure.smtpReply,
    })),
  };
}

const toTemporary = (status: string) => (status.startsWith('5.') ? `4.${status.slice(2)}` : status);

function openConnection(host: MxHost, options: SmtpClientOptions): SMTPConnection {
  return new SMTPConnection({
    host: host.host,
    port: host.port,
    name: options.heloName,
    secure: false,
    requireTLS: options.requireTls,
    opportunisticTLS: !options.requireTls,
    ignoreTLS: false,
    connectionTimeout: options.timeouts?.connectionMs ?? 30_000,
    greetingTimeout: options.timeouts?.greetingMs ?? 30_000,
    socketTimeout: options.timeouts?.socketMs ?? 300_000,
    allowInternalNetworkInterfaces: true,
    logger: false,
    // Opportunistic TLS between MTAs does not authenticate the peer (most MX certificates would not pass); whether
    // the certificate verified is recorded instead (certificateVerified).
    tls: { rejectUnauthorized: false, minVersion: 'TLSv1.2', ...(isIP(host.host) ? {} : { servername: host.host }) },
  });
}

/** MAIL, RCPT for each recipient, DATA: the per-recipient outcome. Envelope-level errors concern every recipient. */
async function transact(
  conn: SMTPConnection,
  where: string,
  envelope: { from: string; to: string[] },
  raw: Buffer,
): Promise<RecipientResult[]> {
  const byAddress = new Map<string, RecipientResult>();
  const rejectedResult = (e: SmtpError, address: string): RecipientResult => {
    const permanent = isPermanentCode(e.responseCode);
    return {
      address,
      outcome: permanent ? 'failed' : 'deferred',
      status: enhancedStatus(e.response, e.responseCode, permanent ? '5.0.0' : '4.0.0'),
      diagnostic: `${where} said: ${sanitizeDiagnostic(e.response ?? e.message)}`,
      smtpReply: e.response ? sanitizeDiagnostic(e.response) : null,
    };
  };
  try {
    const info = await send(conn, envelope.from, envelope.to, raw);
    for (const e of info.rejectedErrors) if (e.recipient) byAddress.set(e.recipient, rejectedResult(e, e.recipient));
    for (const address of info.accepted) {
      const reply = sanitizeDiagnostic(info.response);
      byAddress.set(address, {
        address,
        outcome: 'delivered',
        status: enhancedStatus(info.response, 250, '2.0.0'),
        diagnostic: `${where} said: ${reply}`,
        smtpReply: reply,
      });
    }
  } catch (e) {
    const err = e as SmtpError;
    if (err.code === 'EENVELOPE' && err.rejectedErrors && err.rejectedErrors.length > 0) {
      // Every recipient was refused at RCPT: each has its own reply.
      for (const r of err.rejectedErrors) if (r.recipient) byAddress.set(r.recipient, rejectedResult(r, r.recipient));
    } else if (err.responseCode !== undefined) {
      // MAIL FROM or DATA refused: the same answer for everyone still pending.
      for (const address of envelope.to)
        if (!byAddress.has(address)) byAddress.set(address, rejectedResult(err, address));
    } else {
      throw err;
    }
  }
  // A recipient the server never answered for (connection lost mid-envelope) is deferred.
  return envelope.to.map(
    (address) =>
      byAddress.get(address) ?? {
        address,
        outcome: 'deferred',
        status: '4.4.2',
        diagnostic: `${where}: connection lost before an answer for this recipient`,
        smtpReply: null,
      },
  );
}
