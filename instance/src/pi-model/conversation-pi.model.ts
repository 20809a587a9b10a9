import type { PiSuggestion, PrivacyIndex } from '@caliopen/federation-protocol';
import { PiTally } from './pi.tally.ts';

/**
 * The conversation Privacy Index: a conversation is as exposed as its most exposed recent message ("the weakest
 * link"). We take the minimum over the RECENT_MESSAGES newest messages, not the whole history, so that moving a
 * correspondent to encryption shows once the conversation has moved too. The suggestions are those of that weakest
 * message (what would raise the next one). Pure.
 */
export const RECENT_MESSAGES = 10;

export interface ConversationPiFacts {
  /** PIs of the newest messages, newest first (only the first RECENT_MESSAGES count). */
  recent: { id: string; receivedAt: Date; pi: { score: number; suggestions?: readonly PiSuggestion[] } }[];
}

export function computeConversationPi(facts: ConversationPiFacts): PrivacyIndex {
  const t = new PiTally();
  const recent = facts.recent.slice(0, RECENT_MESSAGES);
  if (recent.length === 0) {
    t.add('conversation.empty', 0, 'No message scored yet.');
    return t.finish();
  }
  const weakest = recent.reduce((w, m) => (m.pi.score < w.pi.score ? m : w));
  t.add(
    'conversation.weakest_recent',
    weakest.pi.score,
    `The most exposed of the ${recent.length} most recent messages (${weakest.receivedAt.toISOString().slice(0, 10)}) scores ${weakest.pi.score}.`,
  );
  return t.finish(weakest.pi.suggestions ?? []);
}
