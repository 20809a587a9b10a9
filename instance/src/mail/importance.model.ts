import type { DmarcResult, SpfResult } from './message.facts.ts';

/**
 * The importance level of a message: how much it matters to its reader, from junk to important ("from important
 * to junk", seed 002). Separate from the Privacy Index, which says how private a message is.
 *
 * A pure function of facts gathered at ingest (and again when the user gives feedback): the stored message keeps
 * the level's integer (`Message.importance`, -2..2), the API shows the level's name.
 */

export type ImportanceLevel = 'junk' | 'low' | 'normal' | 'high' | 'important';

/** The integer stored for each level (`Message.importance`, `Conversation.importance`): higher matters more. */
export const IMPORTANCE_VALUES: Readonly<Record<ImportanceLevel, number>> = {
  junk: -2,
  low: -1,
  normal: 0,
  high: 1,
  important: 2,
};

/** The levels, most important first (the order `?sort=importance` lists discussions in). */
export const IMPORTANCE_LEVELS: readonly ImportanceLevel[] = ['important', 'high', 'normal', 'low', 'junk'];

/**
 * What the user may say about a message: it is important, or it is junk (both override every other signal), or it is
 * not junk (a floor: at least normal, whatever the spam signals said). Junk and not junk also teach the instance's
 * spam filter when one is configured (spam/spam.service.ts).
 */
export type ImportanceFeedback = 'important' | 'junk' | 'not-junk';

export const IMPORTANCE_FEEDBACK: readonly ImportanceFeedback[] = ['important', 'junk', 'not-junk'];

/** The level of a stored integer; values outside -2..2 are clamped, anything that is not a number is normal. */
export function importanceLevelOf(value: number): ImportanceLevel {
  if (!Number.isFinite(value)) return 'normal';
  const v = Math.max(-2, Math.min(2, Math.round(value)));
  return IMPORTANCE_LEVELS.find((l) => IMPORTANCE_VALUES[l] === v)!;
}

/** Everything importance is computed from. Each field is documented with where it comes from. */
export interface ImportanceFacts {
  /** The account's own mail (sent copies) is always normal unless the user says otherwise: it says nothing about priority. */
  direction: 'inbound' | 'outbound';
  /**
   * The sender is a contact the user created or kept (a contact with `automatic === false`): looked up from the
   * contact the From address resolved to at ingest, and again when importance is recomputed.
   */
  senderIsContact: boolean;
  /** The account has written to the sender's address (an outbound message to it, in the correspondence ledger). */
  senderWrittenTo: boolean;
  /**
   * The Message-ID of one of the account's own outbound messages that this message answers (its In-Reply-To or
   * References header names it), or null. Found at ingest and kept in `facts.importance.repliesTo`.
   */
  repliesTo: string | null;
  /** The user's explicit word (`PATCH /api/v1/messages/:id {"importance": ...}`), kept in `facts.importance.feedback`. */
  feedback: ImportanceFeedback | null;
  /** Tags the user set (protocol tags such as 'INBOX', 'sent', 'bounce' are not user tags: see userTagsOf). */
  userTags: readonly string[];
  /** The List-Id when the message came through a mailing list (`facts.mime.listId`), or null. */
  listId: string | null;
  /**
   * The verified SPF and DMARC results recorded by the SMTP server (`facts.authentication`), or null when nothing
   * was verified (local delivery, IMAP import): then no spam verdict applies.
   */
  authentication: { spf: SpfResult; dmarc: { result: DmarcResult; policy: string | null } } | null;
  /**
   * The instance's spam filter's verdict (`facts.spam`, when it checked the message: rspamd's score against
   * `spam.junkScore`), or null when no filter checked it (none configured, not by SMTP, or still unchecked).
   */
  spamFilter: 'spam' | 'ham' | null;
}

export interface ImportanceReason {
  /** Stable identifier of the signal (e.g. `sender.contact`, `spam.dmarc`). */
  id: string;
  /** The fact it rests on, in words. */
  evidence: string;
}

export interface Importance {
  level: ImportanceLevel;
  /**
   * The sum of the weighted signals, before the list cap, the tag floor and the user's feedback are applied (for
   * explanation; never stored). Feedback counts ±FEEDBACK_WEIGHT, more than all other signals together.
   */
  score: number;
  reasons: ImportanceReason[];
}

/** Weights of the signals (see importanceOf). */
export const IMPORTANCE_WEIGHTS = {
  knownSender: 2,
  replyToYou: 2,
  dmarcFail: -4,
  spfFail: -2,
  spamFilter: -4,
  feedback: 10,
} as const;

/** Protocol tags (what SMTP, the composer and IMAP special folders put on a message): never "user tags". */
const PROTOCOL_TAGS = new Set([
  'inbox',
  'sent',
  'sent items',
  'sent messages',
  'sent mail',
  'bounce',
  'drafts',
  'draft',
  'trash',
  'deleted',
  'deleted items',
  'deleted messages',
  'junk',
  'junk e-mail',
  'junk email',
  'spam',
  'bulk mail',
  'archive',
  'archives',
  'all mail',
  'outbox',
  'starred',
  'important',
]);

/**
 * The tags of a message that the user chose: every tag but the protocol ones (INBOX, the composer's 'sent',
 * 'bounce', IMAP special folders such as Drafts, Trash, Junk, `[Gmail]/All Mail`). A folder the user made on
 * their old mailbox ("Family") counts as a user tag: the user filed the message there.
 */
export function userTagsOf(tags: readonly string[]): string[] {
  return tags.filter((t) => {
    const leaf = t
      .toLowerCase()
      .replace(/^\[(gmail|google mail)\][/.]/, '')
      .replace(/^inbox[/.]/, '')
      .trim();
    return leaf !== '' && !PROTOCOL_TAGS.has(leaf);
  });
}

const THRESHOLD_IMPORTANT = 4;
const THRESHOLD_HIGH = 2;
const THRESHOLD_LOW = -2;
const THRESHOLD_JUNK = -4;

function levelOfScore(score: number): ImportanceLevel {
  if (score >= THRESHOLD_IMPORTANT) return 'important';
  if (score >= THRESHOLD_HIGH) return 'high';
  if (score <= THRESHOLD_JUNK) return 'junk';
  if (score <= THRESHOLD_LOW) return 'low';
  return 'normal';
}

const atLeast = (a: ImportanceLevel, floor: ImportanceLevel) =>
  IMPORTANCE_VALUES[a] < IMPORTANCE_VALUES[floor] ? floor : a;
const atMost = (a: ImportanceLevel, cap: ImportanceLevel) => (IMPORTANCE_VALUES[a] > IMPORTANCE_VALUES[cap] ? cap : a);

/**
 * The importance of a message, from its facts. The rules, in order:
 *
 * 1. **Spam verdicts** (verified facts only): DMARC `fail` on a domain whose policy is `reject` or `quarantine`
 *    (the domain owner says such mail is not theirs) counts -4 (junk on its own); SPF `fail` (a hard fail, not
 *    softfail) counts -2 (low on its own); the instance's spam filter saying spam (rspamd) counts -4 (junk on its own).
 * 2. **Known sender**: the sender is a contact the user created or kept, or an address the account has written
 *    to: +2 (high on its own). Not counted when DMARC failed (whatever the policy): the From address was not
 *    proven, and a spoofer must not borrow a contact's standing.
 * 3. **Reply to you**: the message answers one of the account's own messages (In-Reply-To / References): +2 (high
 *    on its own; a known sender's reply to you is important).
 * 4. The sum gives the level: >= 4 important, >= 2 high, <= -4 junk, <= -2 low, else normal.
 * 5. **User tags**: any tag the user chose makes it at least normal.
 * 6. **Mailing list** (List-Id): at most normal.
 * 7. **Feedback** from the user (`important` or `junk`) overrides everything above; `not-junk` makes it at least
 *    normal.
 *
 * The account's own outbound mail is normal (only feedback changes it). A known sender or a reply never lowers the
 * level; a spam verdict never raises it (checked by property tests).
 */
export function importanceOf(facts: ImportanceFacts): Importance {
  const reasons: ImportanceReason[] = [];
  let score = 0;

  if (facts.direction === 'outbound') {
    reasons.push({ id: 'outbound', evidence: 'Written by you.' });
  } else {
    const auth = facts.authentication;
    const dmarcFailed = auth?.dmarc.result === 'fail';
    const policy = auth?.dmarc.policy?.toLowerCase() ?? null;
    if (dmarcFailed && (policy === 'reject' || policy === 'quarantine')) {
      score += IMPORTANCE_WEIGHTS.dmarcFail;
      reasons.push({
        id: 'spam.dmarc',
        evidence: `DMARC failed, and the sender's domain asks to ${policy} such mail.`,
      });
    }
    if (auth?.spf === 'fail') {
      score += IMPORTANCE_WEIGHTS.spfFail;
      reasons.push({
        id: 'spam.spf',
        evidence: "SPF failed: the sending server is not one the sender's domain allows.",
      });
    }
    if (facts.spamFilter === 'spam') {
      score += IMPORTANCE_WEIGHTS.spamFilter;
      reasons.push({ id: 'spam.filter', evidence: 'The spam filter scored it as spam.' });
    }
    if (facts.senderIsContact || facts.senderWrittenTo) {
      if (dmarcFailed) {
        reasons.push({
          id: 'sender.unproven',
          evidence: 'The sender looks known, but DMARC failed: the From address is not proven, so it does not count.',
        });
      } else {
        score += IMPORTANCE_WEIGHTS.knownSender;
        reasons.push(
          facts.senderIsContact
            ? { id: 'sender.contact', evidence: 'The sender is one of your contacts.' }
            : { id: 'sender.written-to', evidence: 'You have written to this sender.' },
        );
      }
    }
    if (facts.repliesTo !== null) {
      score += IMPORTANCE_WEIGHTS.replyToYou;
      reasons.push({ id: 'reply.to-you', evidence: `A reply to your message ${facts.repliesTo}.` });
    }
  }

  let level = levelOfScore(score);
  const tags = userTagsOf(facts.userTags);
  if (tags.length > 0 && IMPORTANCE_VALUES[level] < 0) {
    level = atLeast(level, 'normal');
    reasons.push({ id: 'tags.user', evidence: `You tagged it (${tags.slice(0, 3).join(', ')}): at least normal.` });
  }
  if (facts.listId !== null && IMPORTANCE_VALUES[level] > 0) {
    level = atMost(level, 'normal');
    reasons.push({ id: 'list', evidence: `Mailing-list mail (${facts.listId}): at most normal.` });
  }
  if (facts.feedback === 'not-junk') {
    level = atLeast(level, 'normal');
    reasons.push({ id: 'feedback.not-junk', evidence: 'You marked it not junk: at least normal.' });
  } else if (facts.feedback !== null) {
    score += facts.feedback === 'important' ? IMPORTANCE_WEIGHTS.feedback : -IMPORTANCE_WEIGHTS.feedback;
    level = facts.feedback;
    reasons.push({ id: `feedback.${facts.feedback}`, evidence: `You marked it ${facts.feedback}.` });
  }
  return { level, score, reasons };
}
