// deploy/monitoring against the code: every metric the Grafana dashboard and the alert rules
// query is served by a running proxy's /metrics (histogram series by their _bucket/_sum/_count
// names), every label they select or group by is one of that metric's labels, the PromQL
// parses (promtool), and the dashboard imports as is (a datasource input, unique panel ids).
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { metrics } from '../../src/observability/metrics.js';
import { startStack } from '../harness/stack.js';

const run = promisify(execFile);
const root = new URL('../../', import.meta.url).pathname;
const PREFIX = 'oauth2_mail_proxy_';
// Labels Prometheus adds to every scraped series, and the bucket bound of histograms.
const TARGET_LABELS = new Set(['instance', 'job']);

interface Panel { id: number; title: string; datasource: { uid: string }; gridPos: { x: number; w: number }; targets: Array<{ expr: string; datasource: { uid: string } }> }
const dashboard = JSON.parse(readFileSync(`${root}deploy/monitoring/grafana-dashboard.json`, 'utf8')) as {
  uid: string; title: string; __inputs: Array<{ name: string; pluginId: string }>; panels: Panel[];
  templating: { list: Array<{ query: { query: string } }> };
};
const rules = parse(readFileSync(`${root}deploy/monitoring/alerts.rules.yaml`, 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
const queries: Array<{ where: string; expr: string }> = [
  ...dashboard.panels.flatMap((p) => p.targets.map((q) => ({ where: `panel "${p.title}"`, expr: q.expr }))),
  ...dashboard.templating.list.map((v) => ({ where: 'a dashboard variable', expr: v.query.query })),
  ...rules.groups.flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr }))),
];

const promtool = await run('promtool', ['--version']).then(() => true, () => false);
const { proxy } = await startStack(t);
const text = await (await fetch(`http://127.0.0.1:${proxy.server.port('http')}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
const types = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));

/** The family a queried series belongs to (histograms are queried by suffixed names). */
function family(series: string): string | undefined {
  if (types.has(series)) return series;
  const m = /^(.*)_(bucket|sum|count)$/.exec(series);
  return m && ['histogram', 'summary'].includes(types.get(m[1]!) ?? '') ? m[1] : undefined;
}

function labelsOf(name: string): Set<string> {
  const metric = metrics.registry.getSingleMetric(name) as unknown as { labelNames?: string[] } | undefined;
  return new Set([...(metric?.labelNames ?? []), ...TARGET_LABELS, ...(types.get(name) === 'histogram' ? ['le'] : [])]);
}

t.test('every metric the dashboard and the alerts query is in /metrics', async (t) => {
  t.ok(queries.length >= 15, `${queries.length} queries read`);
  const seen = new Set<string>();
  for (const { where, expr } of queries) {
    const used = [...expr.matchAll(new RegExp(`\\b(${PREFIX}\\w+)`, 'g'))].map((m) => m[1]!);
    t.ok(used.length > 0, `${where} queries a proxy metric: ${expr}`);
    for (const series of used) {
      seen.add(family(series) ?? series);
      t.ok(family(series), `${where}: ${series} is served by /metrics`);
    }
  }
  // What the issue asks operators to see: each has a panel or a rule.
  for (const name of ['sessions_active', 'logins_total', 'connections_refused_total', 'idp_request_duration_seconds', 'idp_request_errors_total',
    'token_cache_lookups_total', 'backend_login_duration_seconds', 'spliced_bytes_total', 'tls_certificate_expiry_timestamp_seconds', 'ready']) {
    t.ok(seen.has(PREFIX + name), `${PREFIX}${name} is shown`);
  }
});

t.test('every label selected or grouped by belongs to the metrics of its query', async (t) => {
  for (const { where, expr } of queries) {
    const names = [...expr.matchAll(new RegExp(`\\b(${PREFIX}\\w+)`, 'g'))].map((m) => family(m[1]!)).filter((n): n is string => !!n);
    for (const m of expr.matchAll(new RegExp(`\\b(${PREFIX}\\w+)\\{([^}]*)\\}`, 'g'))) {
      const own = labelsOf(family(m[1]!) ?? '');
      for (const l of m[2]!.matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)) t.ok(own.has(l[1]!), `${where}: ${m[1]} has label ${l[1]}`);
    }
    const any = new Set(names.flatMap((n) => [...labelsOf(n)]));
    for (const g of expr.matchAll(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g)) {
      for (const l of g[1]!.split(',').map((s) => s.trim()).filter(Boolean)) t.ok(any.has(l), `${where}: grouped by ${l}, a label of ${names.join(', ')}`);
    }
  }
  for (const g of rules.groups) {
    for (const r of g.rules as Array<{ alert: string; expr: string; annotations?: Record<string, string> }>) {
      const names = [...r.expr.matchAll(new RegExp(`\\b(${PREFIX}\\w+)`, 'g'))].map((m) => family(m[1]!)).filter((n): n is string => !!n);
      const any = new Set(names.flatMap((n) => [...labelsOf(n)]));
      for (const text of Object.values(r.annotations ?? {})) {
        for (const l of text.matchAll(/\$labels\.(\w+)/g)) t.ok(any.has(l[1]!), `alert ${r.alert}: annotation label ${l[1]}`);
      }
    }
  }
});

t.test('promtool parses the alert rules and every dashboard query', {
  skip: promtool ? false : 'promtool not installed (scripts/install-backend.sh installs it)',
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'omp-monitoring-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await run('promtool', ['check', 'rules', `${root}deploy/monitoring/alerts.rules.yaml`], { timeout: 30_000 });
  t.pass('alerts.rules.yaml: promtool check rules');
  // The dashboard's queries as recording rules, Grafana's variables given values.
  const recorded = dashboard.panels.flatMap((p) => p.targets).map((q, i) => ({
    record: `dashboard:query_${i}`,
    expr: q.expr.replaceAll('$__rate_interval', '5m').replaceAll('$instance', '.*'),
  }));
  writeFileSync(join(dir, 'dashboard.rules.yaml'), stringify({ groups: [{ name: 'dashboard', rules: recorded }] }));
  await run('promtool', ['check', 'rules', join(dir, 'dashboard.rules.yaml')], { timeout: 30_000 })
    .catch((e: Error & { stdout?: string; stderr?: string }) => { throw new Error(`${e.stdout ?? ''}${e.stderr ?? ''}`); });
  t.pass(`${recorded.length} dashboard queries parse`);
});

t.test('the dashboard imports as is: a Prometheus datasource input, unique ids, 24-column layout', async (t) => {
  t.equal(dashboard.uid, 'oauth2-mail-proxy');
  t.match(dashboard.__inputs, [{ name: 'DS_PROMETHEUS', pluginId: 'prometheus' }]);
  const ids = dashboard.panels.map((p) => p.id);
  t.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  for (const p of dashboard.panels) {
    t.equal(p.datasource.uid, '${DS_PROMETHEUS}', `${p.title}: datasource from the import input`);
    t.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title} fits the grid`);
    for (const q of p.targets) t.equal(q.datasource.uid, '${DS_PROMETHEUS}');
  }
});
