import { cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { I18nextProvider } from 'react-i18next';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { PiBreakdown } from '../api/types.ts';
import { createI18n } from '../i18n/i18n.ts';
import { PiBadge } from './PiBadge.tsx';

const breakdown: PiBreakdown = {
  score: 42,
  level: 'guarded',
  modelVersion: 'message-pi/3',
  factors: [
    { id: 'transport.tls', contribution: 20, evidence: 'TLSv1.3 from mx.x.example' },
    { id: 'auth.dkim', contribution: 12, evidence: 'DKIM signature of x.example verified' },
    { id: 'e2e.openpgp', contribution: 40, evidence: 'encrypted to your key 0xABCD' },
    { id: 'cap.plaintext', contribution: -30, evidence: 'the body travelled in clear between hosts' },
  ],
  suggestions: [{ action: 'contact.add_public_key', element: 'contact:bob@x.example', gain: 25 }],
};

const renderIn = (lng: 'en' | 'fr', ui: React.ReactElement) =>
  render(<I18nextProvider i18n={createI18n(lng)}>{ui}</I18nextProvider>);

beforeAll(() => {
  // happy-dom's <dialog> may lack the modal API: the component only needs open/close.
  const proto = HTMLDialogElement.prototype as HTMLDialogElement & { showModal?: () => void };
  if (typeof proto.showModal !== 'function') {
    proto.showModal = function (this: HTMLDialogElement) {
      this.setAttribute('open', '');
    };
  }
});
afterEach(cleanup);

describe('PiBadge', () => {
  test('shows the level word, the number and an icon, and is named for screen readers', () => {
    renderIn('en', <PiBadge pi={{ score: 42, level: 'guarded', modelVersion: 'm' }} />);
    const button = screen.getByRole('button', { name: 'Privacy Index: Guarded 42 out of 100. Show why.' });
    expect(button.textContent).toContain('Guarded');
    expect(button.textContent).toContain('42');
    expect(button.querySelector('svg')).not.toBeNull();
    expect(button.getAttribute('aria-haspopup')).toBe('dialog');
    expect(button.className).toContain('pi-guarded');
  });

  test('each level has its own word in English and French', () => {
    const levels = [
      [5, 'exposed', 'Exposed', 'Exposé'],
      [20, 'basic', 'Basic', 'Minimal'],
      [40, 'guarded', 'Guarded', 'Gardé'],
      [60, 'protected', 'Protected', 'Protégé'],
      [80, 'private', 'Private', 'Privé'],
      [95, 'sealed', 'Sealed', 'Scellé'],
    ] as const;
    for (const [score, level, enWord, frWord] of levels) {
      renderIn('en', <PiBadge pi={{ score, level, modelVersion: 'm' }} />);
      expect(
        screen.getByRole('button', { name: `Privacy Index: ${enWord} ${score} out of 100. Show why.` }),
      ).toBeTruthy();
      expect(screen.getByRole('button').querySelector('.pi-word')?.textContent).toBe(enWord);
      expect(screen.getByRole('button').querySelector('.pi-score')?.textContent).toBe(String(score));
      cleanup();
      renderIn('fr', <PiBadge pi={{ score, level, modelVersion: 'm' }} />);
      expect(
        screen.getByRole('button', { name: `Indice de confidentialité : ${frWord} ${score} sur 100. Voir pourquoi.` }),
      ).toBeTruthy();
      cleanup();
    }
  });

  test('a PI not computed yet is said, not left blank', () => {
    renderIn('en', <PiBadge pi={null} />);
    expect(screen.getByRole('img', { name: 'Privacy Index not computed yet' })).toBeTruthy();
  });

  test('opens the breakdown: factors with points and facts, caps, suggestions with their gain', () => {
    renderIn('en', <PiBadge pi={breakdown} subject="Tea?" />);
    fireEvent.click(screen.getByRole('button', { name: /Privacy Index: Guarded 42/ }));
    const dialog = document.querySelector('dialog')!;
    expect(dialog.hasAttribute('open')).toBe(true);
    const d = within(dialog);
    expect(d.getByRole('heading', { name: 'Why this Privacy Index' })).toBeTruthy();
    const rows = d.getAllByRole('row').slice(1);
    expect(rows.map((r) => r.textContent)).toEqual([
      'Transport encryption (TLS)+20TLSv1.3 from mx.x.example',
      'Domain signature (DKIM)+12DKIM signature of x.example verified',
      'End-to-end encryption (OpenPGP)+40encrypted to your key 0xABCD',
    ]);
    expect(d.getByRole('heading', { name: 'Limits' })).toBeTruthy();
    expect(dialog.textContent).toContain('Limit: not encrypted end to end (-30) — the body travelled in clear');
    expect(d.getByRole('heading', { name: 'How to raise it' })).toBeTruthy();
    const suggestion = d.getByText('Add this person’s public key', { exact: false });
    expect(suggestion.textContent).toContain('+25');
    expect(suggestion.textContent).toContain('would add 25 points');
    fireEvent.click(d.getByRole('button', { name: 'Close' }));
    expect(dialog.hasAttribute('open')).toBe(false);
  });

  test('a summary loads its breakdown when opened', async () => {
    let calls = 0;
    renderIn(
      'fr',
      <PiBadge
        pi={{ score: 42, level: 'guarded', modelVersion: 'm' }}
        loadBreakdown={async () => {
          calls++;
          return { breakdown, note: 'le plus exposé' };
        }}
      />,
    );
    fireEvent.click(screen.getByRole('button'));
    expect(await screen.findByText('le plus exposé')).toBeTruthy();
    expect(calls).toBe(1);
    expect(screen.getByRole('heading', { name: 'Pourquoi cet indice de confidentialité' })).toBeTruthy();
    expect(screen.getByText('Chiffrement du transport (TLS)')).toBeTruthy();
  });
});
