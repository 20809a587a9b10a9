import type { ApiClient } from '../api/client.ts';
import type { MessageDetail, PiBreakdown } from '../api/types.ts';

/** How many newest messages the conversation PI looks at (instance/src/privacy/conversation-pi.model.ts). */
const RECENT_MESSAGES = 10;

/**
 * A discussion's PI is that of its most exposed recent message (the weakest link): its breakdown is that message's.
 * The API lists discussions with the summary only, so the badge fetches the breakdown when it is opened.
 */
export async function discussionBreakdown(
  api: ApiClient,
  discussionId: string,
): Promise<{ breakdown: PiBreakdown; message: MessageDetail } | null> {
  const page = await api.discussionMessages(discussionId);
  const recent = page.items.slice(0, RECENT_MESSAGES).filter((m) => m.pi !== null);
  if (recent.length === 0) return null;
  const weakest = recent.reduce((w, m) => (m.pi!.score < w.pi!.score ? m : w));
  const message = await api.message(weakest.id);
  return { breakdown: message.pi, message };
}
