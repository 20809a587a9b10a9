import { rootCertificates } from 'node:tls';
import nodemailer from 'nodemailer';
import type { SmtpRelay, SmtpRelayEndpoint } from '../identities/smtp-relay.port.ts';
import { AppError, isAppError } from '../shared/errors.ts';
import { type Lookup, resolveImportHost } from './remote-host.policy.ts';

export interface NodemailerSmtpRelayOptions {
  /** This instance's name, said in EHLO. */
  domain: string;
  /** Private hosts allowed (tests, private networks), as for IMAP imports (`imports.allowPrivateHosts`). */
  allowPrivateHosts: boolean;
  /** Certificates trusted beyond the system's (`imports.caFile`). */
  extraCa?: string[];
  lookup?: Lookup;
  timeoutMs?: number;
}

/** The provider's reply or the socket error, printable and short (never the credentials: they are not in it). */
function said(e: { response?: string; message?: string }): string {
  return (e.response ?? e.message ?? '').replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, 200);
}

/**
 * SMTP submission to another provider (send as an imported address) with nodemailer: the host checked and pinned like
 * an IMAP import's (remote-host.policy.ts), TLS always (implicit or STARTTLS required, certificate checked against
 * the name), AUTH with the identity's credentials.
 */
export class NodemailerSmtpRelay implements SmtpRelay {
  constructor(private readonly options: NodemailerSmtpRelayOptions) {}

  private async transport(endpoint: SmtpRelayEndpoint) {
    let target;
    try {
      target = await resolveImportHost(endpoint.host, {
        allowPrivate: this.options.allowPrivateHosts,
        ...(this.options.lookup ? { lookup: this.options.lookup } : {}),
      });
    } catch (e) {
      if (isAppError(e)) throw new AppError('send_as_failed', e.detail ?? e.message);
      throw e;
    }
    const timeout = this.options.timeoutMs ?? 20_000;
    return nodemailer.createTransport({
      host: target.address,
      port: endpoint.port,
      secure: endpoint.tls === 'implicit',
      requireTLS: endpoint.tls === 'starttls',
      name: this.options.domain,
      auth: { user: endpoint.username, pass: endpoint.password },
      tls: {
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
        servername: target.servername ?? endpoint.host,
        ...(this.options.extraCa?.length ? { ca: [...rootCertificates, ...this.options.extraCa] } : {}),
      },
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: 5 * 60_000,
      logger: false,
      debug: false,
    });
  }

  private failure(e: unknown, endpoint: SmtpRelayEndpoint): AppError {
    const err = e as { code?: string; responseCode?: number; response?: string; message?: string };
    const at = `${endpoint.host}:${endpoint.port}`;
    if (err.code === 'EAUTH') return new AppError('send_as_auth_failed', `${at} refused the sign-in: ${said(err)}`);
    if (err.responseCode) return new AppError('send_as_failed', `${at} refused the message: ${said(err)}`);
    if (/certificate|self.signed|TLS|SSL/i.test(err.message ?? ''))
      return new AppError('send_as_failed', `TLS with ${at} failed: ${said(err)}`);
    return new AppError('send_as_failed', `${at} could not be reached: ${said(err)}`);
  }

  async verify(endpoint: SmtpRelayEndpoint): Promise<void> {
    const transport = await this.transport(endpoint);
    try {
      await transport.verify();
    } catch (e) {
      throw this.failure(e, endpoint);
    } finally {
      transport.close();
    }
  }

  async send(endpoint: SmtpRelayEndpoint, envelope: { from: string; to: string[] }, raw: Buffer): Promise<void> {
    const transport = await this.transport(endpoint);
    try {
      await transport.sendMail({ envelope, raw });
    } catch (e) {
      throw this.failure(e, endpoint);
    } finally {
      transport.close();
    }
  }
}
