import { encodeQR } from 'qr';
import { useMemo } from 'react';
import { useTranslation } from 'react-i18next';

/**
 * The enrolment's otpauth:// link as a QR code for an authenticator app's camera: the `qr` library computes the
 * modules, drawn here as one SVG path (no data: URL, no inline style, nothing the CSP has to allow). Dark modules on
 * white with a four-module quiet zone, whatever the theme, so that cameras read it. The secret and the link stay
 * written beside it for those who cannot scan.
 */
export function TotpQr({ uri }: { uri: string }) {
  const { t } = useTranslation();
  const { size, d } = useMemo(() => {
    const modules = encodeQR(uri, 'raw', { ecc: 'medium', border: 4 });
    let path = '';
    modules.forEach((row, y) => {
      row.forEach((dark, x) => {
        if (dark) path += `M${x} ${y}h1v1h-1z`;
      });
    });
    return { size: modules.length, d: path };
  }, [uri]);
  return (
    <svg
      className="totp-qr"
      role="img"
      aria-label={t('privacy.totpQr')}
      viewBox={`0 0 ${size} ${size}`}
      width={size * 5}
      height={size * 5}
      shapeRendering="crispEdges"
    >
      <rect width={size} height={size} fill="#fff" />
      <path d={d} fill="#000" />
    </svg>
  );
}
