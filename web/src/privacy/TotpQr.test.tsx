import { cleanup, render } from '@testing-library/react';
import { decodeQR } from 'qr/decode.js';
import { I18nextProvider } from 'react-i18next';
import { afterEach, describe, expect, test } from 'vitest';
import { createI18n } from '../i18n/i18n.ts';
import { TotpQr } from './TotpQr.tsx';

afterEach(cleanup);

/** Rasterises what was rendered (the SVG path's unit squares) at `scale` pixels per module, for a QR reader. */
function rasterise(svg: SVGSVGElement, scale = 4): { width: number; height: number; data: Uint8Array } {
  const size = Number(svg.getAttribute('viewBox')!.split(' ')[2]);
  const width = size * scale;
  const data = new Uint8Array(width * width * 4).fill(255);
  const d = svg.querySelector('path')!.getAttribute('d')!;
  const squares = [...d.matchAll(/M(\d+) (\d+)h1v1h-1z/g)];
  expect(squares.map((m) => m[0]).join('')).toBe(d); // nothing but unit squares
  for (const [, x, y] of squares) {
    for (let dy = 0; dy < scale; dy++)
      for (let dx = 0; dx < scale; dx++) {
        const i = ((Number(y) * scale + dy) * width + Number(x) * scale + dx) * 4;
        data[i] = data[i + 1] = data[i + 2] = 0;
      }
  }
  return { width, height: width, data };
}

describe('TotpQr', () => {
  const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
  const uri = `otpauth://totp/Caliopen%20alpha.test:alice?secret=${secret}&issuer=Caliopen%20alpha.test&algorithm=SHA1&digits=6&period=30`;

  test('renders an SVG image, labelled in the user’s language, with no data: URL or inline style', () => {
    const { container } = render(
      <I18nextProvider i18n={createI18n('fr')}>
        <TotpQr uri={uri} />
      </I18nextProvider>,
    );
    const svg = container.querySelector('svg')!;
    expect(svg.getAttribute('role')).toBe('img');
    expect(svg.getAttribute('aria-label')).toBe('Code QR du lien pour une application d’authentification');
    expect(container.innerHTML).not.toMatch(/data:|style=|<script/i);
  });

  test('the code drawn decodes to the otpauth link, whose secret is the one shown beside it', () => {
    const { container } = render(
      <I18nextProvider i18n={createI18n('en')}>
        <TotpQr uri={uri} />
      </I18nextProvider>,
    );
    const decoded = decodeQR(rasterise(container.querySelector('svg')!));
    expect(decoded).toBe(uri);
    expect(new URL(decoded).searchParams.get('secret')).toBe(secret);
  });

  test('another link draws another code (nothing cached across secrets)', () => {
    const other = uri.replace(secret, 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
    const { container } = render(
      <I18nextProvider i18n={createI18n('en')}>
        <TotpQr uri={other} />
      </I18nextProvider>,
    );
    expect(decodeQR(rasterise(container.querySelector('svg')!))).toBe(other);
  });
});
