import { afterEach, describe, expect, it } from 'vitest';
import { type Pipeline, startPipeline } from '../src/harness.ts';
import { expectAllSucceededOnce, registerMany } from '../src/scenario.ts';

// Both resolution paths, alone and together, under the SaaS's hostile habits: every operation
// must end, our state must equal the network's, work is done once, outcomes announced once.

let p: Pipeline | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
});

describe('resolution', () => {
  it('works with webhooks off: the poller alone resolves every trace', async () => {
    p = await startPipeline({ webhooks: false, env: { TRACE_FIRST_POLL_MS: '100' } });
    await expectAllSucceededOnce(p, await registerMany(p, 'poll', 5));
    expect(p.sim.simulator.state().counters.webhooks.attempted).toBe(0);
  });

  it('works with polling slowed far past the test: the webhook alone resolves every trace', async () => {
    p = await startPipeline({ env: { TRACE_FIRST_POLL_MS: '600000' } });
    const ids = await registerMany(p, 'hook', 5);
    await expectAllSucceededOnce(p, ids);
    const polls = p.sim.simulator.state().counters.requests['GET /status'] ?? {};
    expect(Object.values(polls).reduce((a, b) => a + b, 0)).toBe(0);
  });

  it('survives duplicated, delayed and reordered webhooks and webhooks that beat the 202', async () => {
    p = await startPipeline({ env: { TRACE_FIRST_POLL_MS: '600000' } });
    p.sim.simulator.setFaults({
      webhookDuplicateRate: 1,
      webhookDelayMs: { min: 0, max: 200 },
      webhookBeforeAcceptRate: 0.5,
    });
    await expectAllSucceededOnce(p, await registerMany(p, 'dup', 8));
    expect(p.sim.simulator.state().counters.webhooks.duplicated).toBeGreaterThan(0);
  });

  it('survives lost answers ("did the work but answered 5xx"), 5xx and 429 with Retry-After, and dropped webhooks', async () => {
    p = await startPipeline({ env: { TRACE_FIRST_POLL_MS: '200' } });
    // Rates and time chosen so that bad luck rarely passes for a bug: an operation is still
    // QUEUED at the timeout only after ~8 failed attempts in a row (exponential backoff), about
    // 1 run in 400 with these rates (it was 1 in 25 with 0.2/0.2 and 45 s, and it happened).
    p.sim.simulator.setFaults({
      lostAnswerRate: 0.4,
      rate5xx: 0.15,
      rate429: 0.15,
      retryAfterSeconds: 1,
      webhookDropRate: 0.5,
    });
    await expectAllSucceededOnce(p, await registerMany(p, 'lost', 8), 90_000);
    const state = p.sim.simulator.state();
    const registrations = state.counters.requests['POST /addCustomerAndPaymentInstrument'] ?? {};
    expect(Object.keys(registrations).some((code) => code.startsWith('5'))).toBe(true);
  }, 120_000);

  it('fails a trace that stays IN_PROGRESS past the deadline with a timeout error, and reverts its statuses', async () => {
    p = await startPipeline({
      webhooks: false,
      simulator: { completionDelayMs: 600_000 },
      env: { TRACE_FIRST_POLL_MS: '100', TRACE_DEADLINE_MS: '1500' },
    });
    const [id = ''] = await registerMany(p, 'late', 1);
    const view = await p.settled(id, 20_000);
    expect(view).toMatchObject({
      status: 'FAILED',
      error: { code: 'TIMEOUT', message: 'Request Timed Out' },
    });
    expect((await p.call('GET', '/v1/ctp/entities/late-0')).body).toMatchObject({
      ctpEntityStatus: 'UNREGISTERED',
    });
    const entries = await p.waitForNotifications(1);
    expect(entries[0]?.payload.serverNotifyData).toMatchObject({
      requestStatus: 'FAILED',
      message: 'CTP FAILURE: Request Timed Out',
    });
  });
});
