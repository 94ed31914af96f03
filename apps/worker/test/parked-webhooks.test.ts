import { CtpWebhookInbox } from '@ctp/core/entities';
import { recordWebhook } from '@ctp/core/operations';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboard, type TestDashboard } from '../../dashboard/test/helpers.ts';
import { type RunningSimulator, startSimulator } from '../../saas-sim/src/testing.ts';
import { eventually, metricValue, type RuntimeHarness, startRuntime, testConfig } from './harness.ts';

/**
 * Item 12: a webhook that cannot be processed is tried a bounded number of times, then parked:
 * never tried again, listed on the dashboard, counted by `ctp_webhooks_parked`.
 */

const T = 'ENBDTABBY';
let db: TestDatabase;
let sim: RunningSimulator;
let harness: RuntimeHarness;
let dashboard: TestDashboard;

const inbox = (webhookId: string) =>
  db.orm.em.fork().findOneOrFail(CtpWebhookInbox, { webhookId }, { refresh: true });

beforeAll(async () => {
  db = await createTestDatabase();
  sim = await startSimulator();
  // A completion for a trace this platform never stored: every try throws TraceNotYetKnown.
  await recordWebhook(db.orm.em, {
    webhookId: 'msg_orphan_completion',
    body: {
      type: 'request.completed',
      tenant: T,
      data: {
        requestTraceId: 'trace-nobody-stored',
        event: 'CTP_REGISTER_ENTITY_AND_KIT',
        status: 'SUCCESS',
        externalConsumerId: 'nobody',
        updatedAt: new Date().toISOString(),
      },
    },
  });
  harness = await startRuntime(
    db,
    testConfig(db, sim.url, { WEBHOOK_MAX_ATTEMPTS: '3', SWEEP_STALE_MS: '60000' }),
  );
  dashboard = buildDashboard(db.orm);
});

afterAll(async () => {
  await dashboard?.close();
  await harness?.close();
  await sim?.close();
  await db?.drop();
});

const ageInbox = () =>
  db.orm.em.fork().execute(`update ctp_webhook_inbox set received_at = now() - interval '1 hour'`);

describe('a webhook that cannot be processed', () => {
  it('is parked after WEBHOOK_MAX_ATTEMPTS tries, with its reason, and the sweeper leaves it alone', async () => {
    await eventually(
      async () => (await inbox('msg_orphan_completion')).parkedAt != null,
      'the webhook to be parked',
    );
    const parked = await inbox('msg_orphan_completion');
    expect(parked).toMatchObject({ attempts: 3, processedAt: null });
    expect(parked.lastError).toMatch(/TraceNotYetKnown/);

    await ageInbox();
    const swept = await harness.runMaintenance<{ webhooks: number }>('sweep');
    expect(swept.webhooks).toBe(0);
    expect(await inbox('msg_orphan_completion')).toMatchObject({ attempts: 3 });
  });

  it('whose stored payload no longer parses is parked at its first try', async () => {
    await db.orm.em.fork().execute(
      `insert into ctp_webhook_inbox (webhook_id, tenant, type, payload, received_at, attempts)
       values ('msg_unparseable', ?, 'request.completed', '{"type":"request.completed"}'::jsonb, now() - interval '1 hour', 0)`,
      [T],
    );
    // Recorded, but its job is lost: the sweeper re-drives it once.
    expect((await harness.runMaintenance<{ webhooks: number }>('sweep')).webhooks).toBe(1);
    await eventually(
      async () => (await inbox('msg_unparseable')).parkedAt != null,
      'the webhook to be parked',
    );
    expect(await inbox('msg_unparseable')).toMatchObject({
      attempts: 1,
      lastError: 'payload does not match the contract',
    });
    await ageInbox();
    expect((await harness.runMaintenance<{ webhooks: number }>('sweep')).webhooks).toBe(0);
  });

  it('is counted by ctp_webhooks_parked and listed on the dashboard', async () => {
    expect(await metricValue(harness.registry, 'ctp_webhooks_parked')).toBe(2);
    const cookie = await dashboard.login();
    const page = await (await dashboard.app.request('/', { headers: { cookie } })).text();
    expect(page).toContain('Parked webhooks');
    expect(page).toContain('msg_orphan_completion');
    expect(page).toContain('msg_unparseable');
    expect(page).toContain('payload does not match the contract');
  });
});
