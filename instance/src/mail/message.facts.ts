/**
 * Verified facts recorded with a message as it arrives: what the Privacy Index engine scores. Only what was
 * checked goes here (a DKIM signature *verified*, a TLS version *we* negotiated); unverifiable means absent.
 * Stored as `Message.facts` (JSON); later issues add `openpgp` and `federation` sections.
 */
export interface TlsFacts {
  /** As negotiated on our hop, e.g. 'TLSv1.3'. */
  version: string;
  /** OpenSSL cipher name, e.g. 'TLS_AES_256_GCM_SHA384'. */
  cipher: string;
}

export interface ReceivedHop {
  from: string | null;
  by: string | null;
  /** The protocol word of the Received header (ESMTP, ESMTPS, ESMTPSA, LMTP...). */
  with: string | null;
  /** true when the hop says it used TLS (ESMTPS/ESMTPSA or a `(version=TLS...)` comment), false when it says it did not, null when unknown. */
  tls: boolean | null;
  date: string | null;
}

export interface TransportFacts {
  /** How the message reached us. */
  via: 'smtp' | 'imap-import' | 'local' | 'federation' | 'xmpp';
  /** TLS on the hop into this instance; null = plaintext (or not applicable for local/import). */
  tls: TlsFacts | null;
  clientIp: string | null;
  helo: string | null;
  /** The Received: chain as parsed (newest first), outside our own hop. */
  receivedChain: ReceivedHop[];
  /** Hops outside this instance before us. */
  externalHops: number;
  /** Of those, hops that said they were not encrypted (`tls === false`). */
  plaintextHops: number;
}

export type SpfResult = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'temperror' | 'permerror' | 'policy';
export type DkimResult = 'pass' | 'fail' | 'neutral' | 'none' | 'temperror' | 'permerror' | 'policy';
export type DmarcResult = 'pass' | 'fail' | 'none' | 'temperror' | 'permerror';

export interface AuthenticationFacts {
  spf: { result: SpfResult; domain: string | null };
  /** One entry per DKIM-Signature header, each *verified* (result 'pass' only when the signature checked out). */
  dkim: { result: DkimResult; domain: string | null; selector: string | null; aligned: boolean }[];
  dmarc: { result: DmarcResult; domain: string | null; policy: string | null };
}

/** A message received over the federation (instance/src/federation/inbox.routes.ts): what the inbox verified. */
export interface FederationFacts {
  /** The sending instance, authenticated by its request signature (and TLS client certificate). */
  peerDomain: string;
  /** Its label was valid in the verified feed when the envelope was accepted. */
  labelValid: boolean;
  /** Its instance PI from the feed. */
  peerInstancePi: number | null;
  sealed: boolean;
  forwardSecret: boolean;
  senderAuthenticated: boolean;
  /** The envelope id (its receipt names it). */
  envelopeId: string;
  /** The sender declared the body end-to-end encrypted to the recipient. */
  e2e: boolean;
}

/**
 * What the instance's spam filter (spam/, rspamd) said of an inbound message, kept as `facts.spam`. Absent when no
 * filter is configured or the message did not come by SMTP. Not a Privacy Index fact: it decides importance (junk),
 * never how private the message is (docs/adr/0020-central-spam-filtering-with-rspamd.md).
 */
export type SpamFacts =
  | {
      status: 'checked';
      /** Which filter answered ('rspamd'). */
      filter: string;
      /** Our reading of its score against the instance's thresholds (spam.junkScore). */
      verdict: 'spam' | 'ham';
      score: number;
      /** The filter's own action word, for explanation only. */
      action: string;
      /** The rules that fired, highest weight first (bounded). */
      symbols: { name: string; score: number; description: string | null }[];
      checkedAt: string;
    }
  | {
      /** The filter could not answer when the message arrived: filed anyway, checked again later (queue 'spam-check'). */
      status: 'unchecked';
      filter: string;
      reason: string;
      since: string;
    };
/** A chat message (XMPP): what this instance saw of it (xmpp/xmpp.service.ts). */
export interface XmppFacts {
  /** The account's XMPP server (the JID's domain): the c2s hop's TLS is in `transport.tls`. */
  server: string;
  /** End-to-end encryption the stanza claims (OMEMO, OpenPGP for XMPP): not checkable here, so it earns nothing. */
  e2eClaim: 'omemo' | 'openpgp' | null;
  /** Heard from the server archive (XEP-0313) during a catch-up, rather than live. */
  fromArchive: boolean;
  /** The body was longer than the instance keeps (MAX_CHAT_BODY_CHARS) and was cut. */
  bodyTruncated: boolean;
}

export interface MessageFacts {
  transport: TransportFacts | null;
  authentication: AuthenticationFacts | null;
  /** Only for messages received over the federation. */
  federation?: FederationFacts;
  /** Only when a spam filter is configured and the message came by SMTP. */
  spam?: SpamFacts;
  /** Only for chat messages (XMPP). */
  xmpp?: XmppFacts;
  /** Outbound chat: how it left (read by the PI like a Sent copy's deliveries). */
  delivery?: import('./delivery.fact.ts').DeliveryFact[];
}

/** Facts of a message that never left this instance (composed here, or delivered locally). */
export const LOCAL_FACTS: MessageFacts = {
  transport: {
    via: 'local',
    tls: null,
    clientIp: null,
    helo: null,
    receivedChain: [],
    externalHops: 0,
    plaintextHops: 0,
  },
  authentication: null,
};
