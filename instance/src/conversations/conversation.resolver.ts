import { createHash, randomUUID } from 'node:crypto';
import type { Contact } from '../contacts/contact.entity.ts';
import type { ContactService } from '../contacts/contact.service.ts';
import type { ParsedAddress } from '../mail/message.parser.ts';
import type { Participant, Protocol } from '../mail/message.entity.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import type { Storage } from '../database/storage.port.ts';
import type { Conversation } from './conversation.entity.ts';

/**
 * Conversations are defined by who you talk with.
 *
 * - The key of a conversation with people is the sorted set of the *other* participants' contact ids (the account's
 *   own addresses never count). Every valid address resolves to a contact — an address nobody knows yet gets an
 *   automatic contact first — so the key is always made of contact ids, and a person who writes from two addresses
 *   of the same contact stays in one conversation. The ids are hashed into the key (`people:<sha256>`), which keeps
 *   keys short whatever the number of participants; the conversation keeps the ids themselves in `participants`.
 * - Mailing-list mail (a List-Id header) forms its own conversation keyed by the list id (`list:<id>`); list
 *   traffic does not create automatic contacts (a busy list would flood the address book), but senders who already
 *   are contacts are resolved.
 * - Mail with nobody else in it (notes to self) is `people:self`; inbound mail whose sender could not be read and
 *   that has nobody else in it is `people:unknown`.
 */

export const SELF_KEY = 'people:self';
export const UNKNOWN_SENDER_KEY = 'people:unknown';

export function peopleKey(contactIds: Iterable<string>): string {
  const ids = [...new Set(contactIds)].sort();
  if (ids.length === 0) return SELF_KEY;
  return `people:${createHash('sha256').update(ids.join('\n')).digest('hex')}`;
}

export function listKey(listId: string): string {
  return `list:${listId.toLowerCase()}`;
}

/** Reply and forward markers in the languages mail clients write them in, and `[list]` tags. */
const SUBJECT_PREFIX =
  /^\s*(?:(?:re|fwd?|fw|tr|aw|wg|sv|vs|antw|rif|r|enc|res|rv|odp|pd|ynt|atb|ref|réf|απ|σχετ|отв|回复|转发|回覆|答复|轉寄)\s*(?:\[\d{1,4}\]|\(\d{1,4}\))?\s*[:：]|\[[^\]]{0,64}\])\s*/iu;

/**
 * The per-subject thread key: the subject without reply/forward prefixes (Re:, Fwd:, TR:, AW:, SV:, Re[2]: ...) and
 * list tags, case-folded, whitespace collapsed, at most 200 characters. '' when nothing is left.
 */
export function threadKeyOf(subject: string): string {
  let s = subject.normalize('NFKC');
  for (let i = 0; i < 32; i++) {
    const next = s.replace(SUBJECT_PREFIX, '');
    if (next === s) break;
    s = next;
  }
  return Array.from(s.toLowerCase().replace(/\s+/gu, ' ').trim()).slice(0, 200).join('');
}

/** "Alice, Bob, Chloé +2": the first three names, and how many more. */
export function titleOf(participants: Conversation['participants'], fallback: string): string {
  if (participants.length === 0) return fallback;
  const names = participants.map((p) => p.name ?? p.address);
  const shown = names.slice(0, 3).join(', ');
  return names.length > 3 ? `${shown} +${names.length - 3}` : shown;
}

export interface ResolveInput {
  accountId: string;
  /** The protocol of the addresses (default email): they resolve to the contacts holding them on that protocol. */
  protocol?: Protocol;
  direction: 'inbound' | 'outbound';
  from: ParsedAddress | null;
  to: ParsedAddress[];
  cc: ParsedAddress[];
  list: { id: string; name: string | null } | null;
  /** The account's own addresses (normalised): never "other participants". */
  own: ReadonlySet<string>;
  receivedAt: Date;
}

export interface Resolution {
  /** The conversation, created empty when it did not exist. */
  conversation: Conversation;
  /** Its participants and title as of this message (names from the contacts now). */
  participants: Conversation['participants'];
  title: string;
  from: Participant;
  to: Participant[];
  cc: Participant[];
}

export class ConversationResolver {
  constructor(
    private readonly storage: Storage,
    private readonly contacts: ContactService,
    private readonly clock: Clock,
  ) {}

  /** Resolves a message's addresses to contacts (creating automatic ones) and finds or creates its conversation. */
  async resolve(input: ResolveInput): Promise<Resolution> {
    const { accountId, own } = input;
    const protocol = input.protocol ?? 'email';
    const byAddress = new Map<string, Contact | null>();
    const contactOf = async (a: ParsedAddress | null): Promise<Contact | null> => {
      if (a === null || a.address === null || own.has(a.address)) return null;
      if (byAddress.has(a.address)) return byAddress.get(a.address)!;
      const c =
        input.list !== null
          ? await this.storage.contacts.findByIdentity(accountId, protocol, a.address)
          : await this.contacts.automaticFor(accountId, a.address, a.name, protocol);
      byAddress.set(a.address, c);
      return c;
    };
    const participant = async (a: ParsedAddress): Promise<Participant> => ({
      protocol,
      address: a.address ?? a.written,
      name: a.name,
      contactId: (await contactOf(a))?.id ?? null,
    });

    const from: Participant = input.from
      ? await participant(input.from)
      : { protocol, address: '', name: null, contactId: null };
    const to: Participant[] = [];
    for (const a of input.to) to.push(await participant(a));
    const cc: Participant[] = [];
    for (const a of input.cc) cc.push(await participant(a));

    let kind: Conversation['kind'];
    let key: string;
    let participants: Conversation['participants'];
    let title: string;
    if (input.list !== null) {
      kind = 'list';
      key = listKey(input.list.id);
      participants = [{ contactId: null, address: input.list.id, name: input.list.name }];
      title = input.list.name ?? input.list.id;
    } else {
      kind = 'people';
      const others = new Map<string, Conversation['participants'][number]>();
      for (const p of [from, ...to, ...cc]) {
        if (p.contactId === null || others.has(p.contactId)) continue;
        const contact = byAddress.get(p.address)!;
        others.set(p.contactId, { contactId: p.contactId, address: p.address, name: contact.displayName });
      }
      participants = [...others.values()];
      const senderUnknown = input.direction === 'inbound' && (input.from === null || input.from.address === null);
      key = participants.length === 0 && senderUnknown ? UNKNOWN_SENDER_KEY : peopleKey(others.keys());
      title = titleOf(participants, senderUnknown ? '(unknown sender)' : 'Notes to self');
    }
    const now = this.clock();
    const conversation = await this.storage.conversations.getOrCreate({
      id: randomUUID(),
      accountId,
      kind,
      key,
      title,
      participants,
      lastMessageAt: input.receivedAt,
      messageCount: 0,
      unreadCount: 0,
      pi: null,
      importance: 0,
      createdAt: now,
    });
    if (input.list !== null && input.list.name === null) {
      // A list message without a display name keeps the name an earlier one gave.
      return { conversation, participants: conversation.participants, title: conversation.title, from, to, cc };
    }
    return { conversation, participants, title, from, to, cc };
  }
}
