import type { PrivacyIndex } from '@caliopen/federation-protocol';
import { measureSuggestions, PiTally, type WhatIf } from './pi.tally.ts';
import { clampInt, KEY_TRUST_RANK, keyTrustWords, type KeyTrust } from './pi.shared.ts';

/**
 * The message Privacy Index: verified facts in, score and breakdown out. Pure and synchronous.
 * The rules, their points and the calibration they meet are in docs/privacy-index.md; the laws (monotone, integer,
 * contributions that add up, pure) are property-tested in pi.laws.test.ts.
 */
export interface MessagePiFacts {
  direction: 'inbound' | 'outbound';
  /**
   * The hop into this instance (inbound) or out of it (outbound) as *we* negotiated it. null = not known (an outbound
   * message not delivered yet, an imported message whose arrival we did not witness).
   */
  transport: {
    via: 'smtp' | 'imap-import' | 'local' | 'federation' | 'xmpp';
    tls: { version: string; cipher: string } | null;
    /** Who was on the other end of our hop (HELO name, MX host), for the evidence. */
    peer: string | null;
    /** Hops before ours that the Received chain says were plaintext (claims: they can only lower the PI). */
    plaintextHops: number;
  } | null;
  /** Sender authentication as verified on arrival (SPF, DKIM, DMARC); null when none was checked. */
  authentication: {
    spf: { pass: boolean; domain: string | null };
    /** The best verified DKIM signature: aligned with the From domain, or not, or none that verified. */
    dkim: { result: 'aligned' | 'unaligned' | 'failed' | 'none'; domain: string | null };
    dmarc: { pass: boolean; domain: string | null };
  } | null;
  /** A data-exploiting provider on the other side (charter data), and how it was recognised. */
  provider: { id: string; name: string; evidence: string } | null;
  openpgp: {
    encrypted: boolean;
    signature: 'none' | 'valid' | 'invalid' | 'unknown_key' | 'unverifiable';
    /** How the signer's key is known, when the signature is valid. */
    signerKeyTrust: KeyTrust | null;
    signerFingerprint: string | null;
    problem: string | null;
    /** unknown_key: the signer is another key than the one pinned for the sender (trust on first use's alert). */
    keyConflict?: boolean;
  } | null;
  /** The correspondent is a contact the user made or kept (not one created automatically from mail). */
  knownContact: boolean;
  /** The correspondent's address, for suggestions (`contact:<address>`). */
  correspondent: string | null;
  /**
   * A chat message (XMPP): the end-to-end encryption its stanza claims. A claim only: nothing here holds the keys to
   * check it, so it earns nothing (unverifiable means absent); it is shown so the user knows. Absent for email.
   */
  xmpp?: { server: string; e2eClaim: 'omemo' | 'openpgp' | null } | null;
  /** Filled by the federation protocol: facts about the peer instance the message came from or went to. */
  federation: {
    peerDomain: string;
    /** The peer holds a valid (unexpired, unrevoked) label in the registry's verified feed. */
    labelValid: boolean;
    /** The peer's instance PI from the feed, when labelled. */
    peerInstancePi: number | null;
    /** Sealed envelope: the network saw only the destination instance. */
    sealed: boolean;
    /** Encrypted to a short-lived prekey since deleted. */
    forwardSecret: boolean;
    /** The request was signed by a key the feed lists for the peer (outbound: the peer's receipt was). */
    senderAuthenticated: boolean;
  } | null;
}

/** Points of model hub-pi/1 (documented in docs/privacy-index.md). */
export const MESSAGE_POINTS = {
  tls13: 10,
  tls12: 8,
  tlsOld: 3,
  local: 10,
  plaintextHop: 2,
  spf: 2,
  dkimAligned: 6,
  dkimUnaligned: 2,
  dmarc: 4,
  localSender: 12,
  encrypted: 25,
  signatureValid: 8,
  /** Per step of KEY_TRUST_RANK. */
  keyTrustStep: 1,
  knownContact: 5,
  federationLabel: 15,
  /** Times the peer's instance PI / 100. */
  federationInstancePi: 15,
  federationSealed: 10,
  federationForwardSecret: 5,
  federationAuthenticated: 5,
} as const;

export const MESSAGE_CAPS = {
  /** Plaintext on our hop: a postcard, unless the content itself is encrypted. */
  plaintext: 5,
  plaintextEncrypted: 30,
  /** A data-exploiting provider read it (or its metadata, when the content is encrypted). */
  provider: 10,
  providerEncrypted: 30,
} as const;

export function computeMessagePi(facts: MessagePiFacts): PrivacyIndex {
  const pi = tallyMessage(facts).finish();
  return { ...pi, suggestions: measureSuggestions(facts, pi.score, scoreOf, MESSAGE_WHAT_IFS) };
}

function scoreOf(facts: MessagePiFacts): number {
  return tallyMessage(facts).finish().score;
}

function tlsPoints(tls: { version: string; cipher: string } | null): number {
  if (tls === null) return 0;
  const v = tls.version.toUpperCase().replace(/\s+/g, '');
  if (v === 'TLSV1.3') return MESSAGE_POINTS.tls13;
  if (v === 'TLSV1.2') return MESSAGE_POINTS.tls12;
  return MESSAGE_POINTS.tlsOld;
}

function tallyMessage(f: MessagePiFacts): PiTally {
  const t = new PiTally();
  const inbound = f.direction === 'inbound';
  const encrypted = f.openpgp?.encrypted === true;
  const federated = f.federation?.labelValid;

  // Transport: the hop we negotiated ourselves.
  const tr = f.transport;
  let plaintextOnOurHop = false;
  if (tr === null) {
    t.add(
      'transport.unknown',
      0,
      inbound
        ? 'How this message travelled was not witnessed by this instance (imported).'
        : 'Not delivered yet: the transport is not known.',
    );
  } else if (tr.via === 'local') {
    t.add('transport.local', MESSAGE_POINTS.local, 'Delivered inside this instance: it never crossed a network.');
  } else if (tr.tls !== null) {
    const pts = tlsPoints(tr.tls);
    const peer = tr.peer ? ` ${inbound ? 'from' : 'to'} ${tr.peer}` : '';
    if (tr.via === 'xmpp')
      // The one hop this instance witnessed: its own connection to the account's XMPP server. The server-to-server
      // hop and the contact's connection are not seen from here; like email, only our hop counts.
      t.add(
        'transport.tls',
        pts,
        `${tr.tls.version} (${tr.tls.cipher}) negotiated with the XMPP server${tr.peer ? ` ${tr.peer}` : ''}; the hops beyond it are not witnessed.`,
      );
    else t.add('transport.tls', pts, `${tr.tls.version} (${tr.tls.cipher}) negotiated${peer}.`);
    const hops = clampInt(tr.plaintextHops, 0, 1000);
    if (hops > 0) {
      t.add(
        'transport.plaintext_hops',
        -Math.min(pts, hops * MESSAGE_POINTS.plaintextHop),
        `${hops} earlier hop(s) say they carried it without encryption.`,
      );
    }
  } else if (tr.via === 'imap-import') {
    t.add('transport.unknown', 0, 'Imported from another mailbox: how it reached that mailbox was not witnessed here.');
  } else {
    plaintextOnOurHop = true;
    t.add(
      'transport.plaintext',
      0,
      `Received without encryption${tr.peer ? ` from ${tr.peer}` : ''}: readable by anyone on the path.`,
    );
  }

  // Sender authentication (inbound): only what verified counts.
  const a = f.authentication;
  if (inbound && tr?.via === 'local') {
    t.add('auth.local', MESSAGE_POINTS.localSender, 'Sent by an authenticated account of this instance.');
  } else if (inbound && a !== null) {
    t.add(
      'auth.spf',
      a.spf.pass ? MESSAGE_POINTS.spf : 0,
      a.spf.pass
        ? `SPF pass for ${a.spf.domain ?? 'the envelope domain'}.`
        : 'SPF did not pass: the sending server is not vouched for.',
    );
    const d = a.dkim;
    if (d.result === 'aligned')
      t.add(
        'auth.dkim',
        MESSAGE_POINTS.dkimAligned,
        `DKIM signature by ${d.domain} verified, aligned with the From domain.`,
      );
    else if (d.result === 'unaligned')
      t.add(
        'auth.dkim',
        MESSAGE_POINTS.dkimUnaligned,
        `DKIM signature by ${d.domain} verified, but not for the From domain.`,
      );
    else if (d.result === 'failed')
      t.add(
        'auth.dkim',
        0,
        `DKIM signature${d.domain ? ` by ${d.domain}` : ''} present but does not verify: it earns nothing.`,
      );
    else t.add('auth.dkim', 0, 'No DKIM signature.');
    t.add(
      'auth.dmarc',
      a.dmarc.pass ? MESSAGE_POINTS.dmarc : 0,
      a.dmarc.pass ? `DMARC pass for ${a.dmarc.domain}.` : 'DMARC did not pass.',
    );
  }

  // End-to-end encryption and signatures.
  const p = f.openpgp;
  if (p !== null) {
    if (p.encrypted)
      t.add(
        'e2e.openpgp',
        MESSAGE_POINTS.encrypted,
        'Content encrypted end to end with OpenPGP: neither host can read it.',
      );
    if (p.signature === 'valid' && p.signerKeyTrust !== null) {
      t.add(
        'origin.signature',
        MESSAGE_POINTS.signatureValid,
        `OpenPGP signature verified${p.signerFingerprint ? ` with key ${p.signerFingerprint.slice(-16).toUpperCase()}` : ''}.`,
      );
      t.add(
        'origin.key_trust',
        KEY_TRUST_RANK[p.signerKeyTrust] * MESSAGE_POINTS.keyTrustStep,
        `The signer's key is ${keyTrustWords(p.signerKeyTrust)}.`,
      );
    } else if (p.signature === 'invalid') {
      t.add(
        'origin.signature_invalid',
        0,
        `OpenPGP signature does not verify${p.problem ? `: ${p.problem}` : ''}. The content may have been altered; it earns nothing.`,
      );
    } else if (p.signature === 'unknown_key' && p.keyConflict === true) {
      t.add(
        'origin.signature_key_conflict',
        0,
        `Signed with another OpenPGP key than the one pinned for ${f.correspondent ?? 'the sender'}: a key alert (conflict). It earns nothing until you decide which key is theirs.`,
      );
    } else if (p.signature === 'unknown_key') {
      t.add(
        'origin.signature_unknown_key',
        0,
        'Signed with an OpenPGP key you do not have yet: the signature cannot be checked.',
      );
    } else if (p.signature === 'unverifiable') {
      t.add(
        'origin.signature_unverifiable',
        0,
        'A signature is inside the encrypted content and could not be checked here.',
      );
    }
  }

  const claim = f.xmpp?.e2eClaim ?? null;
  if (claim !== null)
    t.add(
      'e2e.xmpp_claim',
      0,
      `Marked ${claim === 'omemo' ? 'OMEMO' : 'OpenPGP for XMPP'}-encrypted by the sender's client; this instance cannot check it, so it earns nothing.`,
    );

  if (f.knownContact)
    t.add(
      'contact.known',
      MESSAGE_POINTS.knownContact,
      `${f.correspondent ?? 'The correspondent'} is in your contacts.`,
    );

  // Federation: counts only while the peer's label is valid; otherwise the message is worth what email would be.
  const fed = f.federation;
  if (fed !== null) {
    if (!fed.labelValid) {
      t.add(
        'federation.label',
        0,
        `${fed.peerDomain} has no valid label (expired or revoked): the federation earns nothing.`,
      );
    } else {
      t.add(
        'federation.label',
        MESSAGE_POINTS.federationLabel,
        `${fed.peerDomain} holds a valid label from the association.`,
      );
      const pi = fed.peerInstancePi === null ? 0 : clampInt(fed.peerInstancePi, 0, 100);
      t.add(
        'federation.instance_pi',
        (MESSAGE_POINTS.federationInstancePi * pi) / 100,
        fed.peerInstancePi === null
          ? `${fed.peerDomain} has no instance PI in the feed.`
          : `${fed.peerDomain}'s instance PI is ${pi} in the registry's feed.`,
      );
      if (fed.sealed)
        t.add(
          'federation.sealed',
          MESSAGE_POINTS.federationSealed,
          'Sealed envelope: the network saw only the destination instance.',
        );
      if (fed.forwardSecret)
        t.add(
          'federation.forward_secret',
          MESSAGE_POINTS.federationForwardSecret,
          'Encrypted to a short-lived prekey, since deleted (forward secrecy).',
        );
      if (fed.senderAuthenticated) {
        t.add(
          'federation.authenticated',
          MESSAGE_POINTS.federationAuthenticated,
          inbound
            ? `Delivery signed by a key the registry's feed lists for ${fed.peerDomain}.`
            : `Delivery receipt signed by a key the registry's feed lists for ${fed.peerDomain}.`,
        );
      }
    }
  }

  // Caps: each only lowers, and each is lifted (or raised) by a safer fact.
  if (plaintextOnOurHop && !federated) {
    t.cap(
      'cap.plaintext',
      encrypted ? MESSAGE_CAPS.plaintextEncrypted : MESSAGE_CAPS.plaintext,
      encrypted
        ? 'Travelled in plaintext: the content is sealed, but who wrote to whom was readable.'
        : 'Travelled in plaintext, like a postcard.',
    );
  }
  if (f.provider !== null && !federated) {
    t.cap(
      'cap.data_exploiting_provider',
      encrypted ? MESSAGE_CAPS.providerEncrypted : MESSAGE_CAPS.provider,
      `${f.provider.evidence}: ${f.provider.name} finances its mail with its users' data${encrypted ? ' (it sees who writes to whom, not the encrypted content)' : ''}.`,
      { always: true },
    );
  }
  return t;
}

const contactOf = (f: MessagePiFacts) => `contact:${f.correspondent ?? 'unknown'}`;

/** What the user could do about this correspondent, measured on this message. */
const MESSAGE_WHAT_IFS: readonly WhatIf<MessagePiFacts>[] = [
  {
    action: 'contact.add_public_key',
    element: contactOf,
    // Not for a key in conflict: the user decides about the alert, adding a key would not say which one is theirs.
    applies: (f) =>
      f.correspondent !== null && f.openpgp?.signature === 'unknown_key' && f.openpgp.keyConflict !== true,
    apply: (f) => ({ ...f, openpgp: { ...f.openpgp!, signature: 'valid', signerKeyTrust: 'attached' } }),
  },
  {
    action: 'contact.verify_key',
    element: contactOf,
    applies: (f) =>
      f.correspondent !== null && f.openpgp?.signature === 'valid' && f.openpgp.signerKeyTrust !== 'verified',
    apply: (f) => ({ ...f, openpgp: { ...f.openpgp!, signerKeyTrust: 'verified' } }),
  },
  {
    action: 'contact.ask_to_encrypt',
    element: contactOf,
    applies: (f) => f.correspondent !== null && f.openpgp?.encrypted !== true,
    apply: (f) => ({
      ...f,
      openpgp: {
        encrypted: true,
        signature: f.openpgp?.signature ?? 'none',
        signerKeyTrust: f.openpgp?.signerKeyTrust ?? null,
        signerFingerprint: f.openpgp?.signerFingerprint ?? null,
        problem: null,
      },
    }),
  },
  {
    action: 'contact.add_to_contacts',
    element: contactOf,
    applies: (f) => f.correspondent !== null && !f.knownContact,
    apply: (f) => ({ ...f, knownContact: true }),
  },
];
