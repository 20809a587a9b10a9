import { beforeEach, describe, expect, test } from 'vitest';
import { type Draft, draftKey, drafts, isEmpty } from './drafts.ts';

const draft = (o: Partial<Draft> = {}): Draft => ({
  from: '',
  to: 'bob@alpha.test',
  subject: 'Lunch',
  text: 'Noon?',
  inReplyTo: null,
  mode: 'auto',
  emailFallback: false,
  savedAt: '2026-12-06T08:00:00.000Z',
  ...o,
});

describe('drafts kept in the browser', () => {
  beforeEach(() => localStorage.clear());

  test('one slot per account for a new message, one per message replied to', () => {
    const reply = '0b6f7a3e-4f5c-4d2e-9a1b-2c3d4e5f6a7b';
    drafts.write('alice', draft());
    drafts.write('alice', draft({ inReplyTo: reply, subject: 'Re: Lunch' }));
    drafts.write('bob', draft({ subject: 'Bob’s own' }));
    expect(drafts.read('alice', null)?.subject).toBe('Lunch');
    expect(drafts.read('alice', reply)?.subject).toBe('Re: Lunch');
    expect(drafts.read('bob', null)?.subject).toBe('Bob’s own');
    expect(draftKey('alice', reply)).toBe(`caliopen.draft.alice.reply.${reply}`);
  });

  test('what is not a draft is ignored; an unknown mode reads as auto', () => {
    localStorage.setItem(draftKey('alice', null), '{not json');
    expect(drafts.read('alice', null)).toBeNull();
    localStorage.setItem(draftKey('alice', null), JSON.stringify({ to: 1 }));
    expect(drafts.read('alice', null)).toBeNull();
    localStorage.setItem(draftKey('alice', null), JSON.stringify({ ...draft(), mode: 'carrier-pigeon' }));
    expect(drafts.read('alice', null)?.mode).toBe('auto');
  });

  test('the From chosen is kept; a draft from before it existed, or a strange one, reads as the own address', () => {
    drafts.write('alice', draft({ from: 'me@provider.test' }));
    expect(drafts.read('alice', null)?.from).toBe('me@provider.test');
    const { from: _none, ...older } = draft();
    localStorage.setItem(draftKey('alice', null), JSON.stringify(older));
    expect(drafts.read('alice', null)?.from).toBe('');
    localStorage.setItem(draftKey('alice', null), JSON.stringify({ ...draft(), from: { address: 'x' } }));
    expect(drafts.read('alice', null)?.from).toBe('');
  });

  test('signing out removes every draft of that account, and only of that account', () => {
    drafts.write('alice', draft());
    drafts.write('alice', draft({ inReplyTo: 'x' }));
    drafts.write('alicea', draft());
    drafts.clearAll('alice');
    expect(drafts.read('alice', null)).toBeNull();
    expect(drafts.read('alice', 'x')).toBeNull();
    expect(drafts.read('alicea', null)).not.toBeNull();
  });

  test('empty', () => {
    expect(isEmpty({ to: ' ', subject: '', text: '\n' })).toBe(true);
    expect(isEmpty({ to: '', subject: '', text: 'x' })).toBe(false);
  });
});
