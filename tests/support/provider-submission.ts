import { SMTPServer } from 'smtp-server';
import { generateCertificate } from './tls-server.ts';

/** A message the provider accepted for relaying: who signed in, the envelope and the raw text. */
export interface ProviderRelayed {
  user: string;
  from: string;
  to: string[];
  raw: string;
}

export interface ProviderSubmission {
  port: number;
  /** Its self-signed certificate (CN "provider smtp", valid for localhost): for the instance's trust store. */
  certPem: string;
  /** Every message accepted, in order. */
  relayed: ProviderRelayed[];
  close(): Promise<void>;
}

/**
 * A mail provider's SMTP submission server on loopback (the one part of sending as an imported address that lives on
 * the internet): implicit TLS, AUTH PLAIN/LOGIN with one account, and the recipients `refuse` names refused with 550.
 */
export async function startProviderSubmission(o: {
  username: string;
  password: string;
  /** A recipient for which this answers a refusal (the 550's text), else null. */
  refuse?: (address: string) => string | null;
}): Promise<ProviderSubmission> {
  // Its own subject name: Dovecot's certificate is CN=localhost too, and a trust store finds issuers by name.
  const cert = await generateCertificate({ names: ['localhost'], commonName: 'provider smtp' });
  const relayed: ProviderRelayed[] = [];
  const server = new SMTPServer({
    secure: true,
    key: cert.keyPem,
    cert: cert.certPem,
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    disableReverseLookup: true,
    onAuth(auth, _session, callback) {
      if (auth.username === o.username && auth.password === o.password) callback(null, { user: auth.username });
      else callback(Object.assign(new Error('5.7.8 bad credentials'), { responseCode: 535 }));
    },
    onRcptTo(address, _session, callback) {
      const refusal = o.refuse?.(address.address) ?? null;
      if (refusal !== null) callback(Object.assign(new Error(refusal), { responseCode: 550 }));
      else callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        relayed.push({
          user: String(session.user),
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback(null, 'queued at the provider');
      });
    },
  });
  // Clients that hang up mid-handshake (the instance checking a wrong password) are no failure of the provider.
  server.on('error', () => undefined);
  const port = await new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.server.address() as { port: number }).port)),
  );
  return {
    port,
    certPem: cert.certPem,
    relayed,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
