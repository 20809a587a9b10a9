import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'vitest';
import fc from 'fast-check';
import {
  BROWSER_VERDICT_RANK,
  OS_SUPPORT_DATA,
  OS_VERDICT_RANK,
  OsSupportDataError,
  deviceSupport,
  loadOsSupportData,
  parseOsSupportData,
  type DeviceForSupport,
} from './os-support.ts';
import { parseUserAgent } from './user-agent.ts';

const TODAY = new Date('2026-11-22T10:00:00Z');
const at = (day: string) => new Date(`${day}T12:00:00Z`);
const verdict = (ua: string, now = TODAY) => deviceSupport(parseUserAgent(ua), now);
const clone = () => structuredClone(OS_SUPPORT_DATA) as unknown as Record<string, any>;

const UA = {
  win7Chrome109:
    'Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36',
  win10Chrome: (major: number) =>
    `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${major}.0.0.0 Safari/537.36`,
  winXpFirefox52: 'Mozilla/5.0 (Windows NT 5.1; rv:52.0) Gecko/20100101 Firefox/52.0',
  win10FirefoxEsr: (major: number) =>
    `Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:${major}.0) Gecko/20100101 Firefox/${major}.0`,
  win10Edge: (major: number) =>
    `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${major}.0.0.0 Safari/537.36 Edg/${major}.0.0.0`,
  win7Ie11: 'Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko',
  macSafari26:
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.1 Safari/605.1.15',
  macFirefox: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:158.0) Gecko/20100101 Firefox/158.0',
  macHighSierra:
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_13_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.2 Safari/605.1.15',
  iphoneIos26:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.0 Mobile/15E148 Safari/604.1',
  iphoneIos18:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 18_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.7 Mobile/15E148 Safari/604.1',
  ipadIos17:
    'Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.7 Mobile/15E148 Safari/604.1',
  androidChromeReduced:
    'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/155.0.0.0 Mobile Safari/537.36',
  androidFirefox: (android: string, major = 158) =>
    `Mozilla/5.0 (Android ${android}; Mobile; rv:${major}.0) Gecko/${major}.0 Firefox/${major}.0`,
  androidKitKatStock:
    'Mozilla/5.0 (Linux; U; Android 4.4.2; en-us; GT-I9505 Build/KOT49H) AppleWebKit/534.30 (KHTML, like Gecko) Version/4.0 Mobile Safari/534.30',
  linuxChrome: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/155.0.0.0 Safari/537.36',
  debianOldFirefox:
    'Mozilla/5.0 (X11; U; Linux i686; en-US; rv:1.9.0.3) Gecko/2008092416 Firefox/3.0.3 (Debian-3.0.3-1)',
  ubuntuMaverick:
    'Mozilla/5.0 (X11; U; Linux x86_64; en-US) AppleWebKit/534.16 (KHTML, like Gecko) Ubuntu/10.10 Chromium/10.0.648.133 Chrome/10.0.648.133 Safari/534.16',
  chromeOs:
    'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/155.0.0.0 Safari/537.36',
  windowsPhone:
    'Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/52.0.2743.116 Mobile Safari/537.36 Edge/15.14977',
  blackberry:
    'Mozilla/5.0 (BlackBerry; U; BlackBerry 9900; en) AppleWebKit/534.11+ (KHTML, like Gecko) Version/7.1.0.346 Mobile Safari/534.11+',
  samsungInternet:
    'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/28.0 Chrome/130.0.0.0 Mobile Safari/537.36',
};

describe('the shipped table', () => {
  test('loads, is versioned, and every family cites its sources', () => {
    assert.equal(OS_SUPPORT_DATA.version, '2026.11');
    for (const fam of [...OS_SUPPORT_DATA.operatingSystems, ...OS_SUPPORT_DATA.browsers]) {
      assert.ok(fam.sources.length > 0 && fam.sources.every((s) => s.startsWith('https://')), fam.family);
    }
    const families = OS_SUPPORT_DATA.operatingSystems.map((f) => f.family);
    for (const required of [
      'Windows',
      'Mac OS',
      'iOS',
      'Android',
      'Ubuntu',
      'Debian',
      'Fedora',
      'Linux',
      'Chromium OS',
    ]) {
      assert.ok(families.includes(required), required);
    }
  });

  test('records the dates the task relies on', () => {
    const windows = OS_SUPPORT_DATA.operatingSystems.find((f) => f.family === 'Windows')!;
    assert.equal(windows.versions.find((v) => v.version === '10')?.supportEnds, '2025-10-14');
    assert.match(windows.versions.find((v) => v.version === '10')?.note ?? '', /2026-10-13/);
    assert.equal(windows.versions.find((v) => v.version === '7')?.supportEnds, '2020-01-14');
    assert.deepEqual(
      windows.frozenVersions.map((f) => f.version),
      ['10'],
    );
  });
});

describe('the validator', () => {
  const rejects = (mutate: (d: Record<string, any>) => void, message: RegExp) => {
    const d = clone();
    mutate(d);
    assert.throws(
      () => parseOsSupportData(d),
      (e: unknown) => e instanceof OsSupportDataError && message.test(e.message),
    );
  };

  test('accepts the shipped table as it is', () => {
    assert.doesNotThrow(() => parseOsSupportData(clone()));
  });

  test('rejects malformed tables with a message naming the place', () => {
    assert.throws(() => parseOsSupportData(null), OsSupportDataError);
    assert.throws(() => parseOsSupportData([]), OsSupportDataError);
    rejects((d) => (d.version = 'latest'), /\/version/);
    rejects((d) => (d.extra = true), /\(root\)|extra/);
    rejects(
      (d) => (d.operatingSystems[0].versions[0].supportEnds = '2026-02-30'),
      /operatingSystems\/0\/versions\/0\/supportEnds is not a real calendar day/,
    );
    rejects(
      (d) => (d.operatingSystems[0].versions[0].released = '1995/08/24'),
      /operatingSystems\/0\/versions\/0\/released/,
    );
    rejects((d) => (d.operatingSystems[0].versions[1].supportEnds = '1990-01-01'), /supportEnds is before released/);
    rejects((d) => (d.operatingSystems[0].sources = ['http://insecure.example']), /operatingSystems\/0\/sources/);
    rejects((d) => (d.operatingSystems[0].sources = []), /operatingSystems\/0\/sources/);
    rejects((d) => d.operatingSystems[1].aliases.push('windows'), /repeats the operating system name "windows"/);
    rejects((d) => d.operatingSystems[0].versions.push({ ...d.operatingSystems[0].versions[0] }), /repeats "95"/);
    rejects((d) => d.operatingSystems[1].versions.reverse(), /must be greater than the previous version/);
    rejects((d) => (d.operatingSystems[1].versions[0].version = '10.x'), /is not a dotted number/);
    rejects(
      (d) => (d.operatingSystems[1].frozenVersions[0].version = 'frozen'),
      /frozenVersions\/0\/version is not a dotted number/,
    );
    rejects((d) => (d.operatingSystems[1].versions[0].confidence = 'high'), /confidence/);
    rejects((d) => d.browsers[0].releases.reverse(), /must be newer \(major and date\)/);
    rejects((d) => (d.browsers[1].releasesOf = 'Netscape'), /releasesOf must name another browser/);
    rejects((d) => (d.browsers[1].releasesOf = 'Edge'), /releasesOf must name another browser/);
    rejects((d) => (d.browsers[0].lagDays = 3), /lagDays only makes sense with releasesOf/);
    rejects((d) => (d.browsers[0].graceDays = -1), /graceDays/);
    rejects((d) => d.browsers[2].aliases.push('Chrome'), /repeats the browser name "Chrome"/);
  });

  test('a file that cannot be read or parsed is named in the error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'os-support-'));
    try {
      const bad = join(dir, 'bad.json');
      writeFileSync(bad, '{ "version": ');
      assert.throws(
        () => loadOsSupportData(bad),
        (e: unknown) => e instanceof OsSupportDataError && e.message.includes(bad) && /not valid JSON/.test(e.message),
      );
      assert.throws(
        () => loadOsSupportData(join(dir, 'missing.json')),
        (e: unknown) => e instanceof OsSupportDataError && /cannot read/.test(e.message),
      );
      const wrong = join(dir, 'wrong.json');
      writeFileSync(wrong, JSON.stringify({ ...clone(), version: 7 }));
      assert.throws(
        () => loadOsSupportData(wrong),
        (e: unknown) => e instanceof OsSupportDataError && e.message.startsWith(`${wrong}: /version`),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('verdicts for real user agents on 2026-11-22', () => {
  test('an old Windows with an old Chrome is outdated on both counts', () => {
    const v = verdict(UA.win7Chrome109);
    assert.equal(v.os, 'outdated');
    assert.equal(v.osEvidence, 'Windows 7 (support ended 2020-01-14)');
    assert.equal(v.browser, 'outdated');
    assert.match(v.browserEvidence, /^Chrome 109 \(out of date/);
    assert.equal(v.dataVersion, '2026.11');
    assert.equal(verdict(UA.winXpFirefox52).os, 'outdated');
  });

  test('"Windows NT 10.0" is Windows 10 or 11: unknown, never outdated, at any date', () => {
    for (const day of ['2024-01-01', '2026-11-22', '2035-01-01']) {
      const v = verdict(UA.win10Chrome(155), at(day));
      assert.equal(v.os, 'unknown', day);
      assert.equal(v.osEvidence, 'Windows version hidden by the browser (10 is frozen)');
    }
    assert.equal(verdict(UA.win10Chrome(155)).browser, 'supported');
  });

  test('frozen macOS versions are unknown; a trustworthy old one is outdated', () => {
    const safari = verdict(UA.macSafari26);
    assert.equal(safari.os, 'unknown');
    assert.equal(safari.osEvidence, 'macOS version hidden by the browser (10.15.7 is frozen)');
    assert.equal(safari.browser, 'supported');
    const firefox = verdict(UA.macFirefox);
    assert.equal(firefox.os, 'unknown');
    assert.match(firefox.osEvidence, /10\.15 is frozen/);
    assert.equal(firefox.browser, 'supported');
    const highSierra = verdict(UA.macHighSierra);
    assert.equal(highSierra.os, 'outdated');
    assert.equal(highSierra.osEvidence, 'macOS 10.13 High Sierra (support ended 2020-12-01)');
    assert.equal(highSierra.browser, 'outdated');
  });

  test('iOS: 18_6 is frozen on iOS 26, a real 18.7 is still patched, 17 is outdated', () => {
    const ios26 = verdict(UA.iphoneIos26);
    assert.equal(ios26.os, 'unknown');
    assert.match(ios26.osEvidence, /18\.6 is frozen/);
    assert.equal(ios26.browser, 'supported');
    const ios18 = verdict(UA.iphoneIos18);
    assert.deepEqual([ios18.os, ios18.browser], ['supported', 'supported']);
    assert.equal(ios18.osEvidence, 'iOS 18 (still receives security updates)');
    const ipad17 = verdict(UA.ipadIos17);
    assert.deepEqual([ipad17.os, ipad17.browser], ['outdated', 'outdated']);
  });

  test('Android: Chrome\'s "Android 10; K" is unknown, but Firefox reports the real version', () => {
    const chrome = verdict(UA.androidChromeReduced);
    assert.equal(chrome.os, 'unknown');
    assert.match(chrome.osEvidence, /Android version hidden by the browser \(10 is frozen\)/);
    assert.equal(chrome.browser, 'supported');
    assert.equal(verdict(UA.samsungInternet).os, 'unknown');
    assert.equal(verdict(UA.samsungInternet).browser, 'unknown');
    const firefox10 = verdict(UA.androidFirefox('10'));
    assert.equal(firefox10.os, 'outdated');
    assert.equal(firefox10.osEvidence, 'Android 10 (support ended 2023-03-06)');
    const firefox15 = verdict(UA.androidFirefox('15'));
    assert.deepEqual([firefox15.os, firefox15.browser], ['supported', 'supported']);
    const kitkat = verdict(UA.androidKitKatStock);
    assert.deepEqual([kitkat.os, kitkat.browser], ['outdated', 'outdated']);
  });

  test('dead platforms are unsupported whatever the version', () => {
    const wp = verdict(UA.windowsPhone);
    assert.equal(wp.os, 'unsupported');
    assert.equal(wp.osEvidence, 'Windows Phone (no security updates since 2020-01-14)');
    assert.equal(verdict(UA.blackberry).os, 'unsupported');
    assert.equal(verdict(UA.win7Ie11).browser, 'outdated');
    assert.match(verdict(UA.win7Ie11).browserEvidence, /Internet Explorer/);
  });

  test('what the user agent cannot tell stays unknown', () => {
    const linux = verdict(UA.linuxChrome);
    assert.equal(linux.os, 'unknown');
    assert.match(linux.osEvidence, /neither the distribution nor its release/);
    const debian = verdict(UA.debianOldFirefox);
    assert.equal(debian.os, 'unknown', 'the number after "Debian" is the package version, not Debian 3.0');
    assert.match(debian.osEvidence, /browser package's version/);
    const cros = verdict(UA.chromeOs);
    assert.equal(cros.os, 'unknown');
    assert.match(cros.osEvidence, /ChromeOS version hidden by the browser \(14541\.0\.0 is frozen\)/);
    const cli = verdict('caliopen-cli/0.1.0');
    assert.deepEqual([cli.os, cli.browser], ['unknown', 'unknown']);
    const none = verdict('');
    assert.deepEqual([none.os, none.browser], ['unknown', 'unknown']);
  });

  test('a release older than the table is outdated when the oldest listed one has ended', () => {
    const v = verdict(UA.ubuntuMaverick);
    assert.equal(v.os, 'outdated');
    assert.equal(v.osEvidence, 'Ubuntu 10.10 (older than Ubuntu 14.04, whose support ended 2019-04-30)');
  });

  test('Firefox ESR lines count while they are maintained', () => {
    const esr140 = verdict(UA.win10FirefoxEsr(140));
    assert.equal(esr140.browser, 'supported');
    assert.match(esr140.browserEvidence, /ESR 140/);
    assert.equal(verdict(UA.win10FirefoxEsr(115)).browser, 'outdated');
    assert.equal(verdict(UA.win10FirefoxEsr(115), at('2025-06-01')).browser, 'supported');
    assert.equal(
      verdict(UA.win10FirefoxEsr(139), at('2025-12-01')).browser,
      'outdated',
      'a plain release is not an ESR line',
    );
  });

  test("Edge follows Chrome's schedule", () => {
    assert.equal(verdict(UA.win10Edge(155)).browser, 'supported');
    assert.equal(verdict(UA.win10Edge(140)).browser, 'outdated');
    assert.equal(verdict(UA.win10Edge(140), at('2025-10-01')).browser, 'supported');
  });
});

describe('the passage of time', () => {
  test('the same device gets worse, never better', () => {
    const firefox13 = UA.androidFirefox('13', 146);
    assert.equal(verdict(firefox13, at('2026-01-01')).os, 'supported');
    assert.equal(verdict(firefox13, at('2026-03-02')).os, 'supported', 'the last day of support is still supported');
    assert.equal(verdict(firefox13, at('2026-03-03')).os, 'outdated');
    assert.equal(verdict(firefox13, at('2026-01-01')).browser, 'supported');
    assert.equal(verdict(firefox13, TODAY).browser, 'outdated');

    const chrome142 = UA.win10Chrome(142);
    assert.equal(verdict(chrome142, at('2025-11-15')).browser, 'supported');
    assert.equal(verdict(chrome142, TODAY).browser, 'outdated');
  });

  test('past the listed releases, browsers keep ageing at the vendor cadence', () => {
    // Chrome 149 is the last listed release (2026-06-02); a year later it must not still pass.
    assert.equal(verdict(UA.win10Chrome(149), at('2026-07-01')).browser, 'supported');
    const later = verdict(UA.win10Chrome(149), at('2027-06-01'));
    assert.equal(later.browser, 'outdated');
    assert.match(later.browserEvidence, /160 or later on 2027-06-01/);
  });

  test('versions newer than the table: a browser is taken at its word, an OS is not checked', () => {
    const chrome = verdict(UA.win10Chrome(170));
    assert.equal(chrome.browser, 'supported');
    assert.match(chrome.browserEvidence, /newer than our release data/);
    const android = verdict(UA.androidFirefox('30'));
    assert.equal(android.os, 'unknown');
    assert.match(android.osEvidence, /newer than our data \(2026\.11\)/);
  });

  test('a family whose every version has ended is unsupported, not merely outdated', () => {
    const d = clone();
    d.operatingSystems.push({
      family: 'Gone OS',
      displayName: 'Gone OS',
      aliases: [],
      versionScheme: 'dotted',
      userAgentVersion: 'reliable',
      policy: 'A test family.',
      sources: ['https://example.org/gone'],
      frozenVersions: [],
      versions: [
        { version: '1', released: '2010-01-01', supportEnds: '2012-01-01' },
        { version: '2', released: '2011-01-01', supportEnds: '2014-01-01' },
      ],
    });
    const data = parseOsSupportData(d);
    const device = { os: 'Gone OS', osVersion: '1.3', browser: null, browserVersion: null, type: 'desktop' };
    assert.equal(deviceSupport(device, at('2011-06-01'), data).os, 'supported');
    assert.equal(deviceSupport(device, at('2013-01-01'), data).os, 'outdated');
    const gone = deviceSupport(device, at('2015-01-01'), data);
    assert.equal(gone.os, 'unsupported');
    assert.match(gone.osEvidence, /no version of Gone OS is supported any more/);
  });
});

describe('hostile input', () => {
  test('garbage fields give unknown, with short printable evidence', () => {
    const cases: DeviceForSupport[] = [
      { os: '__proto__', osVersion: 'constructor', browser: 'toString', browserVersion: '1', type: 'desktop' },
      {
        os: 'Android',
        osVersion: '99999999999999999999.1',
        browser: 'Chrome',
        browserVersion: '9'.repeat(50),
        type: 'mobile',
      },
      { os: 'Windows', osVersion: '\u0000\u001b[31mXP', browser: 'Firefox', browserVersion: 'x.y', type: 'desktop' },
      { os: 'Mac OS', osVersion: '10.15.7.1.2.3.4.5.6', browser: 'Safari', browserVersion: '', type: 'desktop' },
      { os: 'x'.repeat(100_000), osVersion: '1'.repeat(100_000), browser: '\u202e', browserVersion: '-1', type: '' },
    ];
    for (const device of cases) {
      const v = deviceSupport(device, TODAY);
      assert.equal(v.os, 'unknown', JSON.stringify(v));
      assert.equal(v.browser, 'unknown', JSON.stringify(v));
      for (const text of [v.osEvidence, v.browserEvidence]) {
        assert.ok(text.length > 0 && text.length < 200, text);
        assert.doesNotMatch(text, /[\u0000-\u001f\u007f\u202e]/);
      }
    }
    assert.equal(deviceSupport(cases[0]!, new Date(Number.NaN)).os, 'unknown');
  });
});

describe('properties', () => {
  const os = OS_SUPPORT_DATA.operatingSystems;
  const knownOs = os.flatMap((f) => [f.family, ...f.aliases]);
  const knownOsVersions = os.flatMap((f) => [
    ...f.versions.map((v) => v.version),
    ...f.frozenVersions.map((v) => v.version),
  ]);
  const knownBrowsers = OS_SUPPORT_DATA.browsers.flatMap((b) => [b.family, ...b.aliases]);
  const text = fc.string({ unit: 'binary', maxLength: 40 });
  const device = fc.record({
    os: fc.option(fc.oneof(fc.constantFrom(...knownOs), text), { nil: null }),
    osVersion: fc.option(
      fc.oneof(
        fc.constantFrom(...knownOsVersions),
        fc.array(fc.nat(40), { minLength: 1, maxLength: 4 }).map((n) => n.join('.')),
        text,
      ),
      { nil: null },
    ),
    browser: fc.option(fc.oneof(fc.constantFrom(...knownBrowsers), text), { nil: null }),
    browserVersion: fc.option(
      fc.oneof(
        fc.integer({ min: 0, max: 200 }).map((n) => `${n}.0`),
        text,
      ),
      { nil: null },
    ),
    type: fc.constantFrom('desktop', 'mobile', 'tablet', 'cli', 'unknown'),
  });
  const date = fc.date({
    min: new Date('2010-01-01T00:00:00Z'),
    max: new Date('2036-01-01T00:00:00Z'),
    noInvalidDate: true,
  });

  test('any device and any date give a verdict, never an exception', () => {
    fc.assert(
      fc.property(device, date, (d, now) => {
        const v = deviceSupport(d, now);
        assert.ok(v.os in OS_VERDICT_RANK && v.browser in BROWSER_VERDICT_RANK);
        assert.ok(v.osEvidence.length > 0 && v.browserEvidence.length > 0);
        assert.equal(v.dataVersion, OS_SUPPORT_DATA.version);
      }),
      { numRuns: 2000 },
    );
  });

  test('arbitrary user-agent strings go through the parser and the verdict without throwing', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), date, (ua, now) => {
        deviceSupport(parseUserAgent(ua), now);
      }),
      { numRuns: 1000 },
    );
  });

  test('a later date never improves the verdict', () => {
    fc.assert(
      fc.property(device, date, date, (d, a, b) => {
        const [early, late] = a <= b ? [a, b] : [b, a];
        const before = deviceSupport(d, early);
        const after = deviceSupport(d, late);
        assert.ok(
          OS_VERDICT_RANK[after.os] <= OS_VERDICT_RANK[before.os],
          `${before.osEvidence} -> ${after.osEvidence}`,
        );
        assert.ok(
          BROWSER_VERDICT_RANK[after.browser] <= BROWSER_VERDICT_RANK[before.browser],
          `${before.browserEvidence} -> ${after.browserEvidence}`,
        );
      }),
      { numRuns: 3000 },
    );
  });
});
