import type { PrivacyIndex } from '@caliopen/federation-protocol';
import { measureSuggestions, PiTally, type WhatIf } from './pi.tally.ts';

/**
 * The device Privacy Index, from what its user agent says and the dated table of supported systems
 * (instance/src/devices/os-support.data.json). An unsupported or outdated operating system is eliminatory: it caps the
 * device near zero whatever else is right (seed 000). A version the browser hides (frozen user-agent strings) is
 * unknown, not outdated: it earns less than a confirmed supported one and is never eliminatory. Pure.
 */
export interface DevicePiFacts {
  id: string;
  os: 'supported' | 'outdated' | 'unsupported' | 'unknown';
  osEvidence: string;
  browser: 'supported' | 'outdated' | 'unknown';
  browserEvidence: string;
}

export const DEVICE_POINTS = { osSupported: 55, osUnknown: 25, browserSupported: 45, browserUnknown: 20 } as const;
export const DEVICE_CAPS = { eliminatory: 5 } as const;

export function computeDevicePi(facts: DevicePiFacts): PrivacyIndex {
  const pi = tallyDevice(facts).finish();
  return { ...pi, suggestions: measureSuggestions(facts, pi.score, scoreOf, DEVICE_WHAT_IFS) };
}

function scoreOf(facts: DevicePiFacts): number {
  return tallyDevice(facts).finish().score;
}

function tallyDevice(f: DevicePiFacts): PiTally {
  const t = new PiTally();
  const os = f.os === 'supported' ? DEVICE_POINTS.osSupported : f.os === 'unknown' ? DEVICE_POINTS.osUnknown : 0;
  t.add('device.os', os, f.osEvidence);
  const browser =
    f.browser === 'supported'
      ? DEVICE_POINTS.browserSupported
      : f.browser === 'unknown'
        ? DEVICE_POINTS.browserUnknown
        : 0;
  t.add('device.browser', browser, f.browserEvidence);
  if (f.os === 'outdated' || f.os === 'unsupported') {
    t.cap(
      'cap.os_unsupported',
      DEVICE_CAPS.eliminatory,
      'The operating system no longer receives security updates: nothing else on this device can be trusted.',
      { always: true },
    );
  }
  return t;
}

const element = (f: DevicePiFacts) => `device:${f.id}`;

const DEVICE_WHAT_IFS: readonly WhatIf<DevicePiFacts>[] = [
  {
    action: 'device.update_os',
    element,
    applies: (f) => f.os === 'outdated' || f.os === 'unsupported',
    apply: (f) => ({ ...f, os: 'supported' }),
  },
  {
    action: 'device.update_browser',
    element,
    applies: (f) => f.browser === 'outdated',
    apply: (f) => ({ ...f, browser: 'supported' }),
  },
];
