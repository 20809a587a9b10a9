import { randomUUID } from 'node:crypto';
import { rootCertificates, type TLSSocket } from 'node:tls';
import { Client, xml, type XmlElement } from '@xmpp/client-core';
import _iqCallee from '@xmpp/iq/callee.js';
import _iqCaller from '@xmpp/iq/caller.js';
import _middleware from '@xmpp/middleware';
import _reconnect from '@xmpp/reconnect';
import _resourceBinding from '@xmpp/resource-binding';
import _sasl from '@xmpp/sasl';
import plain from '@xmpp/sasl-plain';
import scramsha1 from '@xmpp/sasl-scram-sha-1';
import { upgrade } from '@xmpp/starttls/starttls.js';
import _streamFeatures from '@xmpp/stream-features';
import _tcp from '@xmpp/tcp';
import SASLFactory from 'saslmechanisms';
import { AppError } from '../shared/errors.ts';
import { resolveImportHost, type Lookup } from '../imports/remote-host.policy.ts';
import type {
  ArchivePage,
  ChatStanza,
  XmppConnector,
  XmppEndpoint,
  XmppSession,
  XmppSessionHandlers,
  XmppTlsFacts,
} from './xmpp-session.port.ts';

const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
const NS_MAM = 'urn:xmpp:mam:2';
const NS_RSM = 'http://jabber.org/protocol/rsm';
const NS_FORWARD = 'urn:xmpp:forward:0';
const NS_DELAY = 'urn:xmpp:delay';
const NS_SID = 'urn:xmpp:sid:0';
const NS_OMEMO = 'eu.siacs.conversations.axolotl';
const NS_OMEMO2 = 'urn:xmpp:omemo:2';
const NS_OX = 'urn:xmpp:openpgp:0';
const NS_EME = 'urn:xmpp:eme:0';

export interface XmppjsConnectorOptions {
  /** Allow hosts that resolve to loopback/private addresses (tests, an operator's own LAN server). */
  allowPrivateHosts: boolean;
  /** More trust anchors (PEM) besides the system ones (a test server's self-signed certificate). */
  extraCa?: string[];
  lookup?: Lookup;
  connectTimeoutMs?: number;
}

/** The parts of a JID: local@domain/resource (only the split; normalisation is the caller's). */
export function splitJid(jid: string): { local: string; domain: string; resource: string } {
  const slash = jid.indexOf('/');
  const bare = slash >= 0 ? jid.slice(0, slash) : jid;
  const at = bare.lastIndexOf('@');
  return {
    local: at >= 0 ? bare.slice(0, at) : '',
    domain: at >= 0 ? bare.slice(at + 1) : bare,
    resource: slash >= 0 ? jid.slice(slash + 1) : '',
  };
}

export const bareOf = (jid: string): string => {
  const { local, domain } = splitJid(jid);
  return (local ? `${local}@${domain}` : domain).toLowerCase();
};

function textOf(el: XmlElement | undefined): string | null {
  if (!el) return null;
  return el.getText();
}

function delayOf(el: XmlElement | undefined): Date | null {
  const stamp = el?.getChild('delay', NS_DELAY)?.attrs['stamp'];
  if (!stamp) return null;
  const d = new Date(stamp);
  return Number.isNaN(d.getTime()) ? null : d;
}

function e2eOf(message: XmlElement): ChatStanza['e2e'] {
  if (message.getChild('encrypted', NS_OMEMO) || message.getChild('encrypted', NS_OMEMO2)) return 'omemo';
  if (message.getChild('openpgp', NS_OX)) return 'openpgp';
  const eme = message.getChild('encryption', NS_EME)?.attrs['namespace'];
  if (eme === NS_OMEMO || eme === NS_OMEMO2) return 'omemo';
  if (eme === NS_OX) return 'openpgp';
  return null;
}

/**
 * A chat message with a body, or null for anything else (errors, group chat, headlines, receipts, chat states).
 * `archiveId`: the stanza-id our own server stamped (`by` = the account's bare JID; servers strip any a sender forged).
 */
export function chatOf(
  message: XmlElement,
  ownBare: string,
  archive: { id: string; delay: Date | null } | null,
): ChatStanza | null {
  const type = message.attrs['type'] ?? 'normal';
  if (type !== 'chat' && type !== 'normal') return null;
  const body = message.getChildText('body');
  if (body === null || message.attrs['from'] === undefined || message.attrs['to'] === undefined) return null;
  const stamped = message.getChildren('stanza-id', NS_SID).find((s) => (s.attrs['by'] ?? '').toLowerCase() === ownBare)
    ?.attrs['id'];
  return {
    archiveId: archive?.id ?? stamped ?? null,
    originId: message.getChild('origin-id', NS_SID)?.attrs['id'] ?? message.attrs['id'] ?? null,
    from: message.attrs['from'],
    to: message.attrs['to'],
    body,
    delayedAt: archive?.delay ?? delayOf(message),
    e2e: e2eOf(message),
    fromArchive: archive !== null,
    tls: null,
  };
}

/** Maps a connection failure to a catalogue error (the message names no secret). */
export function classifyFailure(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const e = err as { name?: string; condition?: string; code?: string; message?: string };
  if (e?.name === 'SASLError' || e?.condition === 'not-authorized') return new AppError('xmpp_auth_failed');
  const msg = `${e?.code ?? ''} ${e?.message ?? ''}`;
  if (/CERT|certificate|self[- ]signed|TLS|SSL|altnames|UNABLE_TO_VERIFY/i.test(msg))
    return new AppError('xmpp_tls_failed');
  return new AppError('xmpp_unreachable');
}

/**
 * The XMPP connector on xmpp.js: STARTTLS required (TLS 1.2+, certificate checked for the JID's domain), SCRAM-SHA-1
 * or PLAIN only inside TLS, automatic reconnection. Durability rests on the server archive (XEP-0313), read on every
 * (re)connection, not on XEP-0198: xmpp.js 0.14's stream management miscounted acknowledgements against Prosody 0.12
 * (the server closed the stream: "Client acknowledged less stanzas than already acknowledged").
 */
export class XmppjsConnector implements XmppConnector {
  constructor(private readonly options: XmppjsConnectorOptions) {}

  async verify(endpoint: XmppEndpoint): Promise<XmppTlsFacts> {
    const session = await this.open(endpoint, null);
    const tls = session.tls();
    await session.close();
    if (tls === null) throw new AppError('xmpp_tls_failed');
    return tls;
  }

  async open(endpoint: XmppEndpoint, handlers: XmppSessionHandlers | null): Promise<XmppSession> {
    const { local, domain } = splitJid(endpoint.jid);
    const host = endpoint.host ?? domain;
    let target: { address: string };
    try {
      target = await resolveImportHost(host, {
        allowPrivate: this.options.allowPrivateHosts,
        ...(this.options.lookup ? { lookup: this.options.lookup } : {}),
      });
    } catch (e) {
      if (e instanceof AppError && e.code === 'imap_host_forbidden')
        throw new AppError('xmpp_host_forbidden', `${host} points to a non-public address.`);
      throw new AppError('xmpp_unreachable', `The host name ${JSON.stringify(host.slice(0, 100))} does not resolve.`);
    }
    const session = new XmppjsSession(
      endpoint,
      { local, domain, address: target.address, port: endpoint.port ?? 5222 },
      this.options,
      handlers,
    );
    try {
      await session.start(this.options.connectTimeoutMs ?? 20_000);
    } catch (e) {
      await session.close().catch(() => undefined);
      throw classifyFailure(e);
    }
    return session;
  }
}

class XmppjsSession implements XmppSession {
  private readonly entity: any;
  private readonly iqCaller: any;
  private readonly reconnect: any;
  private currentTls: XmppTlsFacts | null = null;
  private closed = false;
  private everOnline = false;
  private readonly ownBare: string;
  /** Archive queries in flight: their results, by query id. */
  private readonly queries = new Map<string, ChatStanza[]>();

  constructor(
    endpoint: XmppEndpoint,
    where: { local: string; domain: string; address: string; port: number },
    options: XmppjsConnectorOptions,
    private readonly handlers: XmppSessionHandlers | null,
  ) {
    this.ownBare = bareOf(endpoint.jid);
    const entity = new Client({ service: `xmpp://${where.address}:${where.port}`, domain: where.domain });
    entity.jid = null;
    this.entity = entity;
    this.reconnect = _reconnect({ entity });
    if (handlers === null) this.reconnect.stop();
    _tcp({ entity });
    const middleware = _middleware({ entity });
    const streamFeatures = _streamFeatures({ middleware });
    this.iqCaller = _iqCaller({ middleware, entity });
    const iqCallee = _iqCallee({ middleware, entity });
    iqCallee.get('urn:xmpp:ping', 'ping', () => ({}));

    // STARTTLS, required: the certificate must be valid for the JID's domain (system roots + the configured extra ones).
    const ca = options.extraCa?.length ? [...rootCertificates, ...options.extraCa] : undefined;
    streamFeatures.use('starttls', NS_TLS, async ({ entity: e }: { entity: typeof entity }) => {
      const element: XmlElement = await e.sendReceive(xml('starttls', { xmlns: NS_TLS }));
      if (!element.is('proceed', NS_TLS)) throw new AppError('xmpp_tls_failed');
      const socket = await upgrade(e.socket, {
        host: where.domain,
        servername: where.domain,
        minVersion: 'TLSv1.2',
        rejectUnauthorized: true,
        ...(ca ? { ca } : {}),
      });
      const raw = socket.socket as TLSSocket;
      this.currentTls = { version: raw.getProtocol() ?? 'unknown', cipher: raw.getCipher()?.name ?? 'unknown' };
      e._attachSocket(socket);
      await e.restart();
    });

    const saslFactory = new SASLFactory();
    scramsha1(saslFactory);
    plain(saslFactory);
    _sasl(
      { streamFeatures, saslFactory },
      async (authenticate: (c: unknown, m: string) => Promise<void>, mechanisms: string[]) => {
        // Never authenticate outside TLS: a server that offers no STARTTLS gets no password.
        if (!entity.isSecure() || this.currentTls === null)
          throw new AppError('xmpp_tls_failed', 'The server offered no TLS.');
        const mechanism = mechanisms.find((m) => m === 'SCRAM-SHA-1') ?? mechanisms[0];
        if (!mechanism) throw new AppError('xmpp_auth_failed', 'No usable authentication mechanism.');
        await authenticate({ username: where.local, password: endpoint.password }, mechanism);
      },
    );
    _resourceBinding({ iqCaller: this.iqCaller, streamFeatures }, `caliopen-${randomUUID().slice(0, 8)}`);

    entity.on('error', (err: Error) => {
      this.handlers?.onNotice('xmpp.error', { jid: this.ownBare, error: (err?.message ?? '').slice(0, 200) });
      // The password stopped working (changed on the server): no reconnecting every second with it; the owner of the
      // session decides when to try again.
      if (err?.name === 'SASLError' && this.everOnline && !this.closed) {
        this.reconnect.stop();
        this.handlers?.onOffline('auth_failed');
      }
    });
    entity.on('online', () => {
      this.everOnline = true;
    });
    entity.on('offline', () => {
      this.currentTls = null;
    });
    entity.on('disconnect', (ev: { clean?: boolean }) => {
      if (!this.closed) this.handlers?.onOffline(ev?.clean ? 'closed' : 'lost');
    });
    entity.on('online', async () => {
      await entity.send(xml('presence', {})).catch(() => undefined);
      this.handlers?.onOnline();
    });
    entity.on('stanza', (stanza: XmlElement) => this.onStanza(stanza));
  }

  async start(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.entity.start(),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new AppError('xmpp_unreachable', 'No answer from the server in time.')),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private onStanza(stanza: XmlElement): void {
    if (!stanza.is('message')) return;
    const from = stanza.attrs['from'];
    const result = stanza.getChild('result', NS_MAM);
    if (result) {
      // An archive result counts only from our own account (no `from`, or our bare JID) and for a query we made: a
      // contact cannot slip a forged "archived" message with someone else's address in.
      const queryId = result.attrs['queryid'] ?? '';
      const collected = this.queries.get(queryId);
      if (collected === undefined || (from !== undefined && bareOf(from) !== this.ownBare)) {
        this.handlers?.onNotice('xmpp.forged_archive_result', { jid: this.ownBare, from: (from ?? '').slice(0, 100) });
        return;
      }
      const forwarded = result.getChild('forwarded', NS_FORWARD);
      const inner = forwarded?.getChild('message');
      const id = result.attrs['id'];
      if (!inner || !id) return;
      const chat = chatOf(inner, this.ownBare, { id, delay: delayOf(forwarded) });
      if (chat) collected.push({ ...chat, tls: this.currentTls });
      return;
    }
    const chat = chatOf(stanza, this.ownBare, null);
    if (chat === null) return;
    this.handlers?.onMessage({ ...chat, tls: this.currentTls });
  }

  tls(): XmppTlsFacts | null {
    return this.currentTls;
  }

  online(): boolean {
    return this.entity.status === 'online';
  }

  async send(to: string, body: string, id: string): Promise<void> {
    if (!this.online()) throw new AppError('xmpp_offline');
    const stanza = xml(
      'message',
      { to, type: 'chat', id },
      xml('body', {}, body),
      xml('origin-id', { xmlns: NS_SID, id }),
      xml('markable', { xmlns: 'urn:xmpp:chat-markers:0' }),
    );
    // Written to the TLS stream; the server archives it (XEP-0313), so a later catch-up finds it whatever happens.
    await this.entity.send(stanza);
  }

  async archive(after: string | null, max: number): Promise<ArchivePage> {
    const queryId = randomUUID();
    const collected: ChatStanza[] = [];
    this.queries.set(queryId, collected);
    try {
      const set = xml(
        'set',
        { xmlns: NS_RSM },
        xml('max', {}, String(max)),
        ...(after ? [xml('after', {}, after)] : []),
      );
      const reply: XmlElement = await this.iqCaller.request(
        xml('iq', { type: 'set' }, xml('query', { xmlns: NS_MAM, queryid: queryId }, set)),
        30_000,
      );
      const fin = reply.getChild('fin', NS_MAM);
      const rsm = fin?.getChild('set', NS_RSM);
      return {
        messages: collected,
        last: textOf(rsm?.getChild('last')) ?? null,
        complete: fin?.attrs['complete'] === 'true' || collected.length === 0,
      };
    } finally {
      this.queries.delete(queryId);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.reconnect.stop();
    await this.entity.stop().catch(() => undefined);
  }
}
