import 'reflect-metadata';
import { createHash, createPublicKey } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/**
 * Reading the certificate an application declares: the leaf of a PEM chain, its SHA-256 fingerprints (of the DER,
 * as labels and the feed pin it; of the SPKI, as TLSA 3 1 1 names it), whether its SAN covers a domain, and whether
 * its key is acceptable.
 */

export interface DeclaredCertificate {
  readonly certificate: x509.X509Certificate;
  readonly der: Buffer;
  /** SHA-256 of the DER, lowercase hex. */
  readonly fingerprintSha256: string;
  /** SHA-256 of the SubjectPublicKeyInfo DER, lowercase hex (TLSA selector 1, matching type 1). */
  readonly spkiSha256: string;
  readonly spkiDer: Buffer;
}

/** A PEM chain is at most this long: a leaf and a few intermediates. */
const MAX_PEM_LENGTH = 64 * 1024;
const PEM_BLOCK = /-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+?)-----END CERTIFICATE-----/;

/** Parses the leaf (the first certificate) of a PEM; throws an Error saying why it cannot. */
export function parseDeclaredCertificate(pem: string): DeclaredCertificate {
  if (typeof pem !== 'string' || pem.length === 0) throw new Error('no certificate was declared');
  if (pem.length > MAX_PEM_LENGTH) throw new Error(`the declared PEM is longer than ${MAX_PEM_LENGTH} characters`);
  const block = PEM_BLOCK.exec(pem);
  if (block === null) throw new Error('the declared certificate is not a PEM "CERTIFICATE" block');
  const der = Buffer.from(block[1]!.replace(/\s+/g, ''), 'base64');
  let certificate: x509.X509Certificate;
  try {
    certificate = new x509.X509Certificate(der);
  } catch (error) {
    throw new Error(`the declared certificate does not parse as X.509: ${(error as Error).message}`);
  }
  const spkiDer = Buffer.from(certificate.publicKey.rawData);
  return {
    certificate,
    der,
    fingerprintSha256: sha256Hex(der),
    spkiSha256: sha256Hex(spkiDer),
    spkiDer,
  };
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function sha512Hex(bytes: Uint8Array): string {
  return createHash('sha512').update(bytes).digest('hex');
}

/** The DNS names of the SAN extension, lowercase (no SAN: none; the subject CN is not a host name since RFC 6125). */
export function sanDnsNames(certificate: x509.X509Certificate): string[] {
  const san = certificate.getExtension(x509.SubjectAlternativeNameExtension);
  if (san === null) return [];
  return san.names.items
    .filter((name) => name.type === 'dns')
    .map((name) => name.value.toLowerCase().replace(/\.$/, ''));
}

/**
 * Whether a SAN DNS name covers `domain` (RFC 6125 §6.4, as browsers apply it): equal ignoring case, or a wildcard
 * `*` that is the whole leftmost label and stands for exactly one label, never in a name of fewer than three labels
 * (`*.example.org` covers `a.example.org`, not `example.org` nor `a.b.example.org`; `*.org` covers nothing).
 */
export function sanNameCovers(sanName: string, domain: string): boolean {
  const name = sanName.toLowerCase().replace(/\.$/, '');
  const host = domain.toLowerCase().replace(/\.$/, '');
  if (name.length === 0 || host.length === 0) return false;
  if (!name.includes('*')) return name === host;
  const [first, ...rest] = name.split('.');
  if (first !== '*' || rest.length < 2 || rest.some((label) => label.includes('*') || label.length === 0)) return false;
  const hostLabels = host.split('.');
  if (hostLabels.length !== rest.length + 1 || hostLabels[0]!.length === 0) return false;
  return hostLabels.slice(1).join('.') === rest.join('.');
}

export interface KeyAssessment {
  readonly acceptable: boolean;
  /** "ECDSA P-256", "RSA 2048 bits", "Ed25519"... */
  readonly description: string;
  /** Why it is not acceptable. */
  readonly reason?: string;
}

const ACCEPTED_CURVES = new Set(['P-256', 'P-384']);
const MIN_RSA_BITS = 2048;

/** RSA of at least 2048 bits, ECDSA on P-256 or P-384, or Ed25519; anything else is refused. */
export function assessKey(declared: DeclaredCertificate): KeyAssessment {
  let algorithm: { name?: string; namedCurve?: string; modulusLength?: number };
  try {
    algorithm = declared.certificate.publicKey.algorithm as typeof algorithm;
  } catch {
    algorithm = {};
  }
  // Node's reading of the same SPKI, for what the X.509 library does not name (unusual curves, Ed448...).
  let nodeType: string | undefined;
  let nodeDetails: { modulusLength?: number; namedCurve?: string } = {};
  try {
    const key = createPublicKey({ key: declared.spkiDer, format: 'der', type: 'spki' });
    nodeType = key.asymmetricKeyType;
    nodeDetails = key.asymmetricKeyDetails ?? {};
  } catch {
    // an SPKI Node cannot read is refused below
  }
  const name = algorithm.name ?? '';
  if (nodeType === 'rsa' || nodeType === 'rsa-pss' || name.startsWith('RSA')) {
    const bits = algorithm.modulusLength ?? nodeDetails.modulusLength;
    const description = `RSA ${bits ?? '?'} bits`;
    if (bits === undefined || bits < MIN_RSA_BITS)
      return { acceptable: false, description, reason: `RSA keys need at least ${MIN_RSA_BITS} bits` };
    return { acceptable: true, description };
  }
  if (nodeType === 'ec' || name === 'ECDSA' || name === 'ECDH') {
    const curve = algorithm.namedCurve ?? nodeCurveName(nodeDetails.namedCurve);
    const description = `ECDSA ${curve ?? 'unknown curve'}`;
    if (curve === undefined || !ACCEPTED_CURVES.has(curve))
      return { acceptable: false, description, reason: 'ECDSA keys must be on P-256 or P-384' };
    return { acceptable: true, description };
  }
  if (nodeType === 'ed25519' || name === 'Ed25519') return { acceptable: true, description: 'Ed25519' };
  const description = nodeType ?? (name || 'an unknown key type');
  return {
    acceptable: false,
    description,
    reason: 'only RSA (2048 bits or more), ECDSA P-256/P-384 and Ed25519 are accepted',
  };
}

function nodeCurveName(curve: string | undefined): string | undefined {
  if (curve === 'prime256v1') return 'P-256';
  if (curve === 'secp384r1') return 'P-384';
  if (curve === 'secp521r1') return 'P-521';
  return curve;
}

/** The hash of the certificate's signature, when it has one ("SHA-256"); MD5 and SHA-1 signatures are refused. */
export function signatureHash(declared: DeclaredCertificate): string | undefined {
  const algorithm = declared.certificate.signatureAlgorithm as { hash?: { name?: string } };
  return algorithm.hash?.name;
}
