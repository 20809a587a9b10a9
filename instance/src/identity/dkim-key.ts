import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { createRequire } from 'node:module';

/**
 * The instance's DKIM key: RSA-2048 (what every receiver verifies; Ed25519 DKIM is still not universally checked),
 * one selector per key so that a later rotation publishes `caliopen2` beside `caliopen1` before switching.
 * Generated at `instance init` (or on the first start of an instance created before DKIM) and sealed at rest with
 * the other private keys in `keys/identity.json`.
 */
export const DKIM_SELECTOR = 'caliopen1';
export const DKIM_KEY_BITS = 2048;

export interface DkimKey {
  /** The d= domain: the instance domain. */
  domain: string;
  selector: string;
  /** PKCS#8 PEM. Never logged. */
  privateKeyPem: string;
  /** SPKI PEM. */
  publicKeyPem: string;
}

export function generateDkimKeyPair(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: DKIM_KEY_BITS,
    publicExponent: 0x10001,
  });
  return {
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}

/** The DNS name of the key record: `<selector>._domainkey.<domain>`. */
export function dkimRecordName(domain: string, selector: string = DKIM_SELECTOR): string {
  return `${selector}._domainkey.${domain}`;
}

/** The TXT record value (RFC 6376 §3.6.1): `v=DKIM1; k=rsa; p=<base64 SPKI DER>`. */
export function dkimTxtValue(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ format: 'der', type: 'spki' });
  return `v=DKIM1; k=rsa; p=${der.toString('base64')}`;
}

/**
 * The value cut into character-strings of at most 255 octets (a TXT record's limit; a 2048-bit key does not fit in
 * one), as zone files and DNS control panels take them: `"v=DKIM1; k=rsa; " "p=MIIB..." "..."`.
 */
export function dkimTxtStrings(publicKeyPem: string): string[] {
  const value = dkimTxtValue(publicKeyPem);
  const out: string[] = [];
  for (let i = 0; i < value.length; i += 255) out.push(value.slice(i, i + 255));
  return out;
}

export function quotedTxt(strings: readonly string[]): string {
  return strings.map((s) => `"${s}"`).join(' ');
}

/**
 * The headers our DKIM signature covers: the usual set (as mailauth signs by default), plus `Autocrypt`, so that a
 * peer that learns our users' keys from that header only when DKIM verified is not fooled by one added on the way.
 * Bcc is left out, so the Bcc header of the sender's Sent copy can be removed before transmission.
 */
export const DKIM_SIGNED_HEADERS = [
  'From',
  'Sender',
  'Reply-To',
  'Subject',
  'Date',
  'Message-ID',
  'To',
  'Cc',
  'MIME-Version',
  'Content-Type',
  'Content-Transfer-Encoding',
  'Content-ID',
  'Content-Description',
  'Resent-Date',
  'Resent-From',
  'Resent-Sender',
  'Resent-To',
  'Resent-Cc',
  'Resent-Message-ID',
  'In-Reply-To',
  'References',
  'List-Id',
  'List-Help',
  'List-Unsubscribe',
  'List-Subscribe',
  'List-Post',
  'List-Owner',
  'List-Archive',
  'Autocrypt',
].join(':');

/**
 * mailauth's DKIM signer (its `dkimSign` is this class fed by `writeToStream`): message parsing, body hash, header
 * selection and canonicalisation, the DKIM-Signature header's format all stay mailauth's. Only its last step is ours
 * (CachedKeySigner.finalize): mailauth parses the PEM private key again for every message (`getPrivateKey`:
 * `createPrivateKey`, then a first use of a fresh key object), about half the cost of signing; here the key object
 * is parsed once per key and reused. The output is byte for byte mailauth's (dkim-key.test.ts compares them).
 */
const require = createRequire(import.meta.url);
interface MailauthSigner {
  headers: { parsed: unknown } | null;
  headerList: string;
  signTime: Date;
  expires: unknown;
  arc: Record<string, unknown>;
  signatureData: Record<string, unknown>[];
  bodyHashes: Map<string, { hash: string | null }>;
  signatureHeaders: string[];
  errors: unknown[];
}
const { DkimSigner } = require('mailauth/lib/dkim/dkim-signer.js') as {
  DkimSigner: new (options: unknown) => MailauthSigner;
};
const { generateCanonicalizedHeader } = require('mailauth/lib/dkim/header/index.js') as {
  generateCanonicalizedHeader: (
    type: string,
    lines: unknown,
    options: Record<string, unknown>,
  ) => { canonicalizedHeader: Buffer; dkimHeaderOpts: Record<string, unknown> };
};
const { getSigningHeaderLines, formatSignatureHeaderLine, writeToStream } = require('mailauth/lib/tools.js') as {
  getSigningHeaderLines: (parsed: unknown, headerList: string) => unknown;
  formatSignatureHeaderLine: (type: string, options: Record<string, unknown>, folded: boolean) => string;
  writeToStream: (stream: unknown, input: Buffer) => Promise<void>;
};

const ALGORITHM = 'rsa-sha256';
const CANONICALIZATION = 'relaxed/relaxed';

/** mailauth's signer with the private key object given (parsed once), for our one configuration (rsa-sha256, relaxed/relaxed, no l=). */
class CachedKeySigner extends DkimSigner {
  constructor(
    options: unknown,
    private readonly keyObject: KeyObject,
  ) {
    super(options);
  }

  /** mailauth's DkimSigner.finalize for a DKIM signature, the key parse left out. */
  async finalize(): Promise<void> {
    for (const signatureData of this.signatureData) {
      try {
        const signingHeaderLines = getSigningHeaderLines(this.headers!.parsed, this.headerList);
        const hashKey = `relaxed:sha256:${String(signatureData['maxBodyLength'])}`;
        const { canonicalizedHeader, dkimHeaderOpts } = generateCanonicalizedHeader('DKIM', signingHeaderLines, {
          ...signatureData,
          instance: 'instance' in this.arc && (this.arc['instance'] || 1),
          algorithm: ALGORITHM,
          canonicalization: CANONICALIZATION,
          signTime: this.signTime,
          expires: this.expires,
          bodyHash: this.bodyHashes.get(hashKey)?.hash ?? null,
        });
        dkimHeaderOpts['b'] = sign(ALGORITHM, canonicalizedHeader, this.keyObject).toString('base64');
        this.signatureHeaders.push(formatSignatureHeaderLine('DKIM', dkimHeaderOpts, true));
      } catch (err) {
        this.errors.push({ err });
      }
    }
  }
}

/** The parsed private key of the last DKIM key used (an instance has one key; a rotation replaces it). */
let parsedKey: { pem: string; key: KeyObject } | null = null;

function privateKeyObject(pem: string): KeyObject {
  if (parsedKey?.pem !== pem) {
    let key: KeyObject;
    try {
      key = createPrivateKey({ key: pem, format: 'pem' });
    } catch (err) {
      throw new Error(`DKIM signing failed: ${(err as Error).message}`);
    }
    if (key.asymmetricKeyType !== 'rsa')
      throw new Error(`DKIM signing failed: Invalid key type: "${key.asymmetricKeyType}" (expecting "rsa")`);
    parsedKey = { pem, key };
  }
  return parsedKey.key;
}

/** Signs an RFC 5322 message and returns it with the DKIM-Signature header prepended (relaxed/relaxed, rsa-sha256). */
export async function signWithDkim(raw: Buffer, key: DkimKey, at: Date): Promise<Buffer> {
  // mailauth reads the keys from `signatureData` (its top-level signingDomain/selector/privateKey are ignored).
  const options = {
    canonicalization: CANONICALIZATION,
    algorithm: ALGORITHM,
    signTime: at,
    headerList: DKIM_SIGNED_HEADERS,
    signatureData: [
      {
        signingDomain: key.domain,
        selector: key.selector,
        privateKey: key.privateKeyPem,
        canonicalization: CANONICALIZATION,
        algorithm: ALGORITHM,
      },
    ],
  };
  const signer = new CachedKeySigner(options, privateKeyObject(key.privateKeyPem));
  await writeToStream(signer, raw);
  const signatures = `${signer.signatureHeaders.join('\r\n')}\r\n`;
  if (signer.errors.length > 0) {
    const first = signer.errors[0] as { err?: Error } | Error;
    const message = first instanceof Error ? first.message : (first.err?.message ?? 'unknown error');
    throw new Error(`DKIM signing failed: ${message}`);
  }
  if (!/^DKIM-Signature:/i.test(signatures)) throw new Error('DKIM signing produced no signature');
  return Buffer.concat([Buffer.from(signatures, 'utf8'), raw]);
}
