import { Agent } from 'node:https';
import { rootCertificates } from 'node:tls';
import * as acme from 'acme-client';
import type { AcmeChallengeBoard } from './acme-challenge.board.ts';

/** Where the CA is and what this instance tells it. */
export interface AcmeDirectory {
  directoryUrl: string;
  email?: string;
  /** PEM of extra authorities trusted for the directory's own TLS (a private or test CA), on top of the public roots. */
  caPem?: string;
}

/**
 * Adapter over acme-client (RFC 8555): orders a certificate for one domain with HTTP-01 (the answers put on the
 * board the HTTP port serves), and revokes one. The account key is the caller's (sealed at rest, acme-account.store.ts);
 * the certificate key is a new ECDSA P-256 key per order, handed back with the full chain.
 */
export async function orderCertificate(
  directory: AcmeDirectory,
  accountKeyPem: string,
  domain: string,
  board: AcmeChallengeBoard,
): Promise<{ certPem: string; keyPem: string }> {
  const client = clientFor(directory, accountKeyPem);
  return explained(directory, async () => {
    await findOrCreateAccount(client, directory);
    const keyPem = (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
    const [, csr] = await acme.crypto.createCsr({ commonName: domain, altNames: [domain] }, keyPem);
    const certPem = await client.auto({
      csr,
      ...(directory.email ? { email: directory.email } : {}),
      termsOfServiceAgreed: true,
      challengePriority: ['http-01'],
      // The CA checks the answer itself; acme-client's own pre-check would fetch http://<domain>:80 from here, which a
      // host behind NAT or a port forward cannot always reach.
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
        if (challenge.type !== 'http-01') throw new Error(`unsupported ACME challenge ${challenge.type}`);
        board.put(challenge.token, keyAuthorization);
      },
      challengeRemoveFn: async (_authz, challenge) => {
        board.remove(challenge.token);
      },
    });
    return { certPem, keyPem };
  });
}

/** Revokes a certificate this account ordered (RFC 8555 §7.6); `reason` is an RFC 5280 code (4: superseded). */
export async function revokeCertificate(
  directory: AcmeDirectory,
  accountKeyPem: string,
  certPem: string,
  reason = 0,
): Promise<void> {
  const client = clientFor(directory, accountKeyPem);
  await explained(directory, async () => {
    await findOrCreateAccount(client, directory);
    await client.revokeCertificate(certPem, { reason });
  });
}

export async function newAccountKey(): Promise<string> {
  return (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
}

/**
 * Registers the account, or finds it by its key. acme-client then sends an account update: the contact is always in
 * it, so that it is never empty (an empty update is refused by RFC 8555 CAs such as pebble, which broke every order
 * after the first for an account without an email). `auto()` skips its own registration once the URL is known.
 */
async function findOrCreateAccount(client: acme.Client, directory: AcmeDirectory): Promise<void> {
  await client.createAccount({
    termsOfServiceAgreed: true,
    contact: directory.email ? [`mailto:${directory.email}`] : [],
  });
}

/**
 * The CA's words when it answered (an RFC 7807 problem), else what failed on the way. acme-client (5.4) fails with a
 * TypeError when the directory cannot be reached at all (its retry interceptor reads a response there is none of).
 */
async function explained<T>(directory: AcmeDirectory, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const host = new URL(directory.directoryUrl).host;
    const cause = err as { code?: string; message?: string };
    const what =
      err instanceof TypeError && /reading 'config'/.test(String(cause.message))
        ? 'no answer (the connection failed)'
        : (cause.message ?? String(err));
    throw new Error(`ACME CA ${host}: ${what}`, { cause: err });
  }
}

function clientFor(directory: AcmeDirectory, accountKeyPem: string): acme.Client {
  // A 5xx or 429 is retried twice by the library, a second apart at most; longer outages wait for the renewal's own
  // backoff (acme.retry) instead of the library's 75 s of retries per request.
  const defaults = acme.axios.defaults as unknown as { acmeSettings: Record<string, number> };
  defaults.acmeSettings = { ...defaults.acmeSettings, retryMaxAttempts: 2, retryDefaultDelay: 1 };
  // acme-client speaks through its own axios instance: an extra authority is added there, on top of the public roots.
  if (directory.caPem) {
    acme.axios.defaults.httpsAgent = new Agent({ ca: [...rootCertificates, directory.caPem], keepAlive: false });
  }
  return new acme.Client({
    directoryUrl: directory.directoryUrl,
    accountKey: accountKeyPem,
    // Transient answers (badNonce, 5xx) are retried by the library; longer outages by the renewal's own backoff.
    backoffAttempts: 3,
    backoffMin: 200,
    backoffMax: 2000,
  });
}
