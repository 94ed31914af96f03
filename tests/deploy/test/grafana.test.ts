import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { dashboardExpressions, loadDashboard, readYaml } from '../src/files.ts';
import { promtool, promtoolOrSkip } from '../src/promtool.ts';

// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JavaScript template.
const DATASOURCE = '${datasource}';

describe('deploy/grafana/ctp.json', () => {
  it('is a dashboard with panels, unique ids, on a grid 24 wide where no two panels overlap', () => {
    const dashboard = loadDashboard();
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    const off = dashboard.panels.filter((panel) => panel.gridPos.x + panel.gridPos.w > 24);
    expect(off).toEqual([]);
    const overlapping = dashboard.panels.flatMap((a, i) =>
      dashboard.panels.slice(i + 1).flatMap((b) => {
        const [p, q] = [a.gridPos, b.gridPos];
        const overlap = p.x < q.x + q.w && q.x < p.x + p.w && p.y < q.y + q.h && q.y < p.y + p.h;
        return overlap ? [`${a.title} / ${b.title}`] : [];
      }),
    );
    expect(overlapping).toEqual([]);
    expect(dashboard.panels.filter((panel) => panel.type !== 'row').length).toBeGreaterThan(10);
  });

  it('queries its Prometheus through the datasource variable in every panel and target', () => {
    const dashboard = loadDashboard();
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }),
    );
    const queried = dashboard.panels.filter((panel) => panel.type !== 'row');
    const fixed = queried.filter(
      (panel) =>
        panel.datasource?.uid !== DATASOURCE ||
        (panel.targets ?? []).length === 0 ||
        (panel.targets ?? []).some((t) => (t.datasource as { uid?: string } | undefined)?.uid !== DATASOURCE),
    );
    expect(fixed.map((panel) => panel.title)).toEqual([]);
  });

  it('is what the compose file provisions, with the datasource the variable finds', () => {
    const provider = readYaml('deploy/grafana/provisioning/dashboards/ctp.yml') as {
      providers: { type: string; options: { path: string } }[];
    };
    const datasources = readYaml('deploy/grafana/provisioning/datasources/prometheus.yml') as {
      datasources: { type: string; url: string; isDefault: boolean }[];
    };
    expect(provider.providers[0]?.type).toBe('file');
    expect(datasources.datasources).toContainEqual(
      expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090', isDefault: true }),
    );
    const compose = readYaml('docker-compose.yml') as { services: Record<string, { volumes?: string[] }> };
    const mounts = compose.services.grafana?.volumes ?? [];
    expect(mounts).toContain(`./deploy/grafana/ctp.json:${provider.providers[0]?.options.path}/ctp.json:ro`);
    expect(mounts).toContain('./deploy/grafana/provisioning:/etc/grafana/provisioning:ro');
  });

  it('has expressions that are valid PromQL (promtool, as recording rules)', async (ctx) => {
    const tool = await promtoolOrSkip(ctx);
    const dir = await mkdtemp(join(tmpdir(), 'ctp-dashboard-'));
    try {
      const rules = dashboardExpressions().map((e, i) => ({
        record: `ctp_dashboard:panel_${i}`,
        expr: e.expr,
      }));
      const file = join(dir, 'dashboard-rules.yml');
      await writeFile(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
      const result = await promtool(tool, ['check', 'rules', file]);
      expect(result.code, result.output).toBe(0);
      expect(result.output).toContain(`SUCCESS: ${rules.length} rules found`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
