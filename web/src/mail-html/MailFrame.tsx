import { useEffect, useMemo, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { frameDocument, sanitizeMail, withImages } from './sanitize.ts';

/** Remote images fetched (through the instance) for one mail at most. */
const MAX_IMAGES = 100;

const BASE_CSS =
  'html,body{margin:0;padding:0;background:#fff;color:#1b1f24;font:16px/1.5 system-ui,sans-serif;overflow-wrap:anywhere}' +
  'body{padding:4px}img{max-width:100%;height:auto}table{max-width:100%}a{color:#0b57d0}';

/**
 * A sanitised HTML mail in a sandboxed frame: no allow-scripts (nothing in it can run), allow-same-origin only so that
 * the app can apply the mail's styles through the CSSOM and size the frame, allow-popups so that links open in a new
 * tab (noopener, no referrer). Remote content is blocked unless `allowRemote`; even then the browser never asks its
 * host: `fetchImage` gets each remote image through the instance (the sender never sees the reader's address), and the
 * frame shows it as a blob: URL (the only images its policy allows besides data:).
 */
export function MailFrame({
  html,
  allowRemote,
  title,
  fetchImage,
}: {
  html: string;
  allowRemote: boolean;
  title: string;
  fetchImage?: (url: string) => Promise<Blob>;
}) {
  const ref = useRef<HTMLIFrameElement>(null);
  const [height, setHeight] = useState(120);
  const mail = useMemo(() => sanitizeMail(html, { allowRemote }), [html, allowRemote]);
  const srcDoc = useMemo(() => frameDocument(mail, allowRemote), [mail, allowRemote]);

  useEffect(() => {
    const frame = ref.current;
    if (!frame) return;
    let observer: ResizeObserver | null = null;
    let cancelled = false;
    const blobs: string[] = [];
    const fit = () => {
      // The body's extent, not the root's: the root is at least as tall as the frame, so it would never shrink back.
      const body = frame.contentDocument?.body;
      if (body) setHeight(Math.min(Math.max(Math.ceil(body.getBoundingClientRect().bottom) + 8, 40), 20_000));
    };
    const onLoad = () => {
      const doc = frame.contentDocument;
      const win = frame.contentWindow as (Window & typeof globalThis) | null;
      if (!doc || !win) return;
      // The mail's styles, through the CSSOM (the app's CSP, which the frame inherits, refuses inline style); its
      // remote images once fetched (none until then).
      const applyStyles = (images: readonly (string | null)[]) => {
        try {
          const sheet = new win.CSSStyleSheet();
          sheet.replaceSync(withImages(`${BASE_CSS}\n${mail.css}`, images));
          doc.adoptedStyleSheets = [sheet];
        } catch {
          // a sheet that does not parse: the mail shows unstyled
        }
        for (const el of doc.querySelectorAll<HTMLElement>('[data-cal-style]')) {
          const css = mail.styles[Number(el.getAttribute('data-cal-style'))];
          if (css !== undefined) el.style.cssText = withImages(css, images);
        }
      };
      applyStyles([]);
      if (allowRemote && fetchImage && mail.images.length > 0) {
        void Promise.all(
          // At most MAX_IMAGES per mail: a mail of a thousand images does not make a thousand requests.
          mail.images.slice(0, MAX_IMAGES).map((url) =>
            fetchImage(url).then(
              (blob) => (blob.type.startsWith('image/') ? URL.createObjectURL(blob) : null),
              () => null,
            ),
          ),
        ).then((images) => {
          if (cancelled) {
            for (const u of images) if (u) URL.revokeObjectURL(u);
            return;
          }
          for (const u of images) if (u) blobs.push(u);
          for (const img of doc.querySelectorAll<HTMLImageElement>('img[data-cal-img]')) {
            const url = images[Number(img.getAttribute('data-cal-img'))];
            if (url) img.src = url;
          }
          applyStyles(images);
        });
      }
      fit();
      doc.addEventListener('load', fit, true);
      observer = new ResizeObserver(fit);
      observer.observe(doc.body);
    };
    frame.addEventListener('load', onLoad);
    return () => {
      cancelled = true;
      frame.removeEventListener('load', onLoad);
      observer?.disconnect();
      for (const u of blobs) URL.revokeObjectURL(u);
    };
  }, [mail, allowRemote, fetchImage]);

  return (
    <iframe
      ref={ref}
      className="mail-frame"
      title={title}
      sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox"
      referrerPolicy="no-referrer"
      srcDoc={srcDoc}
      height={height}
    />
  );
}

/** The notice above a mail whose remote content was blocked, with the choice to load it for this sender. */
export function RemoteContentNotice({
  remote,
  trackers,
  allowed,
  sender,
  onAllow,
}: {
  remote: number;
  trackers: number;
  allowed: boolean;
  sender: string;
  onAllow: () => void;
}) {
  const { t } = useTranslation();
  if (remote === 0) return null;
  if (allowed) return <p className="remote-notice remote-allowed muted small">{t('mail.remoteAllowed', { sender })}</p>;
  return (
    <div className="remote-notice" role="note">
      <p>
        <strong>{t('mail.remoteBlocked', { count: remote })}</strong>{' '}
        {trackers > 0 ? t('mail.trackersBlocked', { count: trackers }) : ''} {t('mail.remoteWhy')}
      </p>
      <button type="button" className="button-secondary" onClick={onAllow}>
        {t('mail.allowSender', { sender })}
      </button>
    </div>
  );
}
