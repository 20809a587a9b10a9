// @vitest-environment jsdom
// DOMPurify is exercised in jsdom, which it supports and is tested against: happy-dom lets <script> through it.
import { describe, expect, test } from 'vitest';
import { EVIL_HOST, HOSTILE_MAILS } from '../../../tests/e2e/fixtures/hostile-html.ts';
import { cleanCss, frameCsp, frameDocument, isRemote, sanitizeMail, withImages } from './sanitize.ts';

describe('the mail HTML sanitiser', () => {
  test('the corpus has at least 300 hostile variants, all distinct', () => {
    expect(HOSTILE_MAILS.length).toBeGreaterThanOrEqual(300);
    const payloads = new Set(HOSTILE_MAILS.map((m) => m.html.replace(/XSS-\d+|alert\(\d+\)/g, '')));
    expect(payloads.size).toBe(HOSTILE_MAILS.length);
  });

  test.each(HOSTILE_MAILS)('#$id $name: nothing that runs, nothing remote left', (mail) => {
    const out = sanitizeMail(mail.html, { allowRemote: false });
    // The output is read as the frame will read it (parsed), so that text which merely looks like markup (the
    // escaped content of a <listing>, a title attribute) is told apart from elements and attributes.
    const doc = new DOMParser().parseFromString(`<!doctype html><body>${out.html}`, 'text/html');
    const elements = [...doc.body.querySelectorAll('*')];
    for (const el of elements) {
      expect(el.namespaceURI, el.outerHTML).toBe('http://www.w3.org/1999/xhtml');
      expect(el.localName).not.toMatch(
        /^(script|iframe|frame|object|embed|applet|form|input|button|meta|base|link|svg|math|style|portal|template)$/,
      );
      for (const attr of el.attributes) {
        expect(attr.name, el.outerHTML).not.toMatch(/^on|^(style|srcdoc|formaction|action|ping|http-equiv)$/i);
        if (attr.name === 'title' || attr.name === 'alt') continue;
        expect(attr.value, el.outerHTML).not.toMatch(/javascript:|vbscript:|data:text\/html|data:image\/svg/i);
        // Links may point anywhere (the user chooses to follow them); nothing else may name another host.
        if (!(el.localName === 'a' && attr.name === 'href')) expect(attr.value).not.toContain(EVIL_HOST);
      }
    }
    // The markup without its text: the same checks on the serialised form, as a second opinion.
    for (const node of [doc.body, ...doc.body.querySelectorAll('*')].flatMap((el) => [...el.childNodes]))
      if (node.nodeType === 3) node.textContent = '';
    for (const el of elements) for (const a of ['title', 'alt']) if (el.hasAttribute(a)) el.setAttribute(a, '');
    const markup = doc.body.innerHTML;
    const all = `${markup.replace(/<a href="[^"]*"/g, '<a')}\n${out.styles.join('\n')}\n${out.css}`;
    expect(markup).not.toMatch(/<(script|iframe|object|embed|form|input|button|meta|base|link|svg|math|style)\b/i);
    expect(markup).not.toMatch(/\son[a-z]+\s*=/i);
    expect(markup).not.toMatch(/javascript:|vbscript:|data:text\/html/i);
    expect(markup).not.toMatch(/\sstyle\s*=/i);
    expect(all).not.toContain(EVIL_HOST);
    expect(`${out.styles.join('\n')}\n${out.css}`).not.toMatch(/expression\s*\(|behaviou?r\s*:|-moz-binding/i);
    if (mail.remote) expect(out.remote).toBeGreaterThan(0);
  });

  test('ordinary mail keeps its text, links, images from data: and styles (moved out of the markup)', () => {
    const out = sanitizeMail(
      '<h1 style="color:#123456">Hello</h1><p>See <a href="https://example.org/a">this</a>.</p><img src="data:image/png;base64,iVBORw0KGgo=" alt="dot">',
      { allowRemote: false },
    );
    expect(out.html).toContain('<h1 data-cal-style="0">Hello</h1>');
    expect(out.styles).toEqual(['color:#123456']);
    expect(out.html).toContain('href="https://example.org/a"');
    expect(out.html).toContain('target="_blank"');
    expect(out.html).toContain('rel="noopener noreferrer"');
    expect(out.html).toContain('src="data:image/png;base64,iVBORw0KGgo="');
    expect(out.remote).toBe(0);
  });

  test('remote images are counted, trackers among them; when allowed they leave the markup for the proxy list', () => {
    const html = `<img src="https://img.example/logo.png" alt="logo"><img src="https://t.example/o.gif" width="1" height="1"><img src="http://img.example/plain.png"><img src="//img.example/pr.png"><img srcset="https://img.example/s.png 2x"><img src="https://img.example/logo.png" alt="again"><img src="/relative.png"><img src="ftp://img.example/f.png">`;
    const blocked = sanitizeMail(html, { allowRemote: false });
    expect(blocked.remote).toBe(8);
    expect(blocked.trackers).toBe(1);
    expect(blocked.html).not.toContain('img.example');
    expect(blocked.images).toEqual([]);
    const allowed = sanitizeMail(html, { allowRemote: true });
    // Never in the markup (the browser would ask the host): an index into the list the instance fetches.
    expect(allowed.html).not.toContain('img.example');
    expect(allowed.html).not.toMatch(/\ssrc(set)?="(?!data:)/);
    expect(allowed.images).toEqual([
      'https://img.example/logo.png',
      'https://t.example/o.gif',
      'http://img.example/plain.png',
      'https://img.example/pr.png',
      'https://img.example/s.png',
    ]);
    expect(allowed.html).toContain('<img alt="logo" data-cal-img="0">');
    expect(allowed.html).toContain('<img alt="again" data-cal-img="0">');
    expect(allowed.html).toContain('<img data-cal-img="4">');
  });

  test('allowed remote CSS images become cal-img(i), replaced by the fetched blob: URL or none; forgeries refused', () => {
    const out = sanitizeMail(
      '<style>.a{background:url(https://img.example/bg.png)} .b{background:cal-img(0)}</style><p style="background-image:url(\'https://img.example/p.png\')">x</p><p data-cal-img="0" data-cal-style="0">y</p>',
      { allowRemote: true },
    );
    expect(out.images).toEqual(['https://img.example/bg.png', 'https://img.example/p.png']);
    expect(out.css).toContain('.a{background:cal-img(0)}');
    expect(out.css).not.toContain('.b{background:cal-img(0)}');
    expect(out.styles).toEqual(['background-image:cal-img(1)']);
    expect(out.html).toBe('<p data-cal-style="0">x</p><p>y</p>');
    expect(withImages(out.css, ['blob:https://app.example/1'])).toContain('url("blob:https://app.example/1")');
    expect(withImages(out.css, [null])).toContain('.a{background:none}');
    expect(withImages('a{background:cal-img(0)}', ['https://img.example/bg.png'])).toBe('a{background:none}');
  });

  test.each(HOSTILE_MAILS)(
    '#$id $name, remote content allowed: still nothing that runs, no host in the markup',
    (mail) => {
      const out = sanitizeMail(mail.html, { allowRemote: true });
      const doc = new DOMParser().parseFromString(`<!doctype html><body>${out.html}`, 'text/html');
      for (const el of doc.body.querySelectorAll('*'))
        for (const attr of el.attributes) {
          expect(attr.name, el.outerHTML).not.toMatch(/^on|^(style|srcdoc|formaction|action|ping|http-equiv)$/i);
          if (attr.name === 'title' || attr.name === 'alt' || (el.localName === 'a' && attr.name === 'href')) continue;
          expect(attr.value, el.outerHTML).not.toMatch(/javascript:|vbscript:|data:text\/html|data:image\/svg/i);
          expect(attr.value, el.outerHTML).not.toContain(EVIL_HOST);
        }
      expect(`${out.styles.join('\n')}\n${out.css}`).not.toContain(EVIL_HOST);
      for (const url of out.images) expect(url).toMatch(/^https?:\/\/[^/\\]/i);
    },
  );

  test('CSS: @import, url(), strings and escapes', () => {
    const count = { remote: 0 };
    expect(
      cleanCss('@import "https://a.example/x.css"; p{background:url(https://a.example/b.png)}', false, count),
    ).not.toContain('a.example');
    expect(count.remote).toBe(2);
    expect(cleanCss('p{background:url(data:image/png;base64,AAA)}', false, count)).toContain('data:image/png');
    expect(isRemote('/relative.png')).toBe(true);
    expect(isRemote('cid:part1')).toBe(false);
  });

  test('the frame document starts with a CSP that forbids scripts and remote loads', () => {
    const doc = frameDocument(sanitizeMail('<p>x</p>', { allowRemote: false }), false);
    expect(doc).toMatch(/^<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy"/);
    expect(frameCsp(false)).toContain("script-src 'none'");
    expect(frameCsp(false)).toContain('img-src data:;');
    expect(frameCsp(true)).toContain('img-src data: blob:;');
    expect(frameCsp(true)).not.toMatch(/https?:/);
    expect(frameCsp(false)).toContain("default-src 'none'");
  });
});
