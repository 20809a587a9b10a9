import DOMPurify from 'dompurify';

/**
 * Mail HTML, made safe to show (WEB.md: DOMPurify + a sandboxed iframe + CSP). DOMPurify removes scripts, event
 * handlers, javascript: URLs, forms, frames, SVG/MathML tricks; then every remote resource (an image, a background, a
 * CSS url() or @import) is removed and counted unless the user allowed this sender's remote content, and tiny or
 * hidden images are counted as trackers. Remote images the user allowed are never loaded by the browser from their
 * host (that would give the sender the reader's address): they leave the markup for `images`, and the frame shows
 * them once the instance has fetched them (GET /api/v1/messages/:id/remote-image), as blob: URLs. Styles are taken out of the markup (the app's CSP forbids inline style,
 * and the frame inherits it): `styles[i]` belongs to the element marked data-cal-style="i", `css` to the document,
 * and the frame applies both through the CSSOM. The frame itself (MailFrame.tsx) has no allow-scripts and its own CSP.
 */
export interface SanitizedMail {
  /** The body's sanitised markup, without style attributes or style elements. */
  html: string;
  /** Inline styles, by data-cal-style index. */
  styles: string[];
  /** The document's style sheets (style elements), cleaned. */
  css: string;
  /** Remote resources removed (or, when allowed, left to load). */
  remote: number;
  /** Of those, images that look like tracking pixels. */
  trackers: number;
  /**
   * Remote images the user allowed, to fetch through the instance: `images[i]` belongs to the img marked
   * data-cal-img="i" and to `cal-img(i)` in the styles (which the frame replaces by the fetched image, or none).
   */
  images: string[];
}

const FORBID_TAGS = [
  'style',
  'form',
  'input',
  'button',
  'select',
  'option',
  'textarea',
  'iframe',
  'frame',
  'frameset',
  'object',
  'embed',
  'applet',
  'base',
  'link',
  'meta',
  'audio',
  'video',
  'source',
  'track',
  'portal',
  'math',
  'svg',
  // Inert here, but a second parse (the frame's) can make its content live: mutation XSS.
  'template',
  'noscript',
  'noembed',
  'noframes',
  'xmp',
  'plaintext',
  'listing',
];

/** Attributes that name a resource to load. */
const URL_ATTRS = ['src', 'srcset', 'background', 'poster', 'lowsrc', 'dynsrc', 'longdesc', 'xlink:href', 'action'];

/** A URL the browser would fetch from elsewhere (relative ones resolve to the instance: just as unwanted). */
export function isRemote(url: string): boolean {
  const u = url.trim().toLowerCase();
  return u !== '' && !u.startsWith('data:') && !u.startsWith('cid:') && !u.startsWith('#');
}

/** Inline images are kept only as raster data (an SVG image is a document of its own). */
const RASTER_DATA = /^data:image\/(?:png|gif|jpe?g|webp|bmp|avif);/i;

/** Where a style attribute waits while the markup is parsed and sanitised. */
const MOVED_STYLE = 'data-cal-moved-style';

/** Remote images the instance may fetch for the reader: http(s), protocol-relative ones as https. */
const allowedRemote = (url: string) => /^(?:https?:)?\/\/[^/\\]/i.test(url.trim());
const absolute = (url: string) => (url.trim().startsWith('//') ? `https:${url.trim()}` : url.trim());

/** The index of a remote image in the list to fetch (once per URL). */
function imageIndex(images: string[], url: string): number {
  const u = absolute(url);
  const i = images.indexOf(u);
  return i >= 0 ? i : images.push(u) - 1;
}

/** The styles with each cal-img(i) replaced by the image fetched for it (a blob: URL), or none. */
export function withImages(css: string, urls: readonly (string | null | undefined)[]): string {
  return css.replace(/cal-img\((\d+)\)/g, (_m, i: string) => {
    const url = urls[Number(i)];
    return url && /^blob:/.test(url) ? `url("${url}")` : 'none';
  });
}

/** CSS with every remote url() and @import removed (counted), and the old script-bearing properties neutralised. */
export function cleanCss(css: string, allowRemote: boolean, count: { remote: number }, images: string[] = []): string {
  // CSS escapes (u\72l, \40import) could hide a url() from the patterns below: decode none, refuse all. The mail's own
  // cal-img( would name another of its images: refused too.
  let out = css.replace(/\\/g, '').replace(/cal-img\s*\(/gi, 'x-blocked(');
  out = out.replace(/@import\b[^;]*;?/gi, () => {
    count.remote++;
    return '';
  });
  out = out.replace(/url\s*\(\s*(['"]?)(.*?)\1\s*\)/gi, (_m, _q: string, url: string) => {
    if (!isRemote(url)) return RASTER_DATA.test(url.trim()) ? `url("${url.trim().replace(/"/g, '%22')}")` : 'none';
    count.remote++;
    return allowRemote && allowedRemote(url) ? `cal-img(${imageIndex(images, url)})` : 'none';
  });
  // Bare strings that name a resource (image-set("https://..."), src: "..."): refused too.
  out = out.replace(/(['"])\s*(?:https?:)?\/\/[^'"]*\1/gi, () => {
    count.remote++;
    return '""';
  });
  // Whatever still names another host (an escape broke a url() apart): refused.
  out = out.replace(/https?:\/\/[^\s'")]*|(?<=[\s('"])\/\/[^\s'")]+/gi, () => {
    count.remote++;
    return '';
  });
  out = out.replace(/expression\s*\(|behaviou?r\s*:|-moz-binding\s*:|javascript\s*:/gi, 'x-blocked(');
  return out;
}

function looksLikeTracker(el: Element, style: string): boolean {
  const w = el.getAttribute('width');
  const h = el.getAttribute('height');
  const tiny = (v: string | null) => v !== null && /^\s*[0-3](px)?\s*$/.test(v);
  if (tiny(w) || tiny(h)) return true;
  if (/display\s*:\s*none|visibility\s*:\s*hidden|(?:^|;)\s*(?:width|height)\s*:\s*[0-3]px/i.test(style)) return true;
  const src = el.getAttribute('src') ?? '';
  return /(?:track|pixel|beacon|open|\/o\.gif|\/t\.gif|spacer)/i.test(src);
}

export function sanitizeMail(input: string, options: { allowRemote: boolean }): SanitizedMail {
  const { allowRemote } = options;
  const count = { remote: 0 };
  let trackers = 0;
  const styles: string[] = [];
  const images: string[] = [];

  // Styles leave the markup before anything parses it: a document the app parses inherits its CSP, which would
  // report every style attribute and element as refused. A style element's text ends at the first </style (as the
  // HTML parser reads it); a style attribute is renamed, and its value read back below. DOMPurify still decides what
  // is kept: this pass only moves CSS.
  const css: string[] = [];
  const unstyled = input
    .replace(/<style\b[^>]*>([\s\S]*?)(?:<\/style\s*>|$)/gi, (_m, text: string) => {
      css.push(cleanCss(text, allowRemote, count, images));
      return '';
    })
    .replace(/(<[a-zA-Z][^<>]*?\s)style(\s*=)/gi, `$1${MOVED_STYLE}$2`);
  const inert = new DOMParser().parseFromString(unstyled, 'text/html');
  const bodyHtml = inert.body ? inert.body.innerHTML : unstyled;
  // The body element itself is not kept: what it would have loaded is counted all the same.
  for (const attr of ['background', MOVED_STYLE]) {
    const v = inert.body?.getAttribute(attr);
    if (v && (attr === 'background' ? isRemote(v) : /url\s*\(/i.test(v))) count.remote++;
  }

  const purify = DOMPurify(window);
  purify.addHook('uponSanitizeAttribute', (_node, data) => {
    if (data.attrName === 'data-cal-style' || data.attrName === 'data-cal-img' || data.attrName === 'style')
      data.keepAttr = false;
  });
  purify.addHook('afterSanitizeAttributes', (node) => {
    const el = node as Element;
    if (typeof el.getAttribute !== 'function') return;
    const style = el.getAttribute(MOVED_STYLE) ?? '';
    for (const attr of URL_ATTRS) {
      const value = el.getAttribute(attr);
      if (value === null) continue;
      if (!isRemote(value)) {
        // Inline parts (cid:) are not shown yet; data: only as a raster image.
        if (/^cid:/i.test(value.trim()) || (/^data:/i.test(value.trim()) && !RASTER_DATA.test(value.trim())))
          el.removeAttribute(attr);
        continue;
      }
      count.remote++;
      if (el.tagName === 'IMG' && attr === 'src' && looksLikeTracker(el, style)) trackers++;
      el.removeAttribute(attr);
      if (allowRemote && el.tagName === 'IMG' && !el.hasAttribute('data-cal-img')) {
        // The src, else the first candidate of a srcset: fetched by the instance, shown by the frame.
        const url = attr === 'src' ? value : attr === 'srcset' ? (value.trim().split(/\s+/)[0] ?? '') : '';
        if (allowedRemote(url)) el.setAttribute('data-cal-img', String(imageIndex(images, url)));
      }
    }
    if (el.tagName === 'A' && el.hasAttribute('href')) {
      el.setAttribute('target', '_blank');
      el.setAttribute('rel', 'noopener noreferrer');
    }
    el.removeAttribute(MOVED_STYLE);
    if (style !== '') {
      el.setAttribute('data-cal-style', String(styles.length));
      styles.push(cleanCss(style, allowRemote, count, images));
    }
  });
  const html = purify.sanitize(bodyHtml, {
    FORBID_TAGS,
    FORBID_ATTR: ['ping', 'formaction', 'srcdoc', 'http-equiv'],
    ALLOW_UNKNOWN_PROTOCOLS: false,
    ADD_ATTR: ['target'],
    USE_PROFILES: { html: true },
  }) as string;
  purify.removeAllHooks();
  return { html, styles, css: css.join('\n'), remote: count.remote, trackers, images };
}

/** The frame's own policy, on top of the app's (which it inherits): nothing runs, nothing loads unless allowed. */
export function frameCsp(allowRemote: boolean): string {
  return [
    "default-src 'none'",
    "script-src 'none'",
    // Allowed remote images come from the instance's proxy, as blob: URLs: never from their host.
    `img-src data:${allowRemote ? ' blob:' : ''}`,
    "style-src 'unsafe-inline'",
    'font-src data:',
    "form-action 'none'",
    "base-uri 'none'",
  ].join('; ');
}

/** The srcdoc of the frame: the policy first, then the sanitised body. */
export function frameDocument(mail: SanitizedMail, allowRemote: boolean): string {
  return `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${frameCsp(allowRemote)}"><meta name="referrer" content="no-referrer"></head><body>${mail.html}</body></html>`;
}
