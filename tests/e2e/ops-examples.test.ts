/**
 * Issue #18 item 4/5: the deployment and monitoring examples in docs/ops/ stay true. The systemd units pass
 * `systemd-analyze verify` without a warning; the alert rules, the Grafana dashboard and the Kubernetes manifest parse,
 * and every metric they use is one docs/ops/metrics.md documents (itself checked against a live /metrics by
 * metrics-documented.test.ts). The Containerfile copies only workspaces that exist. (The container image and the
 * Kubernetes manifest are not run on the project's machines.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { realComponent } from '../support/real-component.ts';
import { ROOT } from '../support/process.ts';

const OPS = join(ROOT, 'docs/ops');
const read = (file: string) => readFileSync(join(OPS, file), 'utf8');
const systemdAnalyze = realComponent('systemd-analyze', 'systemd');

/** Documented names and families (`…*`) of docs/ops/metrics.md. */
function documentedMetrics(): { names: Set<string>; families: string[] } {
  const all = [...read('metrics.md').matchAll(/^\| `(caliopen_[a-z0-9_]+\*?)`/gm)].map((m) => m[1]!);
  return {
    names: new Set(all.filter((n) => !n.endsWith('*'))),
    families: all.filter((n) => n.endsWith('*')).map((n) => n.slice(0, -1)),
  };
}

/** The metric names a PromQL text uses (histogram series reduced to their metric). */
function metricsIn(promql: string): string[] {
  return [...promql.matchAll(/\bcaliopen_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, ''));
}

function assertDocumented(used: string[], where: string) {
  const { names, families } = documentedMetrics();
  const unknown = [...new Set(used)].filter((n) => !names.has(n) && !families.some((f) => n.startsWith(f)));
  assert.deepEqual(unknown, [], `${where} uses metrics docs/ops/metrics.md does not document`);
  assert.ok(used.length > 0, `${where} uses metrics`);
}

test.skipIf(systemdAnalyze.skip)('the systemd units verify without a warning', () => {
  for (const unit of ['systemd/caliopen-instance.service', 'systemd/caliopen-registry.service']) {
    const r = spawnSync(systemdAnalyze.path, ['verify', join(OPS, unit)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(`${r.stdout}${r.stderr}`.trim(), '', `${unit}: systemd-analyze said something`);
    const text = read(unit);
    for (const hardening of ['ProtectSystem=strict', 'NoNewPrivileges=yes', 'PrivateTmp=yes', 'ProtectHome=yes'])
      assert.match(text, new RegExp(`^${hardening}$`, 'm'), `${unit} sets ${hardening}`);
  }
});

test('the alert rules parse and use documented metrics only', () => {
  const rules = parse(read('alerts.rules.yml')) as {
    groups: { name: string; rules: { alert: string; expr: string; labels: { severity: string } }[] }[];
  };
  const all = rules.groups.flatMap((g) => g.rules);
  assert.ok(all.length >= 8);
  for (const r of all) {
    assert.match(r.alert, /^Caliopen[A-Za-z]+$/);
    assert.ok(['info', 'warning', 'critical'].includes(r.labels.severity), r.alert);
  }
  assertDocumented(
    all.flatMap((r) => metricsIn(r.expr)),
    'alerts.rules.yml',
  );
});

test('the Grafana dashboard parses and uses documented metrics only', () => {
  const dashboard = JSON.parse(read('grafana-dashboard.json')) as { panels: { targets: { expr: string }[] }[] };
  assert.ok(dashboard.panels.length >= 10);
  assertDocumented(
    dashboard.panels.flatMap((p) => p.targets.flatMap((t) => metricsIn(t.expr))),
    'grafana-dashboard.json',
  );
});

test('the Kubernetes manifest parses, and the Containerfile copies workspaces that exist', () => {
  const docs = parseAllDocuments(read('kubernetes/instance-scaled-out.yaml'));
  for (const d of docs) assert.deepEqual(d.errors, []);
  const kinds = docs.map((d) => (d.toJS() as { kind: string }).kind);
  assert.deepEqual(kinds, ['Namespace', 'ConfigMap', 'StatefulSet', 'Service', 'PodDisruptionBudget']);
  const copies = [...read('Containerfile').matchAll(/^COPY (\S+\/package\.json) /gm)].map((m) => m[1]!);
  assert.ok(copies.length >= 5);
  for (const file of copies) assert.ok(existsSync(join(ROOT, file)), `${file} exists`);
  const workspaces = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] })
    .workspaces;
  for (const w of workspaces) assert.ok(copies.includes(`${w}/package.json`), `the Containerfile copies ${w}`);
});
