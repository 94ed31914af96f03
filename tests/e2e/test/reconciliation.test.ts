import { run as ctp } from '@ctp/cli/src/cli.ts';
import { findPans } from '@ctp/core/cards';
import { loadConfig } from '@ctp/core/config';
import { createMetricsRegistry, createReconcileMetrics } from '@ctp/core/metrics';
import { queryBound } from '@ctp/core/operations';
import { pruneReconciliations, reconcileTick } from '@ctp/core/reconciliation';
import { SaasClient } from '@ctp/core/saas';
import { TEST_API_KEY } from '@ctp/saas-sim/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Pipeline, startPipeline, TENANT } from '../src/harness.ts';

// Reconciliation with the network over the real api, worker, PostgreSQL, Redis and simulator:
// drift made on the simulator's side with no webhook at all is found and repaired (and notified
// once), a dry run changes nothing, stale data at the network gets an update, a bad /getData
// answer is one entity's error, another tenant's entity is refused.

let p: Pipeline;
const KEYS = loadConfig({}).API_KEYS;
const OTHER_KEY = KEYS.find((k) => k.tenant !== TENANT)?.key ?? '';
const KEY = KEYS.find((k) => k.tenant === TENANT)?.key ?? '';

beforeAll(async () => {
  p = await startPipeline({ env: { RECONCILE_TICK_MS: '200' } });
});
afterAll(async () => {
  await p.close();
});
beforeEach(() => {
  p.sim.simulator.setFaults({ webhookDropRate: 0, answerText: {} });
});

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function enrolled(entityId: string, kitNo: string) {
  await p.customer(entityId, [kitNo]);
  const accepted = await p.call('POST', `/v1/ctp/entities/${entityId}/registration`, { kitNo });
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
  const settled = await p.settled(String(accepted.body.operationId));
  expect(settled.status).toBe('SUCCESS');
}

/** The network changes by itself and tells nobody: its webhook is dropped. */
function silently(change: () => unknown) {
  p.sim.simulator.setFaults({ webhookDropRate: 1 });
  change();
  p.sim.simulator.setFaults({ webhookDropRate: 0 });
}

interface Run {
  reconciliationId: string;
  status: string;
  dryRun: boolean;
  counts: Record<string, number>;
}

async function reconcile(body: unknown): Promise<Run> {
  const accepted = await p.call('POST', '/v1/ctp/reconciliations', body);
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
  const id = String(accepted.body.reconciliationId);
  expect(accepted.headers.get('location')).toBe(`/v1/ctp/reconciliations/${id}`);
  return until(
    async () => (await p.call('GET', `/v1/ctp/reconciliations/${id}`)).body as unknown as Run,
    (run) => run.status === 'COMPLETED',
  );
}

async function drifts(id: string) {
  const answer = await p.call('GET', `/v1/ctp/reconciliations/${id}/drifts`);
  expect(answer.status).toBe(200);
  return answer.body.items as Record<string, unknown>[];
}

const kitStatus = async (entityId: string, kitNo: string) => {
  const view = (await p.call('GET', `/v1/ctp/entities/${entityId}`)).body as {
    ctpEntityStatus: string;
    kits: { kitNo: string; ctpKitStatus: string }[];
  };
  return { entity: view.ctpEntityStatus, kit: view.kits.find((k) => k.kitNo === kitNo)?.ctpKitStatus };
};

const reconciledHistory = async (entityId: string) =>
  queryBound<{ record: string; from_status: string; to_status: string }>(
    p.db.orm.em.fork(),
    `select record, from_status, to_status from ctp_status_history where tenant = ? and entity_id = ? and cause = 'RECONCILED' order by pkey`,
    [TENANT, entityId],
  );

const statusChanges = async (entityId: string) =>
  (await p.notifications()).filter(
    (n) =>
      n.payload.transactionType === 'CTP_STATUS_CHANGED' && n.payload.serverNotifyData.entityId === entityId,
  );

describe('reconciliation on request', () => {
  it('finds a status the network changed without any webhook, repairs it, and notifies it once', async () => {
    await enrolled('e-rec', 'k-rec');
    silently(() => p.sim.simulator.setInstrumentStatus(TENANT, 'e-rec', 'k-rec', 'DISABLED'));
    expect(await kitStatus('e-rec', 'k-rec')).toEqual({ entity: 'ACTIVE', kit: 'ACTIVE' });

    const run = await reconcile({ entityIds: ['e-rec'] });
    expect(run).toMatchObject({
      dryRun: false,
      counts: { checked: 1, agreed: 0, drifted: 1, repaired: 1, errors: 0 },
    });
    expect(await drifts(run.reconciliationId)).toEqual([
      {
        entityId: 'e-rec',
        kitNo: 'k-rec',
        field: 'ctpKitStatus',
        ours: 'ACTIVE',
        network: 'DISABLED',
        action: 'REPAIRED',
      },
    ]);
    expect(await kitStatus('e-rec', 'k-rec')).toEqual({ entity: 'ACTIVE', kit: 'DISABLED' });
    expect(await reconciledHistory('e-rec')).toEqual([
      { record: 'kit', from_status: 'ACTIVE', to_status: 'DISABLED' },
    ]);

    const notified = await until(
      () => statusChanges('e-rec'),
      (entries) => entries.length > 0,
    );
    expect(notified.map((n) => n.payload.serverNotifyData)).toEqual([
      expect.objectContaining({
        kitNo: 'k-rec',
        ctpKitStatus: 'DISABLED',
        reason: 'RECONCILED',
        tenant: TENANT,
      }),
    ]);

    // Again: it agrees now, and nothing more is written or announced.
    const again = await reconcile({ entityIds: ['e-rec'] });
    expect(again.counts).toMatchObject({ checked: 1, agreed: 1, drifted: 0, repaired: 0 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await statusChanges('e-rec')).toHaveLength(1);
    expect(await reconciledHistory('e-rec')).toHaveLength(1);
  });

  it('a dry run reports the drift and changes nothing; the repair then takes the network removal', async () => {
    await enrolled('e-dry', 'k-dry');
    silently(() => p.sim.simulator.setConsumerStatus(TENANT, 'e-dry', 'REMOVED'));

    const dry = await reconcile({ entityIds: ['e-dry'], dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, counts: { checked: 1, drifted: 1, repaired: 0 } });
    const found = await drifts(dry.reconciliationId);
    expect(found).toEqual(
      expect.arrayContaining([
        {
          entityId: 'e-dry',
          field: 'ctpEntityStatus',
          ours: 'ACTIVE',
          network: 'REMOVED',
          action: 'WOULD_REPAIR',
        },
        {
          entityId: 'e-dry',
          kitNo: 'k-dry',
          field: 'ctpKitStatus',
          ours: 'ACTIVE',
          network: 'REMOVED',
          action: 'WOULD_REPAIR',
        },
      ]),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await kitStatus('e-dry', 'k-dry')).toEqual({ entity: 'ACTIVE', kit: 'ACTIVE' });
    expect(await reconciledHistory('e-dry')).toEqual([]);
    expect(await statusChanges('e-dry')).toEqual([]);

    const repaired = await reconcile({ entityIds: ['e-dry'] });
    expect(repaired.counts).toMatchObject({ drifted: 1, repaired: 1 });
    expect(await kitStatus('e-dry', 'k-dry')).toEqual({ entity: 'REMOVED', kit: 'REMOVED' });
  });

  it('profile data the network holds out of date starts CTP_UPDATE_ENTITY through the automatic updates', async () => {
    await enrolled('e-stale', 'k-stale');
    p.sim.simulator.setFaults({ answerText: { getDataLastName: 'Someone Else' } });
    const run = await reconcile({ entityIds: ['e-stale'] });
    p.sim.simulator.setFaults({ answerText: {} });
    expect(run.counts).toMatchObject({ drifted: 1, repaired: 1 });
    expect(await drifts(run.reconciliationId)).toEqual([
      {
        entityId: 'e-stale',
        field: 'lastName',
        ours: 'Khan',
        network: 'Someone Else',
        action: 'UPDATE_QUEUED',
      },
    ]);
    const update = await until(
      () =>
        queryBound<{ id: string }>(
          p.db.orm.em.fork(),
          `select id::text as id from ctp_operation where tenant = ? and entity_id = ? and event = 'CTP_UPDATE_ENTITY'`,
          [TENANT, 'e-stale'],
        ),
      (rows) => rows.length === 1,
    );
    expect((await p.settled(String(update[0]?.id))).status).toBe('SUCCESS');
  });

  it('an answer carrying a card number is that entity error, masked, and the run goes on', async () => {
    await enrolled('e-pan-a', 'k-pan-a');
    await enrolled('e-pan-b', 'k-pan-b');
    p.sim.simulator.setFaults({ answerText: { getDataLastName: 'card 4111111111111111' } });
    const run = await reconcile({ entityIds: ['e-pan-a'] });
    p.sim.simulator.setFaults({ answerText: {} });
    expect(run.counts).toMatchObject({ checked: 1, errors: 1, repaired: 0 });
    const both = await reconcile({ entityIds: ['e-pan-a', 'e-pan-b'] });
    expect(both.counts).toMatchObject({ checked: 2, agreed: 2, errors: 0 });
    const items = await queryBound<{ error: string | null }>(
      p.db.orm.em.fork(),
      `select error from ctp_reconciliation_item where reconciliation_id = ?`,
      [run.reconciliationId],
    );
    expect(items[0]?.error).toMatch(/card number/);
    expect(findPans(JSON.stringify(items))).toEqual([]);
  });

  it("another tenant's entity, an unknown one or a bad body: a 4xx and nothing recorded", async () => {
    await p.customer('e-mine', ['k-mine']);
    const count = async () =>
      Number(
        (
          await queryBound<{ n: string }>(
            p.db.orm.em.fork(),
            `select count(*)::text as n from ctp_reconciliation`,
            [],
          )
        )[0]?.n,
      );
    const before = await count();
    const other = await p.call(
      'POST',
      '/v1/ctp/reconciliations',
      { entityIds: ['e-mine'] },
      {
        authorization: `Bearer ${OTHER_KEY}`,
      },
    );
    expect(other.status).toBe(404);
    expect(other.body).toMatchObject({ error: { code: 'NOT_FOUND' } });
    expect((await p.call('POST', '/v1/ctp/reconciliations', { entityIds: ['nobody'] })).status).toBe(404);
    for (const bad of [{ entityIds: [] }, { dryRun: 'yes' }, { entityIds: ['a\u0000b'] }, { extra: 1 }]) {
      const answer = await p.call('POST', '/v1/ctp/reconciliations', bad);
      expect(answer.status, JSON.stringify(bad)).toBe(400);
      expect(answer.body).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
    }
    expect(await count()).toBe(before);

    const mine = await p.call('POST', '/v1/ctp/reconciliations', { entityIds: ['e-mine'], dryRun: true });
    const id = String(mine.body.reconciliationId);
    const theirs = { authorization: `Bearer ${OTHER_KEY}` };
    expect((await p.call('GET', `/v1/ctp/reconciliations/${id}`, undefined, theirs)).status).toBe(404);
    expect((await p.call('GET', `/v1/ctp/reconciliations/${id}/drifts`, undefined, theirs)).status).toBe(404);
    const list = await p.call('GET', '/v1/ctp/reconciliations', undefined, theirs);
    expect(list.body.items).toEqual([]);
  });

  it('the same Idempotency-Key answers the first reconciliation; with another body, 422', async () => {
    const headers = { 'idempotency-key': 'rec-key-1' };
    const first = await p.call('POST', '/v1/ctp/reconciliations', { dryRun: true }, headers);
    const again = await p.call('POST', '/v1/ctp/reconciliations', { dryRun: true }, headers);
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.body.reconciliationId).toBe(first.body.reconciliationId);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect((await p.call('POST', '/v1/ctp/reconciliations', { dryRun: false }, headers)).status).toBe(422);
  });

  it('an entity with an operation in flight is skipped, never raced', async () => {
    await enrolled('e-busy', 'k-busy');
    await p.stopWorker();
    try {
      const sync = await p.call('POST', '/v1/ctp/entities/e-busy/sync');
      expect(sync.status).toBe(202);
      const accepted = await p.call('POST', '/v1/ctp/reconciliations', { entityIds: ['e-busy'] });
      const saas = new SaasClient({ baseUrl: p.sim.url, apiKey: TEST_API_KEY });
      const registry = createMetricsRegistry('e2e');
      await reconcileTick(
        {
          em: p.db.orm.em,
          saas,
          metrics: createReconcileMetrics(registry),
          takeBudget: async (_tenant, wanted) => wanted,
        },
        { periodMs: 7 * 86_400_000, concurrency: 4 },
      );
      await saas.close();
      const values = async (name: string) => (await registry.getSingleMetric(name)?.get())?.values;
      // The tick may also start and work a scheduled run, if the worker's last one had just
      // ended: the metrics count every run's checks; the run's own counts are asserted below.
      const checked = await values('ctp_reconcile_checked_total');
      expect(checked?.[0]?.value ?? 0).toBeGreaterThanOrEqual(1);
      const skipped = (await values('ctp_reconcile_drift_total'))?.find(
        (v) => v.labels.field === 'operation' && v.labels.action === 'SKIPPED_IN_FLIGHT',
      );
      expect(skipped?.value ?? 0).toBeGreaterThanOrEqual(1);
      const id = String(accepted.body.reconciliationId);
      const run = (await p.call('GET', `/v1/ctp/reconciliations/${id}`)).body as unknown as Run;
      expect(run).toMatchObject({
        status: 'COMPLETED',
        counts: { checked: 1, skipped: 1, agreed: 0, repaired: 0 },
      });
      expect(await drifts(id)).toEqual([
        {
          entityId: 'e-busy',
          field: 'operation',
          ours: 'IN_FLIGHT',
          network: null,
          action: 'SKIPPED_IN_FLIGHT',
        },
      ]);
    } finally {
      await p.startWorker();
    }
  });
});

describe('retention', () => {
  it('deletes completed reconciliations past their retention, with their entities and drifts', async () => {
    await enrolled('e-old', 'k-old');
    silently(() => p.sim.simulator.setInstrumentStatus(TENANT, 'e-old', 'k-old', 'DISABLED'));
    const run = await reconcile({ entityIds: ['e-old'], dryRun: true });
    const rows = async (table: string) =>
      Number(
        (
          await queryBound<{ n: string }>(
            p.db.orm.em.fork(),
            `select count(*)::text as n from ${table} where reconciliation_id = ?`,
            [run.reconciliationId],
          )
        )[0]?.n,
      );
    expect(await rows('ctp_reconciliation_drift')).toBe(1);
    expect(await pruneReconciliations(p.db.orm.em, 3_600_000)).toBe(0);
    expect(await pruneReconciliations(p.db.orm.em, 0, 1_000)).toBeGreaterThanOrEqual(1);
    expect((await p.call('GET', `/v1/ctp/reconciliations/${run.reconciliationId}`)).status).toBe(404);
    expect(await rows('ctp_reconciliation_item')).toBe(0);
    expect(await rows('ctp_reconciliation_drift')).toBe(0);
  });
});

describe('pnpm ctp reconcile', () => {
  async function cli(
    args: string[],
    env: Record<string, string> = { CTP_API_URL: p.apiUrl, CTP_API_KEY: KEY },
  ) {
    const out: string[] = [];
    const err: string[] = [];
    const exit = await ctp(['reconcile', ...args], {
      stdout: { write: (text: string) => out.push(text) },
      stderr: { write: (text: string) => err.push(text) },
      env,
      signal: new AbortController().signal,
    });
    return { exit, stdout: out.join(''), stderr: err.join('') };
  }

  it('shows progress and a summary with the drifts; a dry run first, then the repair', async () => {
    await enrolled('e-cli', 'k-cli');
    silently(() => p.sim.simulator.setInstrumentStatus(TENANT, 'e-cli', 'k-cli', 'DISABLED'));
    const dry = await cli(['--entity', 'e-cli', '--dry-run']);
    expect(dry.exit, dry.stderr).toBe(0);
    expect(dry.stderr).toContain('[##############################] 1/1 checked');
    expect(dry.stdout).toMatch(/COMPLETED \(dry run: nothing changed\)/);
    expect(dry.stdout).toContain('checked 1/1  agreed 0  drifted 1  repaired 0  skipped 0  errors 0');
    expect(dry.stdout).toContain(
      'e-cli kit k-cli ctpKitStatus: ours ACTIVE, network DISABLED → WOULD_REPAIR',
    );
    expect(await kitStatus('e-cli', 'k-cli')).toEqual({ entity: 'ACTIVE', kit: 'ACTIVE' });

    const real = await cli(['--entity', 'e-cli', '--json']);
    expect(real.exit).toBe(0);
    const summary = JSON.parse(real.stdout) as {
      counts: Record<string, number>;
      drifts: { action: string }[];
    };
    expect(summary.counts).toMatchObject({ repaired: 1 });
    expect(summary.drifts).toEqual([expect.objectContaining({ action: 'REPAIRED' })]);
    expect(await kitStatus('e-cli', 'k-cli')).toEqual({ entity: 'ACTIVE', kit: 'DISABLED' });
  });

  it('without a key, or refused by the api: a clear message and a non-zero exit', async () => {
    const noKey = await cli(['--dry-run'], { CTP_API_URL: p.apiUrl });
    expect(noKey.exit).toBe(64);
    expect(noKey.stderr).toContain('CTP_API_KEY');
    const unknown = await cli(['--entity', 'nobody']);
    expect(unknown.exit).toBe(1);
    expect(unknown.stderr).toContain('404 NOT_FOUND');
  });
});
