import { UAParser } from 'ua-parser-js';
import type { DeviceType } from './device.entity.ts';

export interface ParsedUserAgent {
  type: DeviceType;
  os: string | null;
  osVersion: string | null;
  browser: string | null;
  browserVersion: string | null;
  /** A name a person recognises: "Firefox on Linux", "Chrome on Android 15", "caliopen CLI". */
  suggestedName: string;
}

const MAX_UA_LENGTH = 512;

/** Parses a User-Agent header into the device fields the device list (and later the device PI) shows. */
export function parseUserAgent(userAgent: string | undefined): ParsedUserAgent {
  const ua = (userAgent ?? '').slice(0, MAX_UA_LENGTH);
  if (/^caliopen-cli\//i.test(ua)) {
    return {
      type: 'cli',
      os: null,
      osVersion: null,
      browser: null,
      browserVersion: null,
      suggestedName: 'caliopen CLI',
    };
  }
  const r = new UAParser(ua).getResult();
  const os = r.os.name ?? null;
  const osVersion = r.os.version ?? null;
  const browser = r.browser.name ?? null;
  const browserVersion = r.browser.version ?? null;
  const type: DeviceType =
    r.device.type === 'mobile'
      ? 'mobile'
      : r.device.type === 'tablet'
        ? 'tablet'
        : browser || os
          ? 'desktop'
          : 'unknown';
  const where = os ? ` on ${os}${osVersion && type !== 'desktop' ? ` ${osVersion}` : ''}` : '';
  const suggestedName = browser ? `${browser}${where}` : os ? `${os} device` : 'Unknown device';
  return { type, os, osVersion, browser, browserVersion, suggestedName };
}
