import type { RouteMode } from './route-choice.ts';

/**
 * A draft is kept in the browser's localStorage, per account and per slot (a new message, or the reply to one
 * message), on every change: a reload, an expired session or a closed tab does not lose it. Sending or discarding
 * removes it; signing out on purpose removes all of the account's drafts (a shared computer keeps nothing).
 */
export interface Draft {
  /** An imported address to send as (Mail accounts); '' for the account's own. */
  from: string;
  to: string;
  subject: string;
  text: string;
  inReplyTo: string | null;
  mode: RouteMode;
  emailFallback: boolean;
  savedAt: string;
}

const PREFIX = 'caliopen.draft.';

export function draftKey(username: string, replyTo: string | null): string {
  return `${PREFIX}${username}.${replyTo === null ? 'new' : `reply.${replyTo}`}`;
}

export const drafts = {
  read(username: string, replyTo: string | null): Draft | null {
    try {
      const raw = localStorage.getItem(draftKey(username, replyTo));
      if (!raw) return null;
      const d = JSON.parse(raw) as Partial<Draft>;
      if (typeof d.to !== 'string' || typeof d.subject !== 'string' || typeof d.text !== 'string') return null;
      return {
        from: typeof d.from === 'string' ? d.from : '',
        to: d.to,
        subject: d.subject,
        text: d.text,
        inReplyTo: typeof d.inReplyTo === 'string' ? d.inReplyTo : null,
        mode: d.mode === 'email' || d.mode === 'federation' ? d.mode : 'auto',
        emailFallback: d.emailFallback === true,
        savedAt: typeof d.savedAt === 'string' ? d.savedAt : new Date(0).toISOString(),
      };
    } catch {
      return null;
    }
  },
  write(username: string, draft: Draft): void {
    try {
      localStorage.setItem(draftKey(username, draft.inReplyTo), JSON.stringify(draft));
    } catch {
      // storage full or refused: the draft stays in the page
    }
  },
  remove(username: string, replyTo: string | null): void {
    localStorage.removeItem(draftKey(username, replyTo));
  },
  /** Every draft of an account (signing out on purpose). */
  clearAll(username: string): void {
    const mine = `${PREFIX}${username}.`;
    const keys: string[] = [];
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      if (k?.startsWith(mine)) keys.push(k);
    }
    for (const k of keys) localStorage.removeItem(k);
  },
};

export function isEmpty(d: Pick<Draft, 'to' | 'subject' | 'text'>): boolean {
  return d.to.trim() === '' && d.subject.trim() === '' && d.text.trim() === '';
}
