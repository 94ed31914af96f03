import { createRedis } from '@ctp/core/queues';
import { createTestDatabase, keepTestLog, type TestDatabase } from '@ctp/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppName, isolatedRedisNames, type RunningApp, seriesNamesOf, startApp } from '../src/apps.ts';
import { dashboardExpressions, loadAlertRules, metricNamesIn } from '../src/files.ts';

/** Series Prometheus makes itself: the scrape's health and the alerts' state. */
const PROMETHEUS_OWN = new Set(['up', 'ALERTS']);

describe('metric names in deploy/', () => {
  let db: TestDatabase;
  const apps: RunningApp[] = [];
  const redisNames = isolatedRedisNames();
  /** Series name → family, as the running api, worker and dashboard expose them on /metrics. */
  const exported = new Map<string, { family: string; apps: AppName[] }>();

  beforeAll(async () => {
    db = await createTestDatabase();
    const env = { DATABASE_URL: db.databaseUrl, ...redisNames };
    apps.push(
      ...(await Promise.all((['api', 'worker', 'dashboard'] as const).map((name) => startApp(name, env)))),
    );
    for (const app of apps) {
      const response = await fetch(`http://127.0.0.1:${app.port}/metrics`);
      expect(response.status).toBe(200);
      for (const [series, family] of seriesNamesOf(await response.text())) {
        const entry = exported.get(series) ?? { family, apps: [] };
        entry.apps.push(app.name);
        exported.set(series, entry);
      }
    }
  });

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.stop()));
    for (const app of apps) await keepTestLog(`deploy-${app.name}`, app.output);
    const redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    const keys = [
      ...(await redis.keys(`${redisNames.QUEUE_PREFIX}*`)),
      ...(await redis.keys(`{${redisNames.NOTIFICATION_STREAM}}*`)),
      redisNames.NOTIFICATION_STREAM,
    ];
    await redis.del(...keys);
    await redis.quit();
    await db?.drop();
  });

  it('reads the metric names of an expression (and nothing else)', () => {
    expect(
      metricNamesIn(
        'sum by (le, route) (rate(a_bucket{route=~"x(y)", le="0.5"}[$__rate_interval])) * 60 / on (x) group_left b' +
          ' and ignoring (class) histogram_quantile(0.95, c_count offset 5m) or vector(0) unless ALERTS{s="d e"}',
      ),
    ).toEqual(['ALERTS', 'a_bucket', 'b', 'c_count']);
  });

  it('finds the families the apps register, by app', () => {
    expect(exported.get('ctp_http_request_duration_seconds_bucket')?.apps.sort()).toEqual([
      'api',
      'dashboard',
    ]);
    expect(exported.get('ctp_outbox_lag_seconds')?.apps).toEqual(['worker']);
    expect(exported.get('ctp_saas_errors_total')?.apps.sort()).toEqual(['api', 'worker']);
  });

  it('uses in the alert rules only series the apps export', () => {
    const unknown = loadAlertRules().flatMap((rule) =>
      metricNamesIn(rule.expr)
        .filter((name) => !exported.has(name) && !PROMETHEUS_OWN.has(name))
        .map((name) => `${rule.alert}: ${name}`),
    );
    expect(unknown).toEqual([]);
  });

  it('uses in the dashboard only series the apps export', () => {
    const unknown = dashboardExpressions().flatMap((e) =>
      metricNamesIn(e.expr)
        .filter((name) => !exported.has(name) && !PROMETHEUS_OWN.has(name))
        .map((name) => `${e.panel}: ${name}`),
    );
    expect(unknown).toEqual([]);
  });

  it('shows every ctp_* family the apps export on the dashboard', () => {
    const shown = new Set(
      dashboardExpressions().flatMap((e) => metricNamesIn(e.expr).map((name) => exported.get(name)?.family)),
    );
    const families = new Set([...exported.values()].map((entry) => entry.family));
    expect([...families].filter((family) => family.startsWith('ctp_') && !shown.has(family))).toEqual([]);
  });
});
