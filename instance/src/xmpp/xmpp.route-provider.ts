import type { Storage } from '../database/storage.port.ts';
import { computeMessagePi } from '../pi-model/message-pi.model.ts';
import type { RouteContext, RouteOption, RouteProvider } from '../routing/route-preview.service.ts';
import type { XmppService } from './xmpp.service.ts';

/** Rank of the chat route: our TLS hop only, like TLS email, without a verifiable sender authentication. */
export const XMPP_ROUTE_RANK = 15;

/**
 * The chat route of the route preview: offered when the recipient (an email address or a JID) is a contact with an
 * XMPP address and the sender has linked an XMPP account. Available while that account's session is connected; its
 * PI is the model's for an outbound chat over the TLS that session negotiated.
 */
export function xmppRouteProvider(deps: {
  storage: Storage;
  xmpp: Pick<XmppService, 'list' | 'sessionTls'>;
}): RouteProvider {
  return {
    name: 'xmpp',
    async routesFor(c: RouteContext): Promise<RouteOption[]> {
      const contact =
        (await deps.storage.contacts.findByIdentity(c.sender.id, 'email', c.address)) ??
        (await deps.storage.contacts.findByIdentity(c.sender.id, 'xmpp', c.address));
      const jid = contact?.identities.find((i) => i.protocol === 'xmpp')?.address ?? null;
      if (jid === null) return [];
      const links = await deps.xmpp.list(c.sender.id);
      const live = links.map((l) => ({ link: l, tls: deps.xmpp.sessionTls(l.id) })).find((x) => x.tls !== null);
      const link = live?.link ?? links[0] ?? null;
      const server = link ? link.jid.slice(link.jid.lastIndexOf('@') + 1) : null;
      const pi = computeMessagePi({
        direction: 'outbound',
        transport: live ? { via: 'xmpp', tls: live.tls, peer: server, plaintextHops: 0 } : null,
        authentication: null,
        provider: null,
        openpgp: null,
        // Known: the preview's answer for the address, or a contact the user made or kept holding the JID.
        knownContact: c.knownContact || contact?.automatic === false,
        correspondent: jid,
        federation: null,
        xmpp: server ? { server, e2eClaim: null } : null,
      });
      const option = (status: RouteOption['status'], reason: string): RouteOption => ({
        route: 'xmpp',
        rank: XMPP_ROUTE_RANK,
        status,
        available: status === 'available',
        reason,
        encrypted: false,
        key: null,
        pi,
      });
      if (link === null)
        return [option('unavailable', `${jid} can be reached by chat (XMPP): link an XMPP account to use it.`)];
      if (!live)
        return [option('unavailable', `By chat to ${jid} from ${link.jid}: that account is reconnecting right now.`)];
      return [
        option(
          'available',
          `By chat to ${jid} from ${live.link.jid} (${live.tls!.version} to ${server}; the hops beyond are not witnessed).`,
        ),
      ];
    },
  };
}
