import type { Storage } from '../database/storage.port.ts';
import { MAX_SENT_LOOKUP } from './correspondence.repository.ts';
import {
  IMPORTANCE_FEEDBACK,
  importanceOf,
  IMPORTANCE_VALUES,
  type ImportanceFacts,
  type ImportanceFeedback,
  type ImportanceLevel,
  type ImportanceReason,
} from '../mail/importance.model.ts';
import type { Message, Participant } from '../mail/message.entity.ts';
import type { DmarcResult, SpfResult } from '../mail/message.facts.ts';
import { headerValues, readHeaderBlock } from '../mail/mime-headers.ts';

/**
 * Gathers the importance facts of a stored message (its recorded facts and a few lookups: the sender's contact, the
 * correspondence ledger) and runs the importance model (importance.model.ts).
 *
 * What is kept in `Message.facts.importance` (the "importance section"):
 * - `repliesTo`: the Message-ID of the account's own message this one answers, found once at ingest (a fact about
 *   the message as it arrived);
 * - `feedback` / `feedbackAt`: the user's word (`important`, `junk`, `not-junk`, or null once cleared) and when it was given —
 *   durable, so every recomputation keeps it;
 * - `reasons`: the model's explanation at the last computation (shown on `GET /api/v1/messages/:id`).
 * Whether the sender is a known contact is looked up again at every computation (the user may add the contact later).
 */
export interface ImportanceSection {
  repliesTo: string | null;
  feedback: ImportanceFeedback | null;
  feedbackAt: string | null;
  reasons: ImportanceReason[];
}

export const EMPTY_IMPORTANCE_SECTION: ImportanceSection = {
  repliesTo: null,
  feedback: null,
  feedbackAt: null,
  reasons: [],
};

const obj = (v: unknown): Record<string, unknown> | null =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** The importance section of stored facts, read defensively (facts are JSON written over time). */
export function importanceSectionOf(facts: Record<string, unknown>): ImportanceSection {
  const s = obj(facts.importance);
  if (s === null) return { ...EMPTY_IMPORTANCE_SECTION };
  const feedback = IMPORTANCE_FEEDBACK.find((f) => f === s.feedback) ?? null;
  const reasons = Array.isArray(s.reasons)
    ? s.reasons.flatMap((r) => {
        const o = obj(r);
        const id = str(o?.id);
        const evidence = str(o?.evidence);
        return id !== null && evidence !== null ? [{ id, evidence }] : [];
      })
    : [];
  return { repliesTo: str(s.repliesTo), feedback, feedbackAt: feedback === null ? null : str(s.feedbackAt), reasons };
}

/** The verified SPF and DMARC results recorded with the message, or null when nothing was verified. */
function authenticationOf(facts: Record<string, unknown>): ImportanceFacts['authentication'] {
  const a = obj(facts.authentication);
  if (a === null) return null;
  const spf = str(obj(a.spf)?.result) ?? 'none';
  const dmarc = obj(a.dmarc);
  return {
    spf: spf as SpfResult,
    dmarc: { result: (str(dmarc?.result) ?? 'none') as DmarcResult, policy: str(dmarc?.policy) },
  };
}

/** The spam filter's verdict recorded with the message (`facts.spam`), or null when it was not checked. */
function spamVerdictOf(facts: Record<string, unknown>): 'spam' | 'ham' | null {
  const s = obj(facts.spam);
  if (s === null || s.status !== 'checked') return null;
  return s.verdict === 'spam' ? 'spam' : s.verdict === 'ham' ? 'ham' : null;
}

const MESSAGE_ID = /<([^<>\s]{1,996})>/g;

/**
 * The Message-IDs a message says it answers, most direct first: In-Reply-To, then References from the last (the
 * parent) back to the first. At most MAX_SENT_LOOKUP, each in `<id>` form.
 */
export function referencedMessageIds(raw: Buffer): string[] {
  const block = readHeaderBlock(raw);
  const out = new Set<string>();
  const add = (values: string[], newestLast: boolean) => {
    const ids = values.flatMap((v) => [...v.matchAll(MESSAGE_ID)].map((m) => `<${m[1]}>`));
    for (const id of newestLast ? ids.reverse() : ids) {
      if (out.size >= MAX_SENT_LOOKUP) return;
      out.add(id);
    }
  };
  add(headerValues(block, 'in-reply-to'), false);
  add(headerValues(block, 'references'), true);
  return [...out];
}

/** The first of these Message-IDs (most direct first) that is one of the account's own outbound messages, or null. */
export async function findRepliedTo(
  storage: Storage,
  accountId: string,
  referenced: readonly string[],
): Promise<string | null> {
  if (referenced.length === 0) return null;
  const sent = await storage.correspondence.sentAmong(accountId, referenced);
  return referenced.find((id) => sent.has(id)) ?? null;
}

/** Records an outbound message in the correspondence ledger: its Message-ID and its recipients (own addresses excluded). */
export async function recordSent(storage: Storage, m: Message, own: ReadonlySet<string>): Promise<void> {
  const recipients = [...m.to, ...m.cc]
    .filter((p: Participant) => p.address !== '' && !own.has(p.address))
    .map((p) => ({ protocol: p.protocol, address: p.address }));
  await storage.correspondence.recordSent(m.accountId, { externalId: m.externalId, recipients });
}

/** The model's facts for a message, from what it recorded and the lookups. */
export async function importanceFactsOf(storage: Storage, m: Message): Promise<ImportanceFacts> {
  const section = importanceSectionOf(m.facts);
  let senderIsContact = false;
  let senderWrittenTo = false;
  if (m.direction === 'inbound') {
    if (m.from.contactId !== null) {
      const contact = await storage.contacts.get(m.accountId, m.from.contactId);
      senderIsContact = contact !== null && !contact.automatic;
    }
    if (!senderIsContact && m.from.address !== '') {
      senderWrittenTo = await storage.correspondence.hasWrittenTo(m.accountId, m.from.protocol, m.from.address);
    }
  }
  return {
    direction: m.direction,
    senderIsContact,
    senderWrittenTo,
    repliesTo: section.repliesTo,
    feedback: section.feedback,
    userTags: m.tags,
    listId: str(obj(m.facts.mime)?.listId),
    authentication: authenticationOf(m.facts),
    spamFilter: spamVerdictOf(m.facts),
  };
}

/**
 * Computes the message's importance: resolves the integer to store in `importance` and the facts with the
 * importance section brought up to date (reasons), to store with it.
 */
export async function assessImportance(
  storage: Storage,
  m: Message,
): Promise<{ importance: number; level: ImportanceLevel; facts: Record<string, unknown> }> {
  const result = importanceOf(await importanceFactsOf(storage, m));
  const section: ImportanceSection = { ...importanceSectionOf(m.facts), reasons: result.reasons };
  return {
    importance: IMPORTANCE_VALUES[result.level],
    level: result.level,
    facts: { ...m.facts, importance: section },
  };
}

/** The facts with the user's feedback recorded (null clears it). */
export function withFeedback(
  facts: Record<string, unknown>,
  feedback: ImportanceFeedback | null,
  at: Date,
): Record<string, unknown> {
  const section = importanceSectionOf(facts);
  return { ...facts, importance: { ...section, feedback, feedbackAt: feedback === null ? null : at.toISOString() } };
}
