/**
 * What the instance's /api/v1 answers, as the app reads it. Mirrors the DTOs of instance/src (message.dto.ts,
 * pi.dto.ts, conversation.routes.ts, auth.routes.ts); only the fields the app uses are required.
 */

export type PiLevel = 'exposed' | 'basic' | 'guarded' | 'protected' | 'private' | 'sealed';

export interface PiSummary {
  score: number;
  level: string;
  modelVersion: string;
}

export interface PiFactor {
  id: string;
  contribution: number;
  evidence: string;
}

export interface PiSuggestion {
  action: string;
  element: string;
  gain: number;
}

export interface PiBreakdown extends PiSummary {
  factors: PiFactor[];
  suggestions: PiSuggestion[];
}

export type Importance = 'junk' | 'low' | 'normal' | 'high' | 'important';

export interface DiscussionParticipant {
  contactId: string | null;
  address: string;
  name: string | null;
}

export interface Discussion {
  id: string;
  kind: 'people' | 'list';
  title: string;
  participants: DiscussionParticipant[];
  lastMessageAt: string;
  messageCount: number;
  unreadCount: number;
  importance: Importance;
  pi: PiSummary | null;
  createdAt: string;
  /**
   * The verified facts of the newest received message (the list asks for them with `include=trust`): the
   * correspondent's trust level comes from them. null: only messages you sent.
   */
  senderFacts?: MessageFacts | null;
}

export interface Page<T> {
  items: T[];
  next: string | null;
}

export interface Participant {
  protocol: string;
  address: string;
  name: string | null;
  contactId: string | null;
}

export interface MessageSummary {
  id: string;
  conversationId: string;
  protocol: string;
  direction: 'inbound' | 'outbound';
  from: Participant;
  to: Participant[];
  cc: Participant[];
  subject: string;
  snippet: string;
  sentAt: string | null;
  receivedAt: string;
  read: boolean;
  importance: Importance;
  pi: PiSummary | null;
}

export interface TransportFacts {
  via: string;
  tls: { version: string; cipher: string } | null;
  plaintextHops: number;
  externalHops: number;
}

export interface AuthenticationFacts {
  spf: { result: string; domain: string | null };
  dkim: { result: string; domain: string | null; selector: string | null; aligned: boolean }[];
  dmarc: { result: string; domain: string | null; policy: string | null };
}

export interface OpenPgpFacts {
  kind: string;
  encrypted: boolean;
  signature: string;
  signerFingerprint: string | null;
  signerKeyTrust: string | null;
  problem: string | null;
  /** Decrypted by the instance with a server-held key. */
  decrypted?: boolean;
  /** Waiting for the server-held key to be unlocked. */
  pendingDecryption?: boolean;
  /** Signed by another key than the one pinned for the sender (a key alert). */
  keyConflict?: boolean;
}

export interface FederationFacts {
  peerDomain: string;
  labelValid: boolean;
  peerInstancePi: number | null;
  sealed: boolean;
  forwardSecret: boolean;
  senderAuthenticated: boolean;
  e2e: boolean;
  /** The inbox accepted the envelope and returned the sending instance a signed receipt. */
  receipt?: boolean;
}

/** The instance's spam filter (rspamd) on a received message; `unchecked`: it could not answer yet. */
export interface SpamFacts {
  status: 'checked' | 'unchecked';
  filter: string;
  verdict: 'spam' | 'ham' | null;
  score: number | null;
  symbols: { name: string; score: number; description: string | null }[];
  at: string;
}

export interface MessageFacts {
  transport: TransportFacts | null;
  authentication: AuthenticationFacts | null;
  openpgp: OpenPgpFacts | null;
  federation: FederationFacts | null;
  /** Absent from instances without a spam filter (and older ones). */
  spam?: SpamFacts | null;
}

/** The user's word on a message (PATCH /api/v1/messages/:id `importance`): junk and not junk teach the spam filter. */
export type ImportanceFeedback = 'important' | 'junk' | 'not-junk';

export interface MessageDetail extends Omit<MessageSummary, 'pi'> {
  pi: PiBreakdown;
  facts: MessageFacts;
  body: { text: string; textTruncated: boolean; hasHtml: boolean };
  attachments: { filename: string | null; contentType: string; size: number }[];
}

export interface Account {
  id: string;
  username: string;
  displayName: string;
  role: 'user' | 'admin';
  totpEnabled: boolean;
}

/** A password for one mail app (SMTP submission), as GET /api/v1/me/app-passwords lists it. */
export interface AppPassword {
  id: string;
  label: string;
  createdAt: string;
  lastUsedAt: string | null;
}

/** One entry of the admin actions journal (admin-journal/journal.routes.ts). */
export interface JournalEntry {
  v: 1;
  seq: number;
  at: string;
  actor: { kind: 'admin'; accountId: string; username: string } | { kind: 'cli' };
  action: string;
  subject: { accountId: string; username: string } | null;
  details: Record<string, string | number | boolean | null>;
  prevHash: string;
  hash: string;
}

export interface LoginReply {
  token: string;
  tokenType: 'Bearer';
  expiresAt: string;
  account: Account;
  device: Device;
}

/** RFC 9457 problem details, as every error of the API is sent. */
export interface Problem {
  type?: string;
  title?: string;
  status: number;
  code: string;
  detail?: string;
  requestId?: string;
}

/** `GET /api/v1/routes?to=` (instance/src/routing/route-preview.routes.ts). */
/** `xmpp`: a chat reply (from a discussion), shown beside the mail routes; a composed mail never takes it. */
export type RouteKind = 'federation' | 'openpgp-email' | 'local' | 'tls-email' | 'email' | 'xmpp';

export interface RouteOptionDto {
  route: RouteKind;
  rank: number;
  status: 'available' | 'unavailable' | 'unknown';
  available: boolean;
  reason: string;
  encrypted: boolean;
  /** `armored`: the public key, to encrypt to in the browser (client key mode). */
  key: { fingerprint: string; source: string; verified: boolean; armored: string } | null;
  pi: PiBreakdown;
}

export interface RoutePreview {
  to: string;
  routes: RouteOptionDto[];
  chosen: RouteKind | null;
  encrypted: boolean;
}

/** `POST /api/v1/messages` (instance/src/email/compose.routes.ts): what the app sends. */
/** GET /api/v1/messages/limits. */
export interface MessageLimits {
  maxAttachmentBytes: number;
  maxAttachments: number;
}

/** A file attached to a message being sent: its bytes in base64. */
export interface OutgoingAttachment {
  filename: string;
  contentType: string;
  content: string;
}

export interface ComposeRequest {
  /** An imported address to send as (relayed through its provider); absent: the account's own address. */
  from?: string;
  to: { address: string }[];
  attachments?: OutgoingAttachment[];
  /** Absent when the message is encrypted in the browser: the real subject is inside, the instance shows "...". */
  subject?: string;
  text?: string;
  /** Client key mode: the message encrypted and signed in the browser (one armoured OpenPGP message). */
  encrypted?: string;
  inReplyTo?: string;
  route: 'auto' | 'email' | 'federation';
  emailFallback?: boolean;
}

export interface SendReply {
  id: string;
  conversationId: string;
  messageId: string;
  recipients: {
    address: string;
    kind: 'to' | 'cc' | 'bcc';
    route: 'local' | 'smtp' | 'federation';
    status: 'delivered' | 'queued' | 'failed';
    detail?: string;
    encrypted: boolean;
  }[];
  encrypted: boolean;
  signed: boolean;
}

/** `GET /api/v1/messages/:id/html`: the HTML part, unsanitised (the app sanitises and sandboxes it). */
export interface HtmlBody {
  html: string | null;
  truncated: boolean;
}

/** `GET /api/v1/contacts` (instance/src/contacts/contact.routes.ts). */
export interface ContactIdentity {
  protocol: string;
  address: string;
  label: string | null;
}

export interface Contact {
  id: string;
  displayName: string;
  identities: ContactIdentity[];
  notes: string;
  automatic: boolean;
  pi: PiSummary | null;
  createdAt: string;
  updatedAt: string;
}

export interface ContactDetail extends Omit<Contact, 'pi'> {
  pi: PiBreakdown;
}

/** A correspondent's OpenPGP key (instance/src/keys/contact-key.routes.ts). */
export interface CorrespondentKey {
  fingerprint: string;
  fingerprintGrouped: string;
  address: string;
  source: string;
  status: 'active' | 'superseded' | 'conflict' | 'rejected';
  verified: boolean;
  verifiedAt: string | null;
  createdAt: string;
  expiresAt: string | null;
  algorithm: string;
  version: number;
  firstSeenAt: string;
  lastSeenAt: string;
  /** The public key, armoured (verifies the signatures of mail decrypted in the browser). */
  armored: string;
}

/** `GET /api/v1/keys/alerts`: a different key appeared for an address after one was pinned. */
export interface KeyAlert {
  address: string;
  contact: { id: string; displayName: string } | null;
  pinned: CorrespondentKey | null;
  conflicting: CorrespondentKey;
  raisedAt: string;
}

/** The account's own keys (instance/src/keys/account-key.routes.ts). */
export type KeyMode = 'none' | 'server' | 'client';

export interface OwnKey {
  fingerprint: string;
  fingerprintGrouped: string;
  status: 'active' | 'retired' | 'revoked';
  heldBy: 'server' | 'client';
  userIds: string[];
  version: number;
  algorithm: string;
  createdAt: string;
  expiresAt: string | null;
  addedAt: string;
  revocationHeld: boolean;
  armored: string;
}

export interface KeysReply {
  mode: KeyMode;
  unlocked: boolean;
  items: OwnKey[];
  /** The account's address: a key made in the browser carries it in its user ID. */
  address: string;
}

/** `GET /api/v1/privacy`: the account's PI and the ranked suggestions (account, devices, contacts). */
export interface RankedSuggestion extends PiSuggestion {
  elementScore: number;
}

export interface PrivacyOverview {
  account: PiBreakdown;
  suggestions: RankedSuggestion[];
}

/** `GET /api/v1/devices` (instance/src/devices/device.dto.ts). */
export interface Device {
  id: string;
  name: string;
  type: 'desktop' | 'mobile' | 'tablet' | 'cli' | 'unknown';
  os: string | null;
  osVersion: string | null;
  browser: string | null;
  browserVersion: string | null;
  firstSeenAt: string;
  lastSeenAt: string;
  revokedAt: string | null;
  current: boolean;
  pi: PiBreakdown;
}

/** GET /api/v1/search */
export interface SearchReply {
  total: number;
  items: { score: number; conversationId: string; message: MessageSummary }[];
}

/** GET /api/v1/notices: this instance's standing changes and the user's failed deliveries. */
export type Notice =
  | {
      id: string;
      kind: 'standing';
      at: string | null;
      change: 'stopped' | 'resumed';
      status: string;
      reason: string | null;
      dismissed: boolean;
    }
  | {
      id: string;
      kind: 'delivery';
      at: string;
      messageId: string;
      conversationId: string | null;
      subject: string | null;
      recipients: { address: string; status: string; diagnostic: string }[];
      dismissed: boolean;
    };

/** GET /api/v1/federation (the parts the app shows). */
export interface FederationStatus {
  enabled: boolean;
  domain: string;
  standing: { status: string; labelValid: boolean; labelExpiresAt: string | null };
  federationRoutes: 'open' | 'closed';
  explanation: string;
}

/** GET /api/v1/federation/peers/:domain: what the registry's verified feed says of a correspondent's instance. */
export interface PeerInstance {
  domain: string;
  entry: {
    standing: 'labelled' | 'expired' | 'suspended' | 'revoked';
    labelValid: boolean;
    labelId: string;
    issuer: string | null;
    labelExpiresAt: string;
    instancePi: PiBreakdown;
    revocation: { reason: string | null; at: string | null } | null;
    feedSerial: number | null;
  } | null;
}

/** A linked XMPP account (GET /api/v1/xmpp/accounts). */
export interface XmppAccount {
  id: string;
  jid: string;
  label: string;
  host: string | null;
  port: number | null;
  /** The instance's session of this account is connected now. */
  connected: boolean;
  createdAt: string;
}

/** How the instance reaches a remote IMAP server: TLS from the first byte, upgraded by STARTTLS, or in clear. */
export type ImapTls = 'implicit' | 'starttls' | 'none';

/** Progress of a remote mailbox's current or last import (identities/remote-identity.dto.ts, SyncStatusDto). */
export interface ImportStatus {
  importId: string | null;
  state: 'idle' | 'queued' | 'running' | 'completed' | 'failed';
  trigger: 'manual' | 'scheduled' | null;
  queuedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  heartbeatAt: string | null;
  lastError: { code: string; message: string } | null;
  folders: {
    path: string;
    total: number | null;
    done: number;
    imported: number;
    skipped: number;
    /** Not imported: the provider's junk folder or its trash (their mail stays there); null: imported. */
    excluded: 'junk' | 'trash' | null;
  }[];
  totals: { total: number; done: number; imported: number; skipped: number };
  lastSuccessAt: string | null;
}

/** A mailbox at another provider, imported over IMAP (the password is never returned). */
export interface RemoteMailbox {
  id: string;
  kind: 'imap';
  label: string;
  host: string;
  port: number;
  tls: ImapTls;
  username: string;
  createdAt: string;
  sync: ImportStatus;
}

export interface NewRemoteMailbox {
  kind: 'imap';
  host: string;
  port: number;
  tls: ImapTls;
  username: string;
  password: string;
  label?: string;
}

/** Sending as an imported address: its provider's submission server (the password is never returned). */
export interface SendAsRelay {
  identityId: string;
  address: string;
  host: string;
  port: number;
  tls: 'implicit' | 'starttls';
  username: string;
  updatedAt: string;
}

export interface NewSendAsRelay {
  address: string;
  host: string;
  port: number;
  tls: 'implicit' | 'starttls';
  username?: string;
  password: string;
}
