/**
 * # Supported operating systems and browsers: the data and the verdict for a device
 *
 * The device Privacy Index treats an unsupported or outdated operating system as eliminatory (PRIVACY-INDEX.md,
 * "Device PI"). This module says, for one device as the user-agent parser saw it, whether its OS and its browser
 * still receive security updates on a given date — and, as importantly, when that cannot be told.
 *
 * ## The data: `os-support.data.json`
 * Versioned (`version`, e.g. "2026.11"; every verdict carries it so stored PIs say which table they used) and
 * reviewed by hand against the vendors' lifecycle pages listed in each entry's `sources`. Dates are ISO days;
 * `supportEnds` is the *last* day security updates were (or are planned to be) issued, `null` = still supported on the
 * review date. `confidence: "medium"` = taken from a secondary source (endoflife.date, release trackers) that agrees;
 * `"low"` = a projection or a date we could not confirm. Update the table at least with each OS major release.
 *
 * - `operatingSystems[]`: one entry per family *as ua-parser-js names it* (`Windows`, `Mac OS`, `iOS`, `Android`,
 *   `Ubuntu`, `Debian`, `Fedora`, `Chromium OS`, `Linux`...; `aliases` catch other spellings). `versionScheme` is
 *   `names` (Windows: "XP", "7", "8.1" — matched exactly) or `dotted` (matched on numbers: entry "10.15" covers
 *   "10.15.7", entry "14" covers "14.4.1"; entries are listed oldest first, strictly increasing). A family-level
 *   `supportEnds` marks a dead platform (Windows Phone, BlackBerry...): every version of it is *unsupported*.
 *   `userAgentVersion` says whether the version a user agent shows for this family means anything: `unreliable` for
 *   Debian/Fedora (the number is the browser *package*'s), `absent` for bare Linux.
 * - `browsers[]`: per family, the dated `releases` of each major; a major is current while it is at least the newest
 *   major released `graceDays` ago (roll-outs take time). Beyond the last listed release one new major every
 *   `cadenceDays` is assumed, so a stale table still ages browsers instead of trusting them forever. `extendedLines`
 *   are majors patched longer (Firefox ESR, Safari via older iOS lines). Edge borrows Chrome's schedule
 *   (`releasesOf` + `lagDays`). A family-level `supportEnds` (Internet Explorer) makes every version outdated.
 *
 * ## The user-agent traps
 * Browsers freeze the OS version they report, to reduce fingerprinting. A frozen value is *unknown*, never outdated:
 * - every browser on Windows 10 **and 11** sends "Windows NT 10.0" (parsed as Windows "10");
 * - Safari and Chromium browsers on macOS 11+ send "Mac OS X 10_15_7", Firefox sends "10.15"; iPads send the same
 *   desktop user agent as Macs;
 * - Chrome and Chromium-based browsers on Android send "Android 10; K" whatever the version (Firefox does not: the
 *   freeze lists `exceptBrowsers`);
 * - every browser on iOS 26+ sends "iPhone OS 18_6";
 * - ChromeOS Chrome sends "CrOS x86_64 14541.0.0".
 * The table records them in `frozenVersions`. Genuine devices on exactly those versions are also 'unknown': we cannot
 * tell them from the frozen ones. Only a version we can trust counts as outdated. A version *newer* than the table
 * knows is 'unknown' for an OS (it may be a lie, and an OS verdict is eliminatory) but taken at its word for a
 * browser (browsers move every few weeks and only their lower bound matters).
 *
 * ## The verdict
 * `deviceSupport(device, now)` is pure (time passed in) and total: any string, however hostile, gives a verdict.
 * Order, best first — OS: supported > unknown > outdated > unsupported; browser: supported > unknown > outdated. A
 * later `now` never gives a better verdict for the same device (a property test checks it).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';

export interface DeviceSupportVerdict {
  /** outdated: this version's support ended and a newer version is supported; unsupported: no security support at all for the family (or any of its versions). */
  os: 'supported' | 'outdated' | 'unsupported' | 'unknown';
  /** In words, e.g. "Windows 7 (support ended 2020-01-14)", "macOS version hidden by the browser (10.15.7 is frozen)". */
  osEvidence: string;
  browser: 'supported' | 'outdated' | 'unknown';
  browserEvidence: string;
  /** The `version` of os-support.data.json the verdict rests on. */
  dataVersion: string;
}

export interface DeviceForSupport {
  os: string | null;
  osVersion: string | null;
  browser: string | null;
  browserVersion: string | null;
  type: string;
}

/** The order of OS verdicts, best first (higher is better): a later date never moves a device up. */
export const OS_VERDICT_RANK = { supported: 3, unknown: 2, outdated: 1, unsupported: 0 } as const;
export const BROWSER_VERDICT_RANK = { supported: 2, unknown: 1, outdated: 0 } as const;

/** The data file is malformed: the message names the file, the place and the problem. */
export class OsSupportDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OsSupportDataError';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Schema and validation
// ---------------------------------------------------------------------------------------------------------------

const IsoDay = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' });
const Confidence = Type.Optional(Type.Union([Type.Literal('medium'), Type.Literal('low')]));
const Text = (max: number) => Type.String({ minLength: 1, maxLength: max });
const Sources = Type.Array(Type.String({ pattern: '^https://[^\\s]+$', maxLength: 300 }), { minItems: 1 });
const Name = Type.String({ minLength: 1, maxLength: 40 });

const OsVersionSchema = Type.Object(
  {
    version: Type.String({ minLength: 1, maxLength: 20 }),
    codename: Type.Optional(Text(40)),
    released: IsoDay,
    supportEnds: Type.Union([IsoDay, Type.Null()]),
    confidence: Confidence,
    note: Type.Optional(Text(400)),
  },
  { additionalProperties: false },
);

const FrozenSchema = Type.Object(
  {
    version: Type.String({ minLength: 1, maxLength: 20 }),
    reportedBy: Text(400),
    exceptBrowsers: Type.Optional(Type.Array(Name)),
  },
  { additionalProperties: false },
);

const OsFamilySchema = Type.Object(
  {
    family: Name,
    displayName: Name,
    aliases: Type.Array(Name),
    versionScheme: Type.Union([Type.Literal('names'), Type.Literal('dotted')]),
    userAgentVersion: Type.Union([Type.Literal('reliable'), Type.Literal('unreliable'), Type.Literal('absent')]),
    policy: Text(1000),
    sources: Sources,
    supportEnds: Type.Optional(IsoDay),
    confidence: Confidence,
    frozenVersions: Type.Array(FrozenSchema),
    versions: Type.Array(OsVersionSchema),
  },
  { additionalProperties: false },
);

const ReleaseSchema = Type.Object(
  { major: Type.Integer({ minimum: 0, maximum: 100000 }), released: IsoDay, confidence: Confidence },
  { additionalProperties: false },
);

const ExtendedLineSchema = Type.Object(
  {
    major: Type.Integer({ minimum: 0, maximum: 100000 }),
    label: Text(60),
    released: IsoDay,
    supportEnds: Type.Union([IsoDay, Type.Null()]),
    confidence: Confidence,
    note: Type.Optional(Text(400)),
  },
  { additionalProperties: false },
);

const BrowserFamilySchema = Type.Object(
  {
    family: Name,
    displayName: Type.Optional(Name),
    aliases: Type.Array(Name),
    policy: Text(1000),
    sources: Sources,
    supportEnds: Type.Optional(IsoDay),
    confidence: Confidence,
    graceDays: Type.Integer({ minimum: 0, maximum: 3650 }),
    cadenceDays: Type.Integer({ minimum: 1, maximum: 3650 }),
    releasesOf: Type.Optional(Name),
    lagDays: Type.Optional(Type.Integer({ minimum: 0, maximum: 365 })),
    releases: Type.Array(ReleaseSchema),
    extendedLines: Type.Array(ExtendedLineSchema),
  },
  { additionalProperties: false },
);

const OsSupportDataSchema = Type.Object(
  {
    version: Type.String({ pattern: '^\\d{4}\\.\\d{1,2}$' }),
    reviewed: IsoDay,
    about: Text(2000),
    operatingSystems: Type.Array(OsFamilySchema, { minItems: 1 }),
    browsers: Type.Array(BrowserFamilySchema, { minItems: 1 }),
  },
  { additionalProperties: false },
);

export type OsSupportData = Static<typeof OsSupportDataSchema>;
type OsVersion = Static<typeof OsVersionSchema>;
type BrowserFamily = Static<typeof BrowserFamilySchema>;
type Release = Static<typeof ReleaseSchema>;

const DAY_MS = 86_400_000;

/** Milliseconds at 00:00 UTC of an ISO day, or NaN when it is not a real calendar day. */
function dayStart(iso: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  if (!m) return Number.NaN;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = Date.UTC(y, mo - 1, d);
  const back = new Date(t);
  return back.getUTCFullYear() === y && back.getUTCMonth() === mo - 1 && back.getUTCDate() === d ? t : Number.NaN;
}

/** Dotted numbers ("10.15.7" -> [10, 15, 7]) from the start of a string; null when there are none or they are absurd. */
export function parseDotted(value: string): number[] | null {
  const m = /^\d+(?:\.\d+)*/.exec(value.trim());
  if (!m) return null;
  const parts = m[0].split('.');
  if (parts.length > 8 || parts.some((p) => p.length > 9)) return null;
  return parts.map(Number);
}

/** Compares dotted numbers, missing components counting as 0 ("7" == "7.0"). */
function compareDotted(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** True when `entry` is a prefix of `reported` (entry "10.15" covers "10.15.7"; entry "7.0" covers "7"). */
function covers(entry: readonly number[], reported: readonly number[]): boolean {
  return entry.every((n, i) => (reported[i] ?? 0) === n);
}

/**
 * Validates the table: the schema (no unknown field, ISO days, https sources), then the meaning: real calendar days,
 * releases before ends, unique family names and aliases, dotted versions parseable and strictly increasing, browser
 * releases strictly increasing in major and date, `releasesOf` pointing at a browser with releases of its own.
 */
export function parseOsSupportData(raw: unknown, file = 'os-support.data.json'): OsSupportData {
  const fail = (at: string, problem: string) => new OsSupportDataError(`${file}: ${at || '(root)'} ${problem}`);
  if (!Value.Check(OsSupportDataSchema, raw)) {
    const first = [...Value.Errors(OsSupportDataSchema, raw)][0] as unknown as
      | { instancePath?: string; message?: string }
      | undefined;
    throw fail(first?.instancePath ?? '', first?.message ?? 'does not match the schema');
  }
  const data = raw;
  const day = (value: string, at: string): number => {
    const t = dayStart(value);
    if (Number.isNaN(t)) throw fail(at, `is not a real calendar day: ${value}`);
    return t;
  };
  day(data.reviewed, '/reviewed');

  const seen = (kind: string) => {
    const names = new Set<string>();
    return (name: string, at: string) => {
      const key = name.toLowerCase();
      if (names.has(key)) throw fail(at, `repeats the ${kind} name "${name}"`);
      names.add(key);
    };
  };
  const osName = seen('operating system');
  data.operatingSystems.forEach((fam, i) => {
    const at = `/operatingSystems/${i}`;
    osName(fam.family, `${at}/family`);
    fam.aliases.forEach((a, j) => {
      osName(a, `${at}/aliases/${j}`);
    });
    if (fam.supportEnds !== undefined) day(fam.supportEnds, `${at}/supportEnds`);
    let previous: number[] | null = null;
    const versionNames = new Set<string>();
    fam.versions.forEach((v, j) => {
      const vat = `${at}/versions/${j}`;
      const released = day(v.released, `${vat}/released`);
      if (v.supportEnds !== null && day(v.supportEnds, `${vat}/supportEnds`) < released)
        throw fail(`${vat}/supportEnds`, 'is before released');
      if (fam.versionScheme === 'names') {
        if (versionNames.has(v.version.toLowerCase())) throw fail(`${vat}/version`, `repeats "${v.version}"`);
        versionNames.add(v.version.toLowerCase());
        return;
      }
      const parsed = parseDotted(v.version);
      if (!parsed || !/^\d+(?:\.\d+)*$/.test(v.version))
        throw fail(`${vat}/version`, `is not a dotted number: "${v.version}"`);
      if (previous && compareDotted(previous, parsed) >= 0)
        throw fail(`${vat}/version`, 'must be greater than the previous version (oldest first)');
      previous = parsed;
    });
    fam.frozenVersions.forEach((f, j) => {
      if (fam.versionScheme === 'dotted' && !parseDotted(f.version))
        throw fail(`${at}/frozenVersions/${j}/version`, `is not a dotted number: "${f.version}"`);
    });
  });

  const browserName = seen('browser');
  const byName = new Map(data.browsers.map((b) => [b.family.toLowerCase(), b]));
  data.browsers.forEach((b, i) => {
    const at = `/browsers/${i}`;
    browserName(b.family, `${at}/family`);
    b.aliases.forEach((a, j) => {
      browserName(a, `${at}/aliases/${j}`);
    });
    if (b.supportEnds !== undefined) day(b.supportEnds, `${at}/supportEnds`);
    let last: { major: number; t: number } | null = null;
    b.releases.forEach((r, j) => {
      const t = day(r.released, `${at}/releases/${j}/released`);
      if (last && (r.major <= last.major || t <= last.t))
        throw fail(`${at}/releases/${j}`, 'must be newer (major and date) than the previous release');
      last = { major: r.major, t };
    });
    b.extendedLines.forEach((l, j) => {
      const lat = `${at}/extendedLines/${j}`;
      const released = day(l.released, `${lat}/released`);
      if (l.supportEnds !== null && day(l.supportEnds, `${lat}/supportEnds`) < released)
        throw fail(`${lat}/supportEnds`, 'is before released');
    });
    if (b.releasesOf !== undefined) {
      const source = byName.get(b.releasesOf.toLowerCase());
      if (!source || source === b || source.releasesOf !== undefined || source.releases.length === 0) {
        throw fail(
          `${at}/releasesOf`,
          `must name another browser of this table that has releases of its own: "${b.releasesOf}"`,
        );
      }
      if (b.releases.length > 0) throw fail(`${at}/releases`, 'must be empty when releasesOf is given');
    } else if (b.lagDays !== undefined) {
      throw fail(`${at}/lagDays`, 'only makes sense with releasesOf');
    }
  });
  return data;
}

/** Reads and validates a data file; a read or JSON failure names the file. */
export function loadOsSupportData(path: string): OsSupportData {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new OsSupportDataError(`cannot read ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new OsSupportDataError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  return parseOsSupportData(raw, path);
}

/** The table shipped with the instance, loaded and validated once, at import. */
export const OS_SUPPORT_DATA: OsSupportData = loadOsSupportData(
  fileURLToPath(new URL('./os-support.data.json', import.meta.url)),
);

// ---------------------------------------------------------------------------------------------------------------
// The verdict
// ---------------------------------------------------------------------------------------------------------------

/** A user-agent value fit for evidence text: printable, short. */
function shown(value: string): string {
  const clean = value.replace(/[^\p{L}\p{N} ._+()/-]/gu, '?').trim();
  return clean.length > 40 ? `${clean.slice(0, 40)}…` : clean || '?';
}

const isoDay = (t: number) => new Date(t).toISOString().slice(0, 10);

/** True once the last supported day has passed. */
function ended(supportEnds: string | null | undefined, now: number): boolean {
  return supportEnds !== null && supportEnds !== undefined && now >= dayStart(supportEnds) + DAY_MS;
}

function findByName<T extends { family: string; aliases: string[] }>(list: readonly T[], name: string): T | undefined {
  const key = name.trim().toLowerCase();
  return list.find((f) => f.family.toLowerCase() === key || f.aliases.some((a) => a.toLowerCase() === key));
}

type OsPart = Pick<DeviceSupportVerdict, 'os' | 'osEvidence'>;
type BrowserPart = Pick<DeviceSupportVerdict, 'browser' | 'browserEvidence'>;

function osVerdict(device: DeviceForSupport, now: number, data: OsSupportData): OsPart {
  const unknown = (osEvidence: string): OsPart => ({ os: 'unknown', osEvidence });
  if (device.type === 'cli') return unknown('command-line client: it reports no operating system');
  if (!device.os?.trim()) return unknown('no operating system recognised in the user agent');
  const fam = findByName(data.operatingSystems, device.os);
  if (!fam) return unknown(`${shown(device.os)} is not in our list of operating systems (data ${data.version})`);
  const name = fam.displayName;
  if (fam.supportEnds !== undefined && ended(fam.supportEnds, now)) {
    return { os: 'unsupported', osEvidence: `${name} (no security updates since ${fam.supportEnds})` };
  }
  const reported = device.osVersion?.trim() ?? '';
  if (fam.userAgentVersion === 'absent')
    return unknown(`${name}: the user agent names neither the distribution nor its release`);
  if (!reported) return unknown(`${name} version not reported`);
  if (fam.userAgentVersion === 'unreliable') {
    return unknown(
      `${name} release not in the user agent (its number ${shown(reported)} is the browser package's version)`,
    );
  }

  const dotted = fam.versionScheme === 'dotted' ? parseDotted(reported) : null;
  const browser = device.browser?.trim().toLowerCase() ?? '';
  const frozen = fam.frozenVersions.find((f) => {
    if (f.exceptBrowsers?.some((b) => b.toLowerCase() === browser)) return false;
    if (fam.versionScheme === 'names') return f.version.toLowerCase() === reported.toLowerCase();
    const fv = parseDotted(f.version);
    return dotted !== null && fv !== null && compareDotted(fv, dotted) === 0;
  });
  if (frozen) return unknown(`${name} version hidden by the browser (${frozen.version} is frozen)`);

  let entry: OsVersion | undefined;
  let olderThanListed = false;
  if (fam.versionScheme === 'names') {
    entry = fam.versions.find((v) => v.version.toLowerCase() === reported.toLowerCase());
    if (!entry) return unknown(`${name} ${shown(reported)} is not in our data (${data.version})`);
  } else {
    if (!dotted) return unknown(`${name} version "${shown(reported)}" not understood`);
    const parsed = fam.versions.map((v) => ({ v, n: parseDotted(v.version) ?? [] }));
    const matching = parsed.filter((p) => covers(p.n, dotted)).sort((a, b) => b.n.length - a.n.length)[0];
    const oldest = parsed[0];
    const newest = parsed[parsed.length - 1];
    if (matching) entry = matching.v;
    else if (oldest && compareDotted(dotted, oldest.n) < 0) {
      entry = oldest.v;
      olderThanListed = true;
    } else if (newest && compareDotted(dotted, newest.n) > 0) {
      return unknown(`${name} ${shown(reported)} is newer than our data (${data.version}): not checked`);
    } else return unknown(`${name} ${shown(reported)} is not in our data (${data.version})`);
  }

  const label = `${name} ${olderThanListed ? shown(reported) : `${entry.version}${entry.codename ? ` ${entry.codename}` : ''}`}`;
  if (!ended(entry.supportEnds, now)) {
    if (olderThanListed) return unknown(`${label} is older than any version in our data (${data.version})`);
    return {
      os: 'supported',
      osEvidence:
        entry.supportEnds === null
          ? `${label} (still receives security updates)`
          : `${label} (security updates until ${entry.supportEnds})`,
    };
  }
  const index = fam.versions.indexOf(entry);
  const newerSupported = fam.versions.slice(index + 1).some((v) => !ended(v.supportEnds, now));
  const endedText = olderThanListed
    ? `older than ${name} ${entry.version}, whose support ended ${entry.supportEnds}`
    : `support ended ${entry.supportEnds}`;
  return newerSupported
    ? { os: 'outdated', osEvidence: `${label} (${endedText})` }
    : { os: 'unsupported', osEvidence: `${label} (${endedText}; no version of ${name} is supported any more)` };
}

/** The releases a browser's schedule rests on (its own, or another's shifted by lagDays). */
function releasesFor(fam: BrowserFamily, data: OsSupportData): { releases: Release[]; lag: number } {
  if (fam.releasesOf === undefined) return { releases: fam.releases, lag: 0 };
  const source = findByName(data.browsers, fam.releasesOf);
  return { releases: source?.releases ?? [], lag: (fam.lagDays ?? 0) * DAY_MS };
}

/** The newest major released on or before `t`; past the listed releases, one more every cadenceDays. */
function newestMajorAt(releases: readonly Release[], lag: number, cadenceDays: number, t: number): number {
  let newest = 0;
  let last: { major: number; at: number } | null = null;
  for (const r of releases) {
    const at = dayStart(r.released) + lag;
    if (at <= t) {
      newest = r.major;
      last = { major: r.major, at };
    }
  }
  const final = releases[releases.length - 1];
  if (last && final && last.major === final.major) {
    newest = final.major + Math.floor((t - last.at) / (cadenceDays * DAY_MS));
  }
  return newest;
}

function browserVerdict(device: DeviceForSupport, now: number, data: OsSupportData): BrowserPart {
  const unknown = (browserEvidence: string): BrowserPart => ({ browser: 'unknown', browserEvidence });
  if (device.type === 'cli') return unknown('command-line client, not a browser');
  if (!device.browser?.trim()) return unknown('no browser recognised in the user agent');
  const fam = findByName(data.browsers, device.browser);
  if (!fam) return unknown(`${shown(device.browser)} is not in our list of browsers (data ${data.version})`);
  const name = fam.displayName ?? fam.family;
  if (fam.supportEnds !== undefined && ended(fam.supportEnds, now)) {
    return { browser: 'outdated', browserEvidence: `${name} (no security updates since ${fam.supportEnds})` };
  }
  const parsed = parseDotted(device.browserVersion ?? '');
  if (!parsed)
    return unknown(
      `${name} version ${device.browserVersion?.trim() ? `"${shown(device.browserVersion)}" not understood` : 'not reported'}`,
    );
  const major = parsed[0] ?? 0;
  const { releases, lag } = releasesFor(fam, data);
  if (releases.length === 0 && fam.extendedLines.length === 0)
    return unknown(`${name} ${major}: no release data for ${name}`);

  const minimum = newestMajorAt(releases, lag, fam.cadenceDays, now - fam.graceDays * DAY_MS);
  const lastListed = releases[releases.length - 1]?.major ?? 0;
  if (releases.length > 0 && major >= minimum) {
    return {
      browser: 'supported',
      browserEvidence:
        major > lastListed
          ? `${name} ${major} (newer than our release data; taken at its word)`
          : `${name} ${major} (current)`,
    };
  }
  const line = fam.extendedLines.find((l) => l.major === major);
  if (line && !ended(line.supportEnds, now)) {
    return {
      browser: 'supported',
      browserEvidence: `${name} ${major} (${line.label}, ${line.supportEnds === null ? 'still receives security updates' : `security updates until ${line.supportEnds}`})`,
    };
  }
  if (line)
    return {
      browser: 'outdated',
      browserEvidence: `${name} ${major} (${line.label} support ended ${line.supportEnds})`,
    };
  return {
    browser: 'outdated',
    browserEvidence: `${name} ${major} (out of date: ${name} patches only recent versions, ${minimum} or later on ${isoDay(now)})`,
  };
}

/**
 * The support verdict for a device's OS and browser on `now`. Pure and total: garbage in, a verdict ('unknown'
 * where nothing can be told) out. `data` defaults to the shipped table.
 */
export function deviceSupport(
  device: DeviceForSupport,
  now: Date,
  data: OsSupportData = OS_SUPPORT_DATA,
): DeviceSupportVerdict {
  const t = now.getTime();
  if (!Number.isFinite(t)) {
    return {
      os: 'unknown',
      osEvidence: 'no valid date to judge support on',
      browser: 'unknown',
      browserEvidence: 'no valid date to judge support on',
      dataVersion: data.version,
    };
  }
  return { ...osVerdict(device, t, data), ...browserVerdict(device, t, data), dataVersion: data.version };
}
