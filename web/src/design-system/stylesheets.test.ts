import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import postcss from 'postcss';
import { expect, test } from 'vitest';

// The tests run from the repository's root (or from web/, by hand); jsdom's import.meta.url is not a file URL.
const SRC = existsSync(join(process.cwd(), 'web', 'src'))
  ? join(process.cwd(), 'web', 'src')
  : join(process.cwd(), 'src');

/** Every stylesheet of the web apps. */
function stylesheets(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? stylesheets(join(dir, e.name)) : e.name.endsWith('.css') ? [join(dir, e.name)] : [],
  );
}

// A rule left unclosed is valid CSS to a browser that nests rules: every rule after it silently applies only inside
// the unclosed one, i.e. nowhere (it hid the styles of the contact, attachment and mail-account screens once). The
// apps write flat CSS: a rule sits at the top level or in an at-rule (@media...), never in another rule.
test('every stylesheet parses, and no rule sits inside another rule', () => {
  const files = stylesheets();
  expect(files.length).toBeGreaterThan(3);
  for (const file of files) {
    const root = postcss.parse(readFileSync(file, 'utf8'), { from: file });
    const nested: string[] = [];
    root.walkRules((rule) => {
      if (rule.parent?.type === 'rule') nested.push(`${rule.selector} (line ${rule.source?.start?.line})`);
    });
    expect(nested, file).toEqual([]);
  }
});
