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
    p.sim.simulator.setFaults({
      lostAnswerRate: 0.4,
      rate5xx: 0.2,
      rate429: 0.2,
      retryAfterSeconds: 1,
      webhookDropRate: 0.5,
    });
    await expectAllSucceededOnce(p, await registerMany(p, 'lost', 8), 45_000);
    const state = p.sim.simulator.state();
    const registrations = state.counters.requests['POST /addCustomerAndPaymentInstrument'] ?? {};
    expect(Object.keys(registrations).some((code) => code.startsWith('5'))).toBe(true);
  });
});
