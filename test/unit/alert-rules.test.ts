// The rule files' shape, without Prometheus: every alert says what happened and where its runbook is, and the
// runbook entry exists; the reader that the metrics check uses finds metric and label names, and nothing else.
// (promtool checks and unit-tests the rules themselves: npm run test:rules.)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../../src/temporal/binaries';
import { readsOf } from '../helpers/promql';

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rules = (parse(readFileSync(join(PROJECT_ROOT, 'deploy', 'prometheus', 'rules.yml'), 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const alerts = rules.filter((r) => r.alert);

test('every alert has a severity, a summary and a runbook entry that exists in docs/operations.md', () => {
  const doc = readFileSync(join(PROJECT_ROOT, 'docs', 'operations.md'), 'utf8');
  // GitHub's anchors: the heading, lower-cased, spaces to dashes, punctuation dropped.
  const anchors = new Set(
    [...doc.matchAll(/^#+ (.+)$/gm)].map((m) =>
      (m[1] as string)
        .toLowerCase()
        .replace(/[^\w\s-]/g, '')
        .replace(/\s+/g, '-'),
    ),
  );
  expect(alerts.length).toBeGreaterThanOrEqual(13);
  for (const alert of alerts) {
    expect([alert.alert, alert.labels?.severity]).toEqual([alert.alert, expect.stringMatching(/^(page|ticket)$/)]);
    expect(alert.annotations?.summary).toBeTruthy();
    const anchor = /^docs\/operations\.md#([\w-]+): /.exec(alert.annotations?.runbook ?? '')?.[1];
    expect([alert.alert, anchor && anchors.has(anchor)]).toEqual([alert.alert, true]);
  }
  // And the table of alerts in the docs names exactly the file's.
  const table = doc.slice(doc.indexOf('### Alerts:'), doc.indexOf('\n#### '));
  const documented = [...table.matchAll(/^\| `([A-Za-z]+)` \|/gm)].map((m) => m[1]);
  expect(documented.sort()).toEqual(alerts.map((a) => a.alert).sort());
});

test('the rules reader finds metric and label names, and nothing else', () => {
  expect(readsOf('sum by (system) (rate(a_count{status=~"timeout|5..", le="+Inf"}[10m])) / on () group_left max without (instance, job) (b) > 0.05 and c offset 5m')).toEqual({
    metrics: ['a_count', 'b', 'c'],
    labels: ['status', 'le', 'system'],
  });
  expect(readsOf('time() - max(x_seconds) > 26 * 3600')).toEqual({ metrics: ['x_seconds'], labels: [] });
});
