// What the alerting rules read from the workers: the metric names and label names of their PromQL expressions.
// A small reader of the expression language, enough for the rule files: strings, label matchers, grouping
// clauses, ranges, numbers, function calls and keywords are told apart from metric names.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan']);
/** Labels Prometheus adds on scraping, not the worker. */
const SCRAPE_LABELS = new Set(['instance', 'job']);

export interface RuleReads {
  rule: string;
  metrics: string[];
  /** Label names the expression matches on or groups by (scrape-time labels aside). */
  labels: string[];
}

export function readsOf(expr: string): { metrics: string[]; labels: string[] } {
  const labels = new Set<string>();
  let rest = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
  rest = rest.replace(/\{([^}]*)\}/g, (_m, inner: string) => {
    for (const m of inner.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)) labels.add(m[1] as string);
    return ' ';
  });
  rest = rest.replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_m, inner: string) => {
    for (const name of inner.split(',').map((n) => n.trim())) if (name) labels.add(name);
    return ' ';
  });
  rest = rest.replace(/\[[^\]]*\]/g, ' ').replace(/(?<![\w:])\d[\w.]*/g, ' '); // ranges, numbers, durations
  const metrics = new Set<string>();
  for (const m of rest.matchAll(/([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
    const [, name, call] = m as unknown as [string, string, string | undefined];
    if (call || KEYWORDS.has(name.toLowerCase())) continue;
    metrics.add(name);
  }
  for (const l of SCRAPE_LABELS) labels.delete(l);
  return { metrics: [...metrics], labels: [...labels] };
}

/** Every alerting and recording rule of a rule file, with what it reads; series recorded by the file itself aside. */
export function ruleReads(file: string): RuleReads[] {
  const doc = parse(readFileSync(file, 'utf8')) as { groups: { rules: { alert?: string; record?: string; expr: string }[] }[] };
  const rules = doc.groups.flatMap((g) => g.rules);
  const recorded = new Set(rules.flatMap((r) => (r.record ? [r.record] : [])));
  return rules.map((r) => {
    const { metrics, labels } = readsOf(String(r.expr));
    return { rule: r.alert ?? r.record ?? '?', metrics: metrics.filter((m) => !recorded.has(m)), labels };
  });
}
