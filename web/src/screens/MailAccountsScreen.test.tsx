import { cleanup, render, screen } from '@testing-library/react';
import { I18nextProvider } from 'react-i18next';
import { afterEach, describe, expect, test } from 'vitest';
import type { ImportStatus } from '../api/types.ts';
import { createI18n } from '../i18n/i18n.ts';
import { ImportProgress } from './MailAccountsScreen.tsx';

afterEach(cleanup);

const base: ImportStatus = {
  importId: '0b0f6f43-8a8e-4d8c-9a7a-5b2e3f0d1c2b',
  state: 'idle',
  trigger: 'manual',
  queuedAt: null,
  startedAt: null,
  finishedAt: null,
  heartbeatAt: null,
  lastError: null,
  folders: [],
  totals: { total: 0, done: 0, imported: 0, skipped: 0 },
  lastSuccessAt: null,
};

function show(status: Partial<ImportStatus>, lang: 'en' | 'fr' = 'en') {
  return render(
    <I18nextProvider i18n={createI18n(lang)}>
      <ImportProgress status={{ ...base, ...status }} label="me on imap.example.org" />
    </I18nextProvider>,
  );
}

describe('ImportProgress', () => {
  test('not yet imported, then waiting: words, no bar', () => {
    show({ state: 'idle', importId: null });
    expect(screen.getByText('Not imported yet.')).toBeTruthy();
    cleanup();
    show({ state: 'queued' });
    expect(screen.getByText('Import waiting to start…')).toBeTruthy();
    expect(screen.queryByRole('progressbar')).toBeNull();
  });

  test('running: how far it is, with a labelled bar; before the folders are counted, a bar without an end', () => {
    show({ state: 'running', totals: { total: 300, done: 120, imported: 100, skipped: 0 } });
    expect(screen.getByText('Importing: 120 of 300 messages looked at, 100 new.')).toBeTruthy();
    const bar = screen.getByRole('progressbar', { name: 'Import of me on imap.example.org' }) as HTMLProgressElement;
    expect(bar.max).toBe(300);
    expect(bar.value).toBe(120);
    cleanup();
    show({ state: 'running', totals: { total: 0, done: 0, imported: 0, skipped: 0 } });
    expect(screen.getByText('Importing: 0 messages looked at so far, 0 new.')).toBeTruthy();
    expect(screen.getByRole('progressbar').hasAttribute('value')).toBe(false);
  });

  test('completed: when and how many, and what was left at the provider, in the user’s language', () => {
    const finishedAt = '2026-12-07T09:30:00.000Z';
    show({ state: 'completed', finishedAt, totals: { total: 40, done: 40, imported: 38, skipped: 2 } });
    expect(screen.getByText(/^Last import finished on .+: 38 new messages\.$/)).toBeTruthy();
    expect(screen.getByText('2 messages were too large and were left at the provider.')).toBeTruthy();
    cleanup();
    show({ state: 'completed', finishedAt, totals: { total: 1, done: 1, imported: 1, skipped: 0 } });
    expect(screen.getByText(/^Last import finished on .+: 1 new message\.$/)).toBeTruthy();
    cleanup();
    show({ state: 'completed', finishedAt, totals: { total: 1, done: 1, imported: 0, skipped: 1 } }, 'fr');
    expect(screen.getByText(/^Dernier import terminé le .+ : 0 nouveau message\.$/)).toBeTruthy();
    expect(screen.getByText('1 message était trop gros et est resté chez le fournisseur.')).toBeTruthy();
  });

  test('by folder: each one’s progress, a folder not opened yet said so; names shown as text', () => {
    show({
      state: 'running',
      folders: [
        { path: 'INBOX', total: 300, done: 120, imported: 100, skipped: 0, excluded: null },
        { path: 'Archives/<b>2025</b>', total: null, done: 0, imported: 0, skipped: 0, excluded: null },
        { path: 'Spam', total: 0, done: 0, imported: 0, skipped: 0, excluded: 'junk' },
        { path: 'Deleted Items', total: 0, done: 0, imported: 0, skipped: 0, excluded: 'trash' },
      ],
      totals: { total: 300, done: 120, imported: 100, skipped: 0 },
    });
    expect(screen.getByText('By folder (4)')).toBeTruthy();
    const items = screen.getAllByRole('listitem').map((li) => li.textContent);
    expect(items).toEqual([
      'INBOX: 120 of 300 looked at, 100 new',
      'Archives/<b>2025</b>: not opened yet',
      'Spam: not imported: this is the junk folder at your provider (its mail stays there)',
      'Deleted Items: not imported: this is the trash at your provider (its mail stays there)',
    ]);
    cleanup();
    show(
      {
        state: 'completed',
        folders: [
          { path: 'INBOX', total: 3, done: 3, imported: 3, skipped: 0, excluded: null },
          { path: 'Indésirables', total: 0, done: 0, imported: 0, skipped: 0, excluded: 'junk' },
        ],
      },
      'fr',
    );
    expect(screen.getAllByRole('listitem').map((li) => li.textContent)).toContain(
      'Indésirables : non importé : c’est le dossier des indésirables chez votre fournisseur (son courriel y reste)',
    );
    cleanup();
    show({
      state: 'running',
      folders: [{ path: 'INBOX', total: 3, done: 1, imported: 1, skipped: 0, excluded: null }],
    });
    expect(screen.queryByText(/By folder/)).toBeNull();
  });

  test('failed: a known reason in the user’s words, an unknown one as the instance said it', () => {
    show({ state: 'failed', lastError: { code: 'imap_auth_failed', message: 'LOGIN refused' } });
    expect(
      screen.getByText(
        'The last import failed: The mail server refused the login. Check the username and password; some providers want an app password.',
      ),
    ).toBeTruthy();
    cleanup();
    show({ state: 'failed', lastError: { code: 'imap_folder_gone', message: 'The folder Archives was deleted.' } });
    expect(screen.getByText('The last import failed: The folder Archives was deleted.')).toBeTruthy();
  });
});
