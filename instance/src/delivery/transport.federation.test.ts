import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  INBOX_PATH,
  PREKEYS_PATH,
  generateEd25519KeyPair,
  generatePrekey,
  openEnvelope,
  signPrekey,
  signReceipt,
} from '@caliopen/federation-protocol';
import { generateCertificate } from '../../../tests/support/tls-server.ts';
import type { PeerLookup } from '../federation/inbox.routes.ts';
import type { PeerInfo } from '../federation/peer-directory.ts';
import { describeTransportConformance } from './transport.conformance.ts';
import { FederationTransport } from './transport.federation.ts';

/**
 * The federation against a real HTTPS server playing peer.test: it publishes a prekey signed with its key, opens each
 * envelope with the prekey's private half, and answers by recipient — `ok`: stored, with a signed receipt; `later`:
 * 429 peer_rate_limited; `gone`: 404 recipient_unknown. (Request signatures and client certificates are checked by
 * the real inbox, tests/e2e/federation-delivery.test.ts; this peer checks what the transport must get right.)
 */
describeTransportConformance('federation', async () => {
  const peerSigning = generateEd25519KeyPair();
  const sender = generateEd25519KeyPair();
  const now = () => Math.floor(Date.now() / 1000);
  const { prekey, privateKey } = generatePrekey({ domain: 'peer.test', notBefore: now() - 60 });
  const prekeyList = JSON.stringify({ prekeys: [await signPrekey(prekey, peerSigning)] });
  const certificate = await generateCertificate({ names: ['peer.test'] });
  const answer = (status: number, body: unknown) => ({ status, body: JSON.stringify(body) });
  const server = createServer({ cert: certificate.certPem, key: certificate.keyPem }, (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', async () => {
      let reply = answer(404, { code: 'not_found' });
      if (request.method === 'GET' && request.url === PREKEYS_PATH) reply = { status: 200, body: prekeyList };
      if (request.method === 'POST' && request.url === INBOX_PATH) {
        const opened = await openEnvelope(JSON.parse(Buffer.concat(chunks).toString('utf8')), {
          expectedDestination: 'peer.test',
          now: now(),
          prekeyPrivate: (kid) => (kid === privateKey.kid ? privateKey : undefined),
          senderKeys: (domain) => (domain === 'alpha.test' ? [sender.publicJwk] : undefined),
        });
        if (!opened.ok) reply = answer(400, { code: opened.error.code });
        else {
          const { id, to } = opened.value.content;
          if (to.local === 'later') reply = answer(429, { code: 'peer_rate_limited' });
          else if (to.local === 'gone') reply = answer(404, { code: 'recipient_unknown' });
          else
            reply = answer(200, {
              receipt: await signReceipt({ envelopeId: id, to, receivedAt: now(), status: 'delivered' }, peerSigning),
            });
        }
      }
      response.writeHead(reply.status, { 'content-type': 'application/json' }).end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const peer = {
    domain: 'peer.test',
    status: 'labelled',
    labelValid: true,
    instancePi: 90,
    certificateSha256: certificate.fingerprintSha256,
    keys: { signing: peerSigning.publicJwk },
    signingKeys: [peerSigning.publicJwk],
    endpoints: { federation: `https://127.0.0.1:${port}` },
  } as unknown as PeerInfo;
  const own = { domain: 'alpha.test', status: 'labelled', labelValid: true } as unknown as PeerInfo;
  const directory: PeerLookup = {
    peer: (domain: string) => (domain === 'peer.test' ? peer : domain === 'alpha.test' ? own : null),
  } as PeerLookup;
  const client = await generateCertificate({ names: ['alpha.test'] });
  return {
    transport: new FederationTransport({
      domain: 'alpha.test',
      clock: () => new Date(),
      peers: () => directory,
      signingKey: sender,
      clientCert: { certPem: client.certPem, keyPem: client.keyPem },
      timeoutMs: 5000,
    }),
    domain: 'peer.test',
    accepted: 'ok@peer.test',
    temporary: 'later@peer.test',
    permanent: 'gone@peer.test',
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
});
