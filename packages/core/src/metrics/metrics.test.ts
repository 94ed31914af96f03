import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { createHttpMetrics, httpMetricsMiddleware, metricsRoutes } from './http.ts';
import { createJobMetrics } from './jobs.ts';
import { createMetricsRegistry } from './registry.ts';
import { createSaasMetrics } from './saas.ts';
import { parseGroups } from './samplers.ts';
import { createTraceMetrics } from './traces.ts';

async function series(registry: ReturnType<typeof createMetricsRegistry>, name: string): Promise<string[]> {
  return (await registry.metrics()).split('\n').filter((line) => line.startsWith(`${name}{`));
}

describe('metrics', () => {
  it('label HTTP answers by route pattern, with middleware skipped and unknown paths unmatched', async () => {
    const registry = createMetricsRegistry('test');
    const app = new Hono();
    app.use(httpMetricsMiddleware(createHttpMetrics(registry)));
    app.use('/guarded/*', async (c, next) => (c.req.header('x-key') ? next() : c.text('no', 401)));
    app.get('/guarded/items/:id', (c) => c.text(c.req.param('id')));
    app.route('/', metricsRoutes(registry));
    await app.request('/guarded/items/4111111111111111', { headers: { 'x-key': '1' } });
    await app.request('/guarded/items/secret-id');
    await app.request('/nowhere');
    const lines = await series(registry, 'ctp_http_request_duration_seconds_count');
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringContaining('route="/guarded/items/:id",status="200"'),
        expect.stringContaining('route="/guarded/items/:id",status="401"'),
        expect.stringContaining('route="unmatched",status="404"'),
      ]),
    );
    const text = await (await app.request('/metrics')).text();
    expect(text).not.toContain('4111111111111111');
    expect(text).not.toContain('secret-id');
    expect(text).toContain('service="test"');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
  });

  it('tell a retried job from a failed one by whether BullMQ finished it', async () => {
    const registry = createMetricsRegistry('test');
    const jobs = createJobMetrics(registry);
    jobs.completed('q', { processedOn: 1_000, finishedOn: 1_250 });
    jobs.failed('q', { processedOn: 1_000 });
    jobs.failed('q', { processedOn: 1_000, finishedOn: 2_000 });
    jobs.failed('q', undefined);
    jobs.stalled('q');
    const lines = await series(registry, 'ctp_jobs_total');
    const count = (result: string) =>
      Number(
        lines
          .find((l) => l.includes(`result="${result}"`))
          ?.split(' ')
          .at(-1) ?? 0,
      );
    expect({ completed: count('completed'), retried: count('retried'), failed: count('failed') }).toEqual({
      completed: 1,
      retried: 1,
      failed: 2,
    });
    expect(count('stalled')).toBe(1);
  });

  it('classify SaaS calls: ok, retryable or permanent, and why, with no foreign string as a label', async () => {
    const registry = createMetricsRegistry('test');
    const saas = createSaasMetrics(registry);
    const call = { endpoint: '/status', tenant: 'T', durationMs: 12 } as const;
    saas.observe({ ...call, status: 200, outcome: 'ok' });
    saas.observe({ ...call, status: 503, outcome: 'retryable', code: 'HTTP_503' });
    saas.observe({ ...call, status: 429, outcome: 'retryable', code: 'RATE_LIMITED' });
    saas.observe({ ...call, status: undefined, outcome: 'retryable', code: 'TIMEOUT' });
    saas.observe({ ...call, status: 409, outcome: 'permanent', code: 'SOMETHING_THE_SAAS_MADE_UP' });
    const errors = await series(registry, 'ctp_saas_errors_total');
    expect(errors.map((l) => /reason="([^"]+)"/.exec(l)?.[1]).sort()).toEqual([
      '429',
      '4xx',
      '5xx',
      'timeout',
    ]);
    expect(errors.join('\n')).not.toContain('SOMETHING_THE_SAAS_MADE_UP');
    expect(await series(registry, 'ctp_saas_request_duration_seconds_count')).toHaveLength(3);
  });

  it('time a trace from creation to resolution', async () => {
    const registry = createMetricsRegistry('test');
    createTraceMetrics(registry).observe({
      event: 'CTP_ADD_KIT',
      status: 'FAILED',
      createdAt: new Date(0),
      resolvedAt: new Date(7_000),
    });
    const [sum] = await series(registry, 'ctp_trace_resolution_seconds_sum');
    expect(sum).toMatch(/event="CTP_ADD_KIT",status="FAILED".* 7$/);
  });

  it('read XINFO GROUPS answers, lag unknown included', () => {
    expect(
      parseGroups([
        [
          'name',
          'crm',
          'consumers',
          1,
          'pending',
          2,
          'last-delivered-id',
          '1-0',
          'entries-read',
          3,
          'lag',
          4,
        ],
        [
          'name',
          'fraud',
          'consumers',
          0,
          'pending',
          0,
          'last-delivered-id',
          '0-0',
          'entries-read',
          null,
          'lag',
          null,
        ],
        'garbage',
      ]),
    ).toEqual([
      { name: 'crm', lag: 4, pending: 2 },
      { name: 'fraud', lag: null, pending: 0 },
    ]);
  });
});
