import { Type, type Static, type TSchema } from 'typebox';
import type { Message } from '../mail/message.entity.ts';

/**
 * The verified facts recorded on a message's way in, as the API shows them: on a message (messages/message.dto.ts
 * re-exports them) and, for the correspondent's trust level, on each discussion of the list (`include=trust`). Here,
 * below conversations/, for the same reason as message-summary.dto.ts: the conversation routes show them too.
 */

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

const ReceivedHopDto = Type.Object(
  {
    from: Nullable(Type.String()),
    by: Nullable(Type.String()),
    with: Nullable(Type.String()),
    tls: Nullable(Type.Boolean()),
    date: Nullable(Type.String()),
  },
  { additionalProperties: false },
);

export const TransportFactsDto = Type.Object(
  {
    via: Type.String({ description: 'smtp, imap-import, local, federation or xmpp' }),
    tls: Nullable(Type.Object({ version: Type.String(), cipher: Type.String() }, { additionalProperties: false })),
    clientIp: Nullable(Type.String()),
    helo: Nullable(Type.String()),
    receivedChain: Type.Array(ReceivedHopDto),
    externalHops: Type.Integer(),
    plaintextHops: Type.Integer(),
  },
  { additionalProperties: false },
);

export const AuthenticationFactsDto = Type.Object(
  {
    spf: Type.Object({ result: Type.String(), domain: Nullable(Type.String()) }, { additionalProperties: false }),
    dkim: Type.Array(
      Type.Object(
        {
          result: Type.String(),
          domain: Nullable(Type.String()),
          selector: Nullable(Type.String()),
          aligned: Type.Boolean(),
        },
        { additionalProperties: false },
      ),
    ),
    dmarc: Type.Object(
      { result: Type.String(), domain: Nullable(Type.String()), policy: Nullable(Type.String()) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export const OpenPgpFactsDto = Type.Object(
  {
    kind: Type.String({ description: 'none, pgp-mime-encrypted, pgp-mime-signed, inline-encrypted or inline-signed.' }),
    encrypted: Type.Boolean(),
    signature: Type.String({ description: 'none, valid, invalid, unknown_key or unverifiable.' }),
    signerFingerprint: Nullable(Type.String()),
    signerKeyTrust: Nullable(Type.String()),
    problem: Nullable(Type.String()),
    decrypted: Type.Optional(
      Type.Boolean({
        description:
          'Decrypted here with your key (server-side key mode): the signature fields are those of the signature inside.',
      }),
    ),
    pendingDecryption: Type.Optional(
      Type.Boolean({
        description: 'Arrived while your server-held key was locked: decrypted in the background once you sign in.',
      }),
    ),
    keyConflict: Type.Optional(
      Type.Boolean({
        description:
          'Signed by another key than the one pinned for the sender: a key alert (GET /api/v1/keys/alerts when the mail was vouched for).',
      }),
    ),
  },
  { additionalProperties: false },
);

/** Received over the federation: what the inbox verified about the sending instance. */
const FederationFactsDto = Type.Object(
  {
    peerDomain: Type.String({
      description: 'The sending instance, authenticated by its request signature and TLS client certificate.',
    }),
    labelValid: Type.Boolean({
      description: "Its label was valid in the registry's verified feed when the envelope was accepted.",
    }),
    peerInstancePi: Nullable(Type.Integer({ description: "Its instance PI in the registry's feed." })),
    sealed: Type.Boolean(),
    forwardSecret: Type.Boolean(),
    senderAuthenticated: Type.Boolean(),
    e2e: Type.Boolean({
      description: 'The sender declared the content end-to-end encrypted (OpenPGP) to the recipient.',
    }),
    receipt: Type.Boolean({
      description:
        'This instance accepted the envelope and returned the sending instance a receipt it signed, naming the envelope id.',
    }),
  },
  { additionalProperties: false },
);

/** The instance's spam filter on this message (rspamd): what it said, or that it could not say yet. */
export const SpamFactsDto = Type.Object(
  {
    status: Type.Union([Type.Literal('checked'), Type.Literal('unchecked')], {
      description: 'unchecked: the filter could not answer when the message arrived; it is checked again later.',
    }),
    filter: Type.String({ description: 'Which filter (rspamd).' }),
    verdict: Nullable(Type.Union([Type.Literal('spam'), Type.Literal('ham')])),
    score: Nullable(Type.Number({ description: "The filter's score; spam from the instance's junk score up." })),
    symbols: Type.Array(
      Type.Object(
        { name: Type.String(), score: Type.Number(), description: Nullable(Type.String()) },
        { additionalProperties: false },
      ),
      { description: 'The rules that fired, highest weight first.' },
    ),
    at: Type.String({ description: 'When it was checked (or first found unchecked).' }),
  },
  { additionalProperties: false },
);

/** A chat message (XMPP): what the instance saw of it. */
const XmppFactsDto = Type.Object(
  {
    server: Type.String({
      description: "The account's XMPP server: the TLS in `transport` is this instance's connection to it.",
    }),
    e2eClaim: Nullable(
      Type.String({
        description: 'omemo or openpgp: the encryption the stanza claims; not checkable here, so it earns nothing.',
      }),
    ),
    fromArchive: Type.Boolean({ description: 'Caught up from the server archive (XEP-0313) after a disconnection.' }),
    bodyTruncated: Type.Boolean({ description: 'The body was longer than the instance keeps and was cut.' }),
  },
  { additionalProperties: false },
);

export const MessageFactsDto = Type.Object(
  {
    transport: Nullable(TransportFactsDto),
    authentication: Nullable(AuthenticationFactsDto),
    openpgp: Nullable(OpenPgpFactsDto),
    federation: Nullable(FederationFactsDto),
    spam: Nullable(SpamFactsDto),
    xmpp: Type.Optional(Nullable(XmppFactsDto)),
  },
  { additionalProperties: false, description: 'Verified facts recorded on the way in; unverifiable means null.' },
);

export function toMessageFactsDto(facts: Message['facts']): Static<typeof MessageFactsDto> {
  return {
    transport: transportDto(facts.transport),
    authentication: authenticationDto(facts.authentication),
    openpgp: openPgpDto(facts.openpgp),
    federation: federationDto(facts.federation),
    spam: spamDto(facts.spam),
    ...(facts.xmpp !== undefined ? { xmpp: xmppDto(facts.xmpp) } : {}),
  };
}

function xmppDto(v: unknown): Static<typeof XmppFactsDto> | null {
  const o = obj(v);
  const server = str(o?.server);
  if (o === null || server === null) return null;
  return {
    server,
    e2eClaim: o.e2eClaim === 'omemo' || o.e2eClaim === 'openpgp' ? o.e2eClaim : null,
    fromArchive: o.fromArchive === true,
    bodyTruncated: o.bodyTruncated === true,
  };
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const int = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : 0);
const obj = (v: unknown): Record<string, unknown> | null =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const bool = (v: unknown): boolean | null => (typeof v === 'boolean' ? v : null);

/** Facts as stored (JSON written by several protocols over time) read defensively into the documented shape. */
function transportDto(v: unknown): Static<typeof TransportFactsDto> | null {
  const t = obj(v);
  if (t === null) return null;
  const tls = obj(t.tls);
  return {
    via: str(t.via) ?? 'unknown',
    tls: tls === null ? null : { version: str(tls.version) ?? '', cipher: str(tls.cipher) ?? '' },
    clientIp: str(t.clientIp),
    helo: str(t.helo),
    receivedChain: arr(t.receivedChain).flatMap((h) => {
      const hop = obj(h);
      return hop === null
        ? []
        : [{ from: str(hop.from), by: str(hop.by), with: str(hop.with), tls: bool(hop.tls), date: str(hop.date) }];
    }),
    externalHops: int(t.externalHops),
    plaintextHops: int(t.plaintextHops),
  };
}

function authenticationDto(v: unknown): Static<typeof AuthenticationFactsDto> | null {
  const a = obj(v);
  if (a === null) return null;
  const spf = obj(a.spf) ?? {};
  const dmarc = obj(a.dmarc) ?? {};
  return {
    spf: { result: str(spf.result) ?? 'none', domain: str(spf.domain) },
    dkim: arr(a.dkim).flatMap((s) => {
      const sig = obj(s);
      return sig === null
        ? []
        : [
            {
              result: str(sig.result) ?? 'none',
              domain: str(sig.domain),
              selector: str(sig.selector),
              aligned: sig.aligned === true,
            },
          ];
    }),
    dmarc: { result: str(dmarc.result) ?? 'none', domain: str(dmarc.domain), policy: str(dmarc.policy) },
  };
}

function federationDto(v: unknown): Static<typeof FederationFactsDto> | null {
  const o = obj(v);
  const peerDomain = str(o?.peerDomain);
  if (o === null || peerDomain === null) return null;
  const pi = o.peerInstancePi;
  return {
    peerDomain,
    labelValid: o.labelValid === true,
    peerInstancePi: typeof pi === 'number' && Number.isInteger(pi) ? pi : null,
    sealed: o.sealed === true,
    forwardSecret: o.forwardSecret === true,
    senderAuthenticated: o.senderAuthenticated === true,
    e2e: o.e2e === true,
    receipt: str(o?.envelopeId) !== null,
  };
}

function openPgpDto(v: unknown): Static<typeof OpenPgpFactsDto> | null {
  const o = obj(v);
  if (o === null) return null;
  return {
    kind: str(o.kind) ?? 'none',
    encrypted: o.encrypted === true,
    signature: str(o.signature) ?? 'none',
    signerFingerprint: str(o.signerFingerprint),
    signerKeyTrust: str(o.signerKeyTrust),
    problem: str(o.problem),
    ...(o.decrypted === true ? { decrypted: true } : {}),
    ...(o.pendingDecryption === true ? { pendingDecryption: true } : {}),
    ...(o.keyConflict === true ? { keyConflict: true } : {}),
  };
}

function spamDto(v: unknown): Static<typeof SpamFactsDto> | null {
  const o = obj(v);
  if (o === null || (o.status !== 'checked' && o.status !== 'unchecked')) return null;
  const checked = o.status === 'checked';
  return {
    status: o.status,
    filter: str(o.filter) ?? 'unknown',
    verdict: checked && (o.verdict === 'spam' || o.verdict === 'ham') ? o.verdict : null,
    score: checked && typeof o.score === 'number' && Number.isFinite(o.score) ? o.score : null,
    symbols: checked
      ? arr(o.symbols).flatMap((x) => {
          const sym = obj(x);
          const name = str(sym?.name);
          return sym === null || name === null || typeof sym.score !== 'number'
            ? []
            : [{ name, score: sym.score, description: str(sym.description) }];
        })
      : [],
    at: str(checked ? o.checkedAt : o.since) ?? '',
  };
}
