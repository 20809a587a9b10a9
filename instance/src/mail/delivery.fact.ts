/**
 * What a delivery of the Sent copy negotiated, recorded on it (`facts.delivery`, one entry per recipient domain) for
 * its Privacy Index: the weakest delivery counts.
 */
export interface DeliveryFact {
  domain: string;
  via: 'smtp' | 'local' | 'federation' | 'xmpp';
  tls: { version: string; cipher: string } | null;
  /** host:port of the server that accepted it (null for local delivery). */
  peer: string | null;
  at: string;
  /** Federation only: the recipient instance's signed receipt (compact JWS), verified before it is recorded. */
  receipt?: string;
  /** Federation only: what this delivery verified about the peer instance (the Sent copy's federation factors). */
  federation?: DeliveryFederationFact;
}

/** What a federation delivery verified, recorded with it (read back by privacy/message-pi.facts.ts). */
export interface DeliveryFederationFact {
  /** The peer held a valid label in the verified feed when the envelope was sent. */
  labelValid: boolean;
  /** Its instance PI from the feed. */
  peerInstancePi: number | null;
  /** Sent as a sealed envelope (the network saw only the destination instance). */
  sealed: boolean;
  /** Sealed to one of the peer's short-lived prekeys (deleted after their window). */
  forwardSecret: boolean;
  /** Every recipient's receipt verified against a signing key the feed lists for the peer. */
  receiptVerified: boolean;
  /** The envelope declared the content end-to-end encrypted (PGP/MIME). */
  e2e: boolean;
}
