import 'reflect-metadata';
import { createHash, createPublicKey, generateKeyPairSync, webcrypto } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import {
  DKIM_SELECTOR,
  dkimRecordName,
  dkimTxtStrings,
  generateDkimKeyPair,
  quotedTxt,
  type DkimKey,
} from './dkim-key.ts';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/**
 * What makes an instance itself: an Ed25519 signing key (labels, federation requests, declarations), an X25519
 * key agreement key (sealed envelopes), and an X.509 certificate for its domain (TLS). Private halves are sealed
 * with the master key in `<dataDir>/keys/identity.json`; the certificate is public (`tls.crt`).
 */
export interface InstanceIdentity {
  domain: string;
  signing: { publicJwk: JWK; privateJwk: JWK; thumbprint: string };
  encryption: { publicJwk: JWK; privateJwk: JWK; thumbprint: string };
  tls: { certPem: string; keyPem: string; fingerprintSha256: string; spkiSha256: string; notAfter: Date };
  /** The DKIM key outbound mail is signed with (RSA-2048, selector `caliopen1`). */
  dkim: DkimKey;
}

interface StoredIdentity {
  version: 1;
  domain: string;
  signing: { publicJwk: JWK; privateSealed: string };
  encryption: { publicJwk: JWK; privateSealed: string };
  tls: { keySealed: string };
  /** Absent in identities created before outbound mail: added on the next load (see ensureDkim). */
  dkim?: { selector: string; publicKeyPem: string; privateSealed: string };
}

const identityPath = (dataDir: string) => join(dataDir, 'keys', 'identity.json');
const certPath = (dataDir: string) => join(dataDir, 'keys', 'tls.crt');

function keyPair(type: 'ed25519' | 'x25519'): { publicJwk: JWK; privateJwk: JWK } {
  const { publicKey, privateKey } = generateKeyPairSync(type as 'ed25519');
  return {
    publicJwk: publicKey.export({ format: 'jwk' }) as JWK,
    privateJwk: privateKey.export({ format: 'jwk' }) as JWK,
  };
}

async function selfSignedCertificate(domain: string): Promise<{ certPem: string; keyPem: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const notBefore = new Date(Date.now() - 60_000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
      .toString('hex')
      .replace(/^[89a-f]/, '1'),
    name: `CN=${domain}`,
    notBefore,
    notAfter: new Date(notBefore.getTime() + 397 * 24 * 3600 * 1000),
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: domain }]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trimEnd()}\n-----END PRIVATE KEY-----\n`;
  return { certPem: cert.toString('pem'), keyPem };
}

/** The first certificate of a PEM chain (the leaf: an ACME CA sends the chain after it). */
export function leafCertificatePem(pem: string): string {
  const leaf = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem);
  if (!leaf) throw new Error('not a PEM certificate');
  return `${leaf[0]}\n`;
}

function describeCertificate(certPem: string): { fingerprintSha256: string; spkiSha256: string; notAfter: Date } {
  const cert = new x509.X509Certificate(leafCertificatePem(certPem));
  return {
    fingerprintSha256: createHash('sha256').update(Buffer.from(cert.rawData)).digest('hex'),
    spkiSha256: createHash('sha256').update(Buffer.from(cert.publicKey.rawData)).digest('hex'),
    notAfter: cert.notAfter,
  };
}

export function identityExists(dataDir: string): boolean {
  return existsSync(identityPath(dataDir));
}

/** Generates the instance's keys (and a self-signed certificate unless one is given) and stores them sealed. */
export async function createInstanceIdentity(
  dataDir: string,
  domain: string,
  box: SecretBox,
  given?: { certPem: string; keyPem: string },
): Promise<InstanceIdentity> {
  if (identityExists(dataDir))
    throw new Error(`${identityPath(dataDir)} already exists; refusing to replace this instance's keys.`);
  const signing = keyPair('ed25519');
  const encryption = keyPair('x25519');
  const tls = given ?? (await selfSignedCertificate(domain));
  const stored: StoredIdentity = {
    version: 1,
    domain,
    signing: {
      publicJwk: signing.publicJwk,
      privateSealed: box.seal(JSON.stringify(signing.privateJwk), 'identity:signing'),
    },
    encryption: {
      publicJwk: encryption.publicJwk,
      privateSealed: box.seal(JSON.stringify(encryption.privateJwk), 'identity:encryption'),
    },
    tls: { keySealed: box.seal(tls.keyPem, 'identity:tls') },
    dkim: sealedDkimKey(box),
  };
  mkdirSync(join(dataDir, 'keys'), { recursive: true, mode: 0o700 });
  writeFileSync(identityPath(dataDir), `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
  writeFileSync(certPath(dataDir), tls.certPem, { mode: 0o644 });
  return loadInstanceIdentity(dataDir, box);
}

export async function loadInstanceIdentity(dataDir: string, box: SecretBox): Promise<InstanceIdentity> {
  if (!identityExists(dataDir))
    throw new Error(`No instance identity in ${dataDir}: run \`caliopen instance init\` first.`);
  const read = JSON.parse(readFileSync(identityPath(dataDir), 'utf8')) as StoredIdentity;
  const certPem = readFileSync(certPath(dataDir), 'utf8');
  let signingPrivate: JWK, encryptionPrivate: JWK, keyPem: string;
  try {
    signingPrivate = JSON.parse(box.open(read.signing.privateSealed, 'identity:signing')) as JWK;
    encryptionPrivate = JSON.parse(box.open(read.encryption.privateSealed, 'identity:encryption')) as JWK;
    keyPem = box.open(read.tls.keySealed, 'identity:tls');
  } catch {
    throw new Error(
      'The instance keys do not open with this master key: check CALIOPEN_MASTER_KEY or secrets/master.key.',
    );
  }
  // Only once the master key is known to be the right one may a missing DKIM key be added under it.
  const stored = ensureDkim(dataDir, box, read);
  const dkim = stored.dkim!;
  let dkimPrivatePem: string;
  try {
    dkimPrivatePem = box.open(dkim.privateSealed, 'identity:dkim');
  } catch {
    throw new Error(
      'The DKIM key does not open with this master key: check CALIOPEN_MASTER_KEY or secrets/master.key.',
    );
  }
  return {
    domain: stored.domain,
    signing: {
      publicJwk: stored.signing.publicJwk,
      privateJwk: signingPrivate,
      thumbprint: await calculateJwkThumbprint(stored.signing.publicJwk),
    },
    encryption: {
      publicJwk: stored.encryption.publicJwk,
      privateJwk: encryptionPrivate,
      thumbprint: await calculateJwkThumbprint(stored.encryption.publicJwk),
    },
    tls: { certPem, keyPem, ...describeCertificate(certPem) },
    dkim: {
      domain: stored.domain,
      selector: dkim.selector,
      privateKeyPem: dkimPrivatePem,
      publicKeyPem: dkim.publicKeyPem,
    },
  };
}

/**
 * Puts a new TLS certificate and its key in place of the instance's (an ACME renewal): the key sealed with the master
 * key in identity.json, the certificate in tls.crt, each written to a temporary file then renamed (the key first: a
 * crash between the two leaves the old certificate with a key it does not match, which the next renewal replaces;
 * never a certificate whose key was lost). The certificate must be for this key. Returns the new TLS part.
 */
export function replaceTlsCertificate(
  dataDir: string,
  box: SecretBox,
  next: { certPem: string; keyPem: string },
): InstanceIdentity['tls'] {
  const cert = new x509.X509Certificate(leafCertificatePem(next.certPem));
  const keySpki = createPublicKey(next.keyPem).export({ format: 'der', type: 'spki' });
  if (!Buffer.from(cert.publicKey.rawData).equals(keySpki))
    throw new Error('The new certificate is not for the new key; the instance certificate is left as it was.');
  const path = identityPath(dataDir);
  const current = JSON.parse(readFileSync(path, 'utf8')) as StoredIdentity;
  const stored: StoredIdentity = { ...current, tls: { keySealed: box.seal(next.keyPem, 'identity:tls') } };
  writeFileSync(`${path}.tmp`, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
  writeFileSync(`${certPath(dataDir)}.tmp`, next.certPem, { mode: 0o644 });
  renameSync(`${certPath(dataDir)}.tmp`, certPath(dataDir));
  return { certPem: next.certPem, keyPem: next.keyPem, ...describeCertificate(next.certPem) };
}

function sealedDkimKey(box: SecretBox): NonNullable<StoredIdentity['dkim']> {
  const pair = generateDkimKeyPair();
  return {
    selector: DKIM_SELECTOR,
    publicKeyPem: pair.publicKeyPem,
    privateSealed: box.seal(pair.privateKeyPem, 'identity:dkim'),
  };
}

/**
 * An identity written before outbound mail existed has no DKIM key: generate one and store it (sealed) so that old
 * instances keep working. A lock file makes two processes starting at once agree on one key; the loser re-reads.
 */
function ensureDkim(dataDir: string, box: SecretBox, stored: StoredIdentity): StoredIdentity {
  if (stored.dkim) return stored;
  const path = identityPath(dataDir);
  const lock = `${path}.lock`;
  let fd: number;
  try {
    fd = openSync(lock, 'wx', 0o600);
  } catch {
    // Another process is adding the key: wait for it (bounded), then use what it wrote.
    const until = Date.now() + 10_000;
    while (existsSync(lock) && Date.now() < until) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    const again = JSON.parse(readFileSync(path, 'utf8')) as StoredIdentity;
    if (again.dkim) return again;
    throw new Error(
      `Could not add a DKIM key to ${path}: a stale ${lock} is in the way (remove it if no other process runs).`,
    );
  }
  try {
    const current = JSON.parse(readFileSync(path, 'utf8')) as StoredIdentity;
    if (current.dkim) return current;
    const next: StoredIdentity = { ...current, dkim: sealedDkimKey(box) };
    const tmp = `${path}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, path);
    return next;
  } finally {
    closeSync(fd);
    unlinkSync(lock);
  }
}

/** The DNS records the operator publishes for the instance (like `mox quickstart` prints them). */
export function dnsRecords(identity: InstanceIdentity): { name: string; type: string; value: string; why: string }[] {
  const d = identity.domain;
  return [
    {
      name: `${d}.`,
      type: 'A/AAAA',
      value: '<public address of this server>',
      why: 'reach the web app, API and federation endpoint',
    },
    { name: `${d}.`, type: 'MX', value: `10 ${d}.`, why: 'receive email for the domain' },
    { name: `${d}.`, type: 'TXT', value: '"v=spf1 mx -all"', why: 'SPF: only this host sends mail for the domain' },
    {
      name: `${dkimRecordName(d, identity.dkim.selector)}.`,
      type: 'TXT',
      value: quotedTxt(dkimTxtStrings(identity.dkim.publicKeyPem)),
      why: 'DKIM: receivers verify the signature on mail this instance sends',
    },
    {
      name: `_dmarc.${d}.`,
      type: 'TXT',
      value: `"v=DMARC1; p=reject; adkim=s; aspf=s; rua=mailto:postmaster@${d}"`,
      why: 'DMARC: reject forged mail',
    },
    {
      name: `_caliopen.${d}.`,
      type: 'TXT',
      value: `"v=caliopen1; sig=ed25519:${identity.signing.thumbprint}; enc=x25519:${identity.encryption.thumbprint}"`,
      why: 'federation discovery: peers check the instance keys against the registry feed',
    },
    {
      name: `_443._tcp.${d}.`,
      type: 'TLSA',
      value: `3 1 1 ${identity.tls.spkiSha256}`,
      why: 'DANE for HTTPS (needs DNSSEC)',
    },
    {
      name: `_25._tcp.${d}.`,
      type: 'TLSA',
      value: `3 1 1 ${identity.tls.spkiSha256}`,
      why: 'DANE for SMTP (needs DNSSEC)',
    },
    { name: `_mta-sts.${d}.`, type: 'TXT', value: '"v=STSv1; id=1"', why: 'MTA-STS: senders require TLS to this host' },
    { name: `_smtp._tls.${d}.`, type: 'TXT', value: `"v=TLSRPTv1; rua=mailto:postmaster@${d}"`, why: 'TLS reporting' },
  ];
}
