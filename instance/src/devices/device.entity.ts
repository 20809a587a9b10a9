import type { StoredPi } from '../mail/message.entity.ts';

export type DeviceType = 'desktop' | 'mobile' | 'tablet' | 'cli' | 'unknown';

/** A device an account logged in from: what the user agent said, parsed, and when it was seen. */
export interface Device {
  id: string;
  accountId: string;
  name: string;
  type: DeviceType;
  os: string | null;
  osVersion: string | null;
  browser: string | null;
  browserVersion: string | null;
  /** The raw user agent, kept to recompute the parsed fields (and the device PI) when the parser improves. */
  userAgent: string;
  firstSeenAt: Date;
  lastSeenAt: Date;
  revokedAt: Date | null;
  /** The device's Privacy Index (summary), null until first computed. */
  pi: StoredPi | null;
}
