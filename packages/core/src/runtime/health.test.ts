import { describe, expect, it } from 'vitest';
import { healthRoutes } from './health.ts';

const ok = async () => undefined;
const down = async () => {
  throw new Error('connection refused');
};

describe('health routes', () => {
  it('answer alive without touching a dependency', async () => {
    const app = healthRoutes([{ name: 'postgresql', check: down }]);
    expect((await app.request('/healthz')).status).toBe(200);
  });

  it('are not ready when a critical dependency fails, naming it', async () => {
    const answer = await healthRoutes([
      { name: 'postgresql', check: ok },
      { name: 'redis', check: down },
    ]).request('/readyz');
    expect(answer.status).toBe(503);
    expect(await answer.json()).toEqual({
      status: 'not_ready',
      checks: [
        { name: 'postgresql', ok: true },
        { name: 'redis', ok: false, error: 'connection refused' },
      ],
    });
  });

  it('stay ready when only a non-critical dependency fails, and report it', async () => {
    const answer = await healthRoutes([
      { name: 'postgresql', check: ok },
      { name: 'redis', check: down, critical: false },
    ]).request('/readyz');
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({
      status: 'ready',
      checks: [
        { name: 'postgresql', ok: true },
        { name: 'redis', ok: false, critical: false },
      ],
    });
  });

  it('answer not ready when a check hangs, instead of never', async () => {
    const hang = () => new Promise<void>(() => undefined);
    const answer = await healthRoutes([{ name: 'redis', check: hang }], 50).request('/readyz');
    expect(answer.status).toBe(503);
    expect(await answer.json()).toMatchObject({
      checks: [{ name: 'redis', error: 'no answer within 50 ms' }],
    });
  });
});
