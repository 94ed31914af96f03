import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { z } from 'zod';

/** A path of the repository. */
export const repoPath = (relative: string): string =>
  fileURLToPath(new URL(`../../../${relative}`, import.meta.url));

export const readRepoFile = (relative: string): string => readFileSync(repoPath(relative), 'utf8');

export const readYaml = (relative: string): unknown => parse(readRepoFile(relative));

const alertRule = z.object({
  alert: z.string().regex(/^Ctp[A-Za-z]+$/),
  expr: z.string().min(1),
  for: z.string().optional(),
  labels: z.object({ severity: z.enum(['critical', 'warning']) }),
  annotations: z.object({
    summary: z.string().min(1),
    description: z.string().min(1),
    runbook_url: z.string(),
  }),
});
export type AlertRule = z.infer<typeof alertRule>;

const alertRulesFile = z.object({
  groups: z.array(z.object({ name: z.string(), rules: z.array(alertRule).min(1) })).min(1),
});

export function loadAlertRules(): AlertRule[] {
  return alertRulesFile
    .parse(readYaml('deploy/prometheus/alerts.yml'))
    .groups.flatMap((group) => group.rules);
}

const target = z.object({ refId: z.string(), expr: z.string().min(1), datasource: z.unknown() });
const panel = z.object({
  id: z.number().int().positive(),
  type: z.string(),
  title: z.string().min(1),
  gridPos: z.object({
    x: z.number().int().min(0),
    y: z.number().int().min(0),
    w: z.number().int().min(1).max(24),
    h: z.number().int().min(1),
  }),
  datasource: z.object({ type: z.literal('prometheus'), uid: z.string() }).optional(),
  targets: z.array(target).optional(),
});

/** The part of Grafana's dashboard model the provisioned file must have. */
export const dashboardShape = z.object({
  uid: z.string().min(1).max(40),
  title: z.string().min(1),
  schemaVersion: z.number().int(),
  panels: z.array(panel).min(1),
  templating: z.object({
    list: z.array(z.object({ name: z.string(), type: z.string(), query: z.unknown().optional() })),
  }),
});

export function loadDashboard(): z.infer<typeof dashboardShape> {
  return dashboardShape.parse(JSON.parse(readRepoFile('deploy/grafana/ctp.json')));
}

/** Every PromQL expression of the dashboard, with Grafana's interval variables made plain PromQL. */
export function dashboardExpressions(): { panel: string; expr: string }[] {
  return loadDashboard().panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({
      panel: p.title,
      expr: t.expr.replaceAll(/\$__(rate_)?interval/g, '5m'),
    })),
  );
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'by', 'without', 'on', 'ignoring', 'offset']);

/**
 * The metric names a PromQL expression selects. PromQL has no parser in this repository's
 * dependencies, so this reads the grammar's few shapes: strings, label matchers `{...}`, ranges
 * `[...]` and label lists (`by (...)`, `on (...)`, `group_left (...)`) are removed, a name
 * followed by `(` is a function or an aggregation, what is left is a metric name (or a keyword or
 * a number). Its own test pins it to known expressions.
 */
export function metricNamesIn(expr: string): string[] {
  const plain = expr
    .replaceAll(/"(?:[^"\\]|\\.)*"/g, '""')
    .replaceAll(/\{[^}]*\}/g, ' ')
    .replaceAll(/\[[^\]]*\]/g, ' ')
    .replaceAll(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const match of plain.matchAll(/(?<![A-Za-z0-9_:.])[A-Za-z_:][A-Za-z0-9_:]*(?=\s*(\()?)/g)) {
    const [name, call] = [match[0], match[1]];
    if (call !== undefined || KEYWORDS.has(name) || /^(group_left|group_right)$/.test(name)) continue;
    names.add(name);
  }
  return [...names].sort();
}
