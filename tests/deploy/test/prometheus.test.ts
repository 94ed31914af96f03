import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadAlertRules, readRepoFile, readYaml, repoPath } from '../src/files.ts';
import { promtool, promtoolOrSkip } from '../src/promtool.ts';

const ruleTests = z.object({
  rule_files: z.array(z.string()),
  tests: z.array(
    z.object({
      name: z.string(),
      alert_rule_test: z.array(z.object({ alertname: z.string(), exp_alerts: z.array(z.unknown()) })),
    }),
  ),
});

/** GitHub's anchor of a Markdown heading. */
const anchorOf = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replaceAll(/[^a-z0-9 _-]/g, '')
    .replaceAll(' ', '-');

describe('deploy/prometheus', () => {
  it('has alert rules that promtool accepts', async (ctx) => {
    const tool = await promtoolOrSkip(ctx);
    const result = await promtool(tool, ['check', 'rules', repoPath('deploy/prometheus/alerts.yml')]);
    expect(result.output).toContain('SUCCESS');
    expect(result.code).toBe(0);
  });

  it('has alerts that fire on their fixtures and stay silent on the others (promtool test rules)', async (ctx) => {
    const tool = await promtoolOrSkip(ctx);
    const result = await promtool(tool, ['test', 'rules', repoPath('deploy/prometheus/alerts.test.yml')]);
    expect(result.output).toContain('SUCCESS');
    expect(result.code).toBe(0);
  });

  it('has a scrape config that promtool accepts, loading the alert rules', async (ctx) => {
    const tool = await promtoolOrSkip(ctx);
    const result = await promtool(tool, ['check', 'config', repoPath('deploy/prometheus/prometheus.yml')]);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toMatch(/alerts\.yml\s+SUCCESS: \d+ rules found/);
  });

  it('has, for every alert, a fixture where it fires and one where it stays silent', () => {
    const fixtures = ruleTests.parse(readYaml('deploy/prometheus/alerts.test.yml'));
    expect(fixtures.rule_files).toEqual(['alerts.yml']);
    const cases = fixtures.tests.flatMap((test) => test.alert_rule_test);
    const uncovered = loadAlertRules().flatMap((rule) => {
      const own = cases.filter((c) => c.alertname === rule.alert);
      return [
        ...(own.some((c) => c.exp_alerts.length > 0) ? [] : [`${rule.alert}: no fixture where it fires`]),
        ...(own.some((c) => c.exp_alerts.length === 0)
          ? []
          : [`${rule.alert}: no fixture where it stays silent`]),
      ];
    });
    expect(uncovered).toEqual([]);
  });

  it('links every alert to a section of docs/runbook.md that exists', () => {
    const anchors = new Set(
      readRepoFile('docs/runbook.md')
        .split('\n')
        .filter((line) => /^#{2,3} /.test(line))
        .map((line) => anchorOf(line.replace(/^#+ /, ''))),
    );
    const broken = loadAlertRules()
      .map((rule) => ({ alert: rule.alert, url: rule.annotations.runbook_url }))
      .filter(({ url }) => {
        const [file, anchor] = url.split('#');
        return file !== 'docs/runbook.md' || anchor === undefined || !anchors.has(anchor);
      });
    expect(broken).toEqual([]);
  });

  it('names every alert once', () => {
    const names = loadAlertRules().map((rule) => rule.alert);
    expect(new Set(names).size).toBe(names.length);
  });
});
