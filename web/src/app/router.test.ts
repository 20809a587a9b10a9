import { expect, test } from 'vitest';
import { parseRoute } from './router.ts';

test('the console and the journal have their addresses; unknown console sections are not found', () => {
  expect(parseRoute('/privacy/journal')).toEqual({ name: 'journal' });
  expect(parseRoute('/admin')).toEqual({ name: 'admin', section: 'overview' });
  expect(parseRoute('/admin/')).toEqual({ name: 'admin', section: 'overview' });
  expect(parseRoute('/admin/accounts')).toEqual({ name: 'admin', section: 'accounts' });
  expect(parseRoute('/admin/dns/')).toEqual({ name: 'admin', section: 'dns' });
  expect(parseRoute('/admin/journal')).toEqual({ name: 'admin', section: 'journal' });
  expect(parseRoute('/admin/overview')).toEqual({ name: 'not-found' });
  expect(parseRoute('/admin/secrets')).toEqual({ name: 'not-found' });
  expect(parseRoute('/admin/accounts/x')).toEqual({ name: 'not-found' });
});

test('the mail accounts and chat accounts screens have their addresses', () => {
  expect(parseRoute('/mail-accounts')).toEqual({ name: 'mail-accounts' });
  expect(parseRoute('/mail-accounts/')).toEqual({ name: 'mail-accounts' });
  expect(parseRoute('/chat-accounts')).toEqual({ name: 'chat-accounts' });
  expect(parseRoute('/mail-accounts/x')).toEqual({ name: 'not-found' });
});
