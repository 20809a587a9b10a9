import { SESSION_ENDED_CODES } from './problem-messages.ts';
import type {
  XmppAccount,
  ImportStatus,
  NewRemoteMailbox,
  NewSendAsRelay,
  RemoteMailbox,
  SendAsRelay,
  Account,
  ComposeRequest,
  Contact,
  ContactDetail,
  CorrespondentKey,
  Device,
  Discussion,
  FederationStatus,
  KeyAlert,
  Notice,
  KeysReply,
  OwnKey,
  PrivacyOverview,
  HtmlBody,
  JournalEntry,
  LoginReply,
  MessageDetail,
  MessageLimits,
  MessageSummary,
  ImportanceFeedback,
  Page,
  PeerInstance,
  Problem,
  RoutePreview,
  SearchReply,
  SendReply,
  AppPassword,
} from './types.ts';

/** An API call that did not succeed: the problem+json the instance sent (or a synthetic one for network failures). */
export class ApiError extends Error {
  readonly problem: Problem | 'network';
  constructor(problem: Problem | 'network') {
    super(problem === 'network' ? 'network' : problem.code);
    this.problem = problem;
  }
  get code(): string {
    return this.problem === 'network' ? 'network' : this.problem.code;
  }
  get sessionEnded(): boolean {
    return this.problem !== 'network' && SESSION_ENDED_CODES.has(this.problem.code);
  }
}

const TOKEN_KEY = 'caliopen.session';

export interface StoredSession {
  token: string;
  expiresAt: string;
  username: string;
  displayName: string;
  /** The account's role at sign-in (GET /api/v1/me says it too): 'admin' shows the operator's console. */
  role?: 'user' | 'admin';
}

/** The session lives in sessionStorage: it ends with the tab, and is never readable by another origin. */
export const sessionStore = {
  read(): StoredSession | null {
    try {
      const raw = sessionStorage.getItem(TOKEN_KEY);
      if (!raw) return null;
      const s = JSON.parse(raw) as StoredSession;
      if (Date.parse(s.expiresAt) <= Date.now()) {
        sessionStorage.removeItem(TOKEN_KEY);
        return null;
      }
      return s;
    } catch {
      return null;
    }
  },
  write(s: StoredSession): void {
    sessionStorage.setItem(TOKEN_KEY, JSON.stringify(s));
  },
  clear(): void {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

const DEVICE_KEY = 'caliopen.devices';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * This browser's device id per account (an id belongs to one account), in localStorage: it outlives the tab, as the
 * device does. Not a secret: without the account's password it opens nothing. Anything unreadable is ignored (a new
 * device is then recorded, as before).
 */
export const deviceStore = {
  readAll(): Record<string, string> {
    try {
      const v = JSON.parse(localStorage.getItem(DEVICE_KEY) ?? '{}') as unknown;
      return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, string>) : {};
    } catch {
      return {};
    }
  },
  read(username: string): string | null {
    const id = deviceStore.readAll()[username.toLowerCase()];
    return typeof id === 'string' && UUID.test(id) ? id : null;
  },
  write(username: string, id: string): void {
    try {
      localStorage.setItem(DEVICE_KEY, JSON.stringify({ ...deviceStore.readAll(), [username.toLowerCase()]: id }));
    } catch {
      // storage full or disabled: the next sign-in records a new device
    }
  },
};

async function toProblem(res: Response): Promise<Problem> {
  try {
    const body = (await res.json()) as Partial<Problem>;
    if (typeof body.code === 'string') return { ...body, status: res.status, code: body.code };
  } catch {
    // not JSON: fall through
  }
  return { status: res.status, code: `http_${res.status}` };
}

/** A thin client over /api/v1 with the bearer token; every failure is an ApiError carrying the problem. */
/** GET /api/v1/account/deletion. */
export type AccountDeletionStatus = { pending: false } | { pending: true; requestedAt: string; dueAt: string };

export class ApiClient {
  constructor(
    private readonly token: () => string | null,
    private readonly onSessionEnded: () => void = () => {},
    private readonly base = '',
  ) {}

  /** A message's raw form (RFC 5322 bytes, as received: still encrypted when it came encrypted). */
  async messageRaw(id: string): Promise<Uint8Array> {
    const res = await this.fetchApi('GET', `/api/v1/messages/${encodeURIComponent(id)}/raw`, 'message/rfc822');
    return new Uint8Array(await res.arrayBuffer());
  }

  /** Everything the instance keeps about the account, as one tar archive (GET /api/v1/account/export). */
  async accountExport(): Promise<{ blob: Blob; filename: string }> {
    const res = await this.fetchApi('GET', '/api/v1/account/export', 'application/x-tar');
    const named = /filename="([A-Za-z0-9._-]{1,100})"/.exec(res.headers.get('content-disposition') ?? '');
    return { blob: await res.blob(), filename: named?.[1] ?? 'caliopen-export.tar' };
  }

  /** Whether the deletion of the account is pending (GET /api/v1/account/deletion). */
  accountDeletion(): Promise<AccountDeletionStatus> {
    return this.request<AccountDeletionStatus>('GET', '/api/v1/account/deletion');
  }

  /** Asks for the deletion of the account; every session (this one included) ends. */
  requestAccountDeletion(password: string, totp?: string): Promise<AccountDeletionStatus> {
    return this.request<AccountDeletionStatus>('POST', '/api/v1/account/deletion', {
      password,
      ...(totp ? { totp } : {}),
    });
  }

  cancelAccountDeletion(): Promise<void> {
    return this.request<void>('DELETE', '/api/v1/account/deletion');
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.fetchApi(method, path, 'application/json', body);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  private async fetchApi(method: string, path: string, accept: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { accept };
    const token = this.token();
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch {
      throw new ApiError('network');
    }
    if (!res.ok) {
      const error = new ApiError(await toProblem(res));
      if (error.sessionEnded && token) this.onSessionEnded();
      throw error;
    }
    return res;
  }

  /**
   * Signs in as this browser's device: the id an earlier sign-in of this account got is sent back, so the devices list
   * shows one entry per browser, not one per sign-in. No name is sent: the instance names a new device from the
   * browser's User-Agent ("Chrome on Linux", "Firefox on Windows").
   */
  async login(username: string, password: string, totp?: string): Promise<LoginReply> {
    const deviceId = deviceStore.read(username);
    const reply = await this.request<LoginReply>('POST', '/api/v1/auth/login', {
      username,
      password,
      ...(deviceId ? { deviceId } : {}),
      ...(totp ? { totp } : {}),
    });
    deviceStore.write(username, reply.device.id);
    return reply;
  }

  logout(): Promise<void> {
    return this.request('POST', '/api/v1/auth/logout');
  }

  /** A page of discussions, each with the facts its correspondent's trust level comes from (one request a page). */
  discussions(sort: 'date' | 'importance', cursor?: string): Promise<Page<Discussion>> {
    const q = new URLSearchParams({ sort, limit: '100', include: 'trust' });
    if (cursor) q.set('cursor', cursor);
    return this.request('GET', `/api/v1/discussions?${q}`);
  }

  /** A correspondent's instance as the registry's feed says (label, standing, instance PI); entry null: not a member. */
  peer(domain: string): Promise<PeerInstance> {
    return this.request('GET', `/api/v1/federation/peers/${encodeURIComponent(domain)}`);
  }

  /** One discussion; with `trust`, the facts its correspondent's trust level comes from, as in the list. */
  discussion(id: string, options: { trust?: boolean } = {}): Promise<Discussion> {
    return this.request('GET', `/api/v1/discussions/${encodeURIComponent(id)}${options.trust ? '?include=trust' : ''}`);
  }

  discussionMessages(id: string, limit = 50, cursor?: string): Promise<Page<MessageSummary>> {
    const q = new URLSearchParams({ limit: String(limit) });
    if (cursor) q.set('cursor', cursor);
    return this.request('GET', `/api/v1/discussions/${encodeURIComponent(id)}/messages?${q}`);
  }

  message(id: string): Promise<MessageDetail> {
    return this.request('GET', `/api/v1/messages/${encodeURIComponent(id)}`);
  }

  /** One attachment of a message, decoded (index as in the message's `attachments`). */
  async attachment(id: string, index: number): Promise<Blob> {
    const path = `/api/v1/messages/${encodeURIComponent(id)}/attachments/${index}`;
    return (await this.fetchApi('GET', path, '*/*')).blob();
  }

  /** What one message may carry (attachment bytes and count), to refuse a file before sending. */
  messageLimits(): Promise<MessageLimits> {
    return this.request('GET', '/api/v1/messages/limits');
  }

  markRead(id: string): Promise<unknown> {
    return this.request('PATCH', `/api/v1/messages/${encodeURIComponent(id)}`, { read: true });
  }

  /** Your word on a message: junk, not junk (both teach the instance's spam filter), important; null withdraws it. */
  setImportance(id: string, importance: ImportanceFeedback | null): Promise<MessageSummary> {
    return this.request('PATCH', `/api/v1/messages/${encodeURIComponent(id)}`, { importance });
  }

  messageHtml(id: string): Promise<HtmlBody> {
    return this.request('GET', `/api/v1/messages/${encodeURIComponent(id)}/html`);
  }

  /** A remote image of a message, fetched by the instance for the reader: the sender never sees the reader's address. */
  async remoteImage(id: string, url: string): Promise<Blob> {
    const path = `/api/v1/messages/${encodeURIComponent(id)}/remote-image?${new URLSearchParams({ url })}`;
    return (await this.fetchApi('GET', path, 'image/*')).blob();
  }

  /** The routes to one recipient, most private first, with the PI each gives and the one sending would take. */
  routes(to: string): Promise<RoutePreview> {
    return this.request('GET', `/api/v1/routes?${new URLSearchParams({ to })}`);
  }

  send(message: ComposeRequest): Promise<SendReply> {
    return this.request('POST', '/api/v1/messages', message);
  }

  // Contacts and their keys (contact.routes.ts, contact-key.routes.ts, key-alert.routes.ts)

  contacts(cursor?: string): Promise<Page<Contact>> {
    const q = new URLSearchParams({ limit: '200' });
    if (cursor) q.set('cursor', cursor);
    return this.request('GET', `/api/v1/contacts?${q}`);
  }

  contact(id: string): Promise<ContactDetail> {
    return this.request('GET', `/api/v1/contacts/${encodeURIComponent(id)}`);
  }

  /** Changes a contact: `identities`, when given, replaces the whole list. */
  updateContact(
    id: string,
    patch: { displayName?: string; identities?: { protocol: string; address: string; label: string | null }[] },
  ): Promise<Contact> {
    return this.request('PATCH', `/api/v1/contacts/${encodeURIComponent(id)}`, patch);
  }

  /** Merges the sources into the target: their addresses move to it, they go, their discussions join the target's. */
  mergeContacts(
    target: string,
    sources: string[],
  ): Promise<{ contact: Contact; conversationsMerged: number; messagesMoved: number }> {
    return this.request('POST', '/api/v1/contacts/merge', { target, sources });
  }

  contactKeys(id: string): Promise<{ items: CorrespondentKey[] }> {
    return this.request('GET', `/api/v1/contacts/${encodeURIComponent(id)}/keys`);
  }

  addContactKey(
    id: string,
    armored: string,
    address?: string,
  ): Promise<{ key: CorrespondentKey; outcome: 'known' | 'new' | 'conflict' }> {
    return this.request('POST', `/api/v1/contacts/${encodeURIComponent(id)}/keys`, {
      armored,
      ...(address ? { address } : {}),
    });
  }

  /** You compared the fingerprint with the person: the key becomes the verified one (a conflicting one is set aside). */
  verifyContactKey(id: string, fingerprint: string): Promise<{ items: CorrespondentKey[] }> {
    return this.request(
      'POST',
      `/api/v1/contacts/${encodeURIComponent(id)}/keys/${encodeURIComponent(fingerprint)}/verify`,
    );
  }

  rejectContactKey(id: string, fingerprint: string): Promise<{ items: CorrespondentKey[] }> {
    return this.request(
      'POST',
      `/api/v1/contacts/${encodeURIComponent(id)}/keys/${encodeURIComponent(fingerprint)}/reject`,
    );
  }

  keyAlerts(): Promise<Page<KeyAlert>> {
    return this.request('GET', '/api/v1/keys/alerts?limit=200');
  }

  // My privacy (privacy.routes.ts, trust-sharing.routes.ts, account-key.routes.ts, me.routes.ts)

  privacy(): Promise<PrivacyOverview> {
    return this.request('GET', '/api/v1/privacy');
  }

  sharing(): Promise<{ shareTrust: boolean }> {
    return this.request('GET', '/api/v1/privacy/sharing');
  }

  setSharing(shareTrust: boolean): Promise<{ shareTrust: boolean }> {
    return this.request('PUT', '/api/v1/privacy/sharing', { shareTrust });
  }

  keys(): Promise<KeysReply> {
    return this.request('GET', '/api/v1/keys');
  }

  /** Server mode: generate a key (no armoredPrivateKey) or import one; the password is asked again. */
  addServerKey(password: string, armoredPrivateKey?: string, passphrase?: string): Promise<{ key: OwnKey }> {
    return this.request('POST', '/api/v1/keys', {
      mode: 'server',
      password,
      ...(armoredPrivateKey ? { armoredPrivateKey } : {}),
      ...(armoredPrivateKey && passphrase ? { passphrase } : {}),
    });
  }

  /** Client mode: register the public key of a key made (or imported) in this browser; the private key stays here. */
  addClientKey(armoredPublicKey: string, revocationCertificate?: string): Promise<{ key: OwnKey }> {
    return this.request('POST', '/api/v1/keys', {
      mode: 'client',
      armoredPublicKey,
      ...(revocationCertificate ? { revocationCertificate } : {}),
    });
  }

  setKeyMode(
    mode: 'server' | 'client',
    password: string,
    extra: { exportPassphrase?: string; armoredPrivateKey?: string; passphrase?: string } = {},
  ): Promise<{ mode: string; exported: string | null; items: OwnKey[] }> {
    return this.request('POST', '/api/v1/keys/mode', { mode, password, ...extra });
  }

  exportKey(password: string, exportPassphrase?: string): Promise<{ armored: string }> {
    return this.request('POST', '/api/v1/keys/export', {
      password,
      ...(exportPassphrase ? { exportPassphrase } : {}),
    });
  }

  me(): Promise<Account> {
    return this.request('GET', '/api/v1/me');
  }

  beginTotp(): Promise<{ secret: string; otpauthUri: string }> {
    return this.request('POST', '/api/v1/me/totp');
  }

  confirmTotp(code: string): Promise<void> {
    return this.request('POST', '/api/v1/me/totp/confirm', { code });
  }

  /** Passwords for mail apps (GET /api/v1/me/app-passwords): never the passwords themselves. */
  appPasswords(): Promise<{ items: AppPassword[] }> {
    return this.request('GET', '/api/v1/me/app-passwords');
  }

  /** A new app password: the answer is the only place its secret is ever shown. */
  createAppPassword(label: string): Promise<AppPassword & { password: string }> {
    return this.request('POST', '/api/v1/me/app-passwords', { label });
  }

  revokeAppPassword(id: string): Promise<void> {
    return this.request('DELETE', `/api/v1/me/app-passwords/${encodeURIComponent(id)}`);
  }

  /** What the instance's operators did to this account (GET /api/v1/me/journal), newest first. */
  myJournal(before?: number): Promise<{ items: JournalEntry[]; next: number | null }> {
    return this.request('GET', `/api/v1/me/journal?limit=50${before ? `&before=${before}` : ''}`);
  }

  /**
   * Any call of the API, for screens loaded on demand that bring their own endpoints (the operator's console,
   * web/src/admin/admin-api.ts): same token, same problem handling.
   */
  call<T>(method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown): Promise<T> {
    return this.request(method, path, body);
  }

  // Search, notices, live updates (message.routes.ts, notice.routes.ts, live-event.routes.ts)

  search(q: string, limit = 50): Promise<SearchReply> {
    return this.request('GET', `/api/v1/search?${new URLSearchParams({ q, limit: String(limit) })}`);
  }

  notices(): Promise<{ items: Notice[] }> {
    return this.request('GET', '/api/v1/notices');
  }

  dismissNotice(id: string): Promise<void> {
    return this.request('POST', `/api/v1/notices/${encodeURIComponent(id)}/dismiss`);
  }

  federation(): Promise<FederationStatus> {
    return this.request('GET', '/api/v1/federation');
  }

  /** The live-update stream's URL and the bearer token to open it with (web/src/live/event-stream.ts reads it). */
  liveEventsRequest(): { url: string; token: string | null } {
    return { url: `${this.base}/api/v1/events`, token: this.token() };
  }

  /** The session ended while a live stream was open (its `session.ended` event): as any call told so. */
  sessionEnded(): void {
    this.onSessionEnded();
  }

  // Devices (device.routes.ts)

  devices(): Promise<{ items: Device[] }> {
    return this.request('GET', '/api/v1/devices');
  }

  revokeDevice(id: string): Promise<Device> {
    return this.request('DELETE', `/api/v1/devices/${encodeURIComponent(id)}`);
  }

  // Linked XMPP accounts and chat (xmpp/xmpp.routes.ts)

  xmppAccounts(): Promise<{ items: XmppAccount[] }> {
    return this.request('GET', '/api/v1/xmpp/accounts');
  }

  linkXmppAccount(input: { jid: string; password: string; host?: string; port?: number }): Promise<XmppAccount> {
    return this.request('POST', '/api/v1/xmpp/accounts', input);
  }

  unlinkXmppAccount(id: string): Promise<XmppAccount> {
    return this.request('DELETE', `/api/v1/xmpp/accounts/${encodeURIComponent(id)}`);
  }

  // Mailboxes at other providers, imported over IMAP, and sending as their addresses (identities/*.routes.ts,
  // imports/imap-import.routes.ts)

  remoteMailboxes(): Promise<{ items: RemoteMailbox[] }> {
    return this.request('GET', '/api/v1/identities');
  }

  /** Adds a mailbox; the instance tries the login first (nothing is kept when it fails). */
  addRemoteMailbox(input: NewRemoteMailbox): Promise<RemoteMailbox> {
    return this.request('POST', '/api/v1/identities', input);
  }

  /** A new password (tried first: nothing changes when the login fails) or name; the sync positions are kept. */
  updateRemoteMailbox(id: string, change: { password?: string; label?: string }): Promise<RemoteMailbox> {
    return this.request('PATCH', `/api/v1/identities/${encodeURIComponent(id)}`, change);
  }

  /** Forgets a mailbox (its password and sync positions); mail already imported stays. */
  removeRemoteMailbox(id: string): Promise<RemoteMailbox> {
    return this.request('DELETE', `/api/v1/identities/${encodeURIComponent(id)}`);
  }

  /** Starts an import now (or answers the one already queued or running). */
  startImport(id: string): Promise<ImportStatus> {
    return this.request('POST', `/api/v1/identities/${encodeURIComponent(id)}/import`);
  }

  sendAsRelays(): Promise<{ items: SendAsRelay[] }> {
    return this.request('GET', '/api/v1/send-as');
  }

  /** Sets the submission server of an imported address; the instance tries the sign-in first. */
  setSendAs(identityId: string, input: NewSendAsRelay): Promise<SendAsRelay> {
    return this.request('PUT', `/api/v1/identities/${encodeURIComponent(identityId)}/send-as`, input);
  }

  removeSendAs(identityId: string): Promise<void> {
    return this.request('DELETE', `/api/v1/identities/${encodeURIComponent(identityId)}/send-as`);
  }

  /** Sends a chat message to a contact's XMPP address; resolves the message as filed. */
  sendChat(input: { contactId: string; text: string }): Promise<MessageSummary> {
    return this.request('POST', '/api/v1/xmpp/messages', input);
  }
}
