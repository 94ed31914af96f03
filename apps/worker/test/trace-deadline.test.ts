import { CtpOperation, CtpOutbox, CtpRequestIdTracking } from '@ctp/core/entities';
import {
  type PollOptions,
  pollDueTraces,
  recordAccepted,
  requestOperation,
  submitOperation,
} from '@ctp/core/operations';
import { SaasClient } from '@ctp/core/saas';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSimulator, startSimulator, TEST_API_KEY } from '../../saas-sim/src/testing.ts';
import { decryptPan, seedEntity } from './fixtures.ts';

/**
 * Item 10: at its deadline a trace is asked about once more, and what the SaaS says wins. The
 * SaaS is the real simulator over HTTP (no webhook URL: only the poller can learn the outcome).
 */

const T = 'ENBDTABBY';
let db: TestDatabase;
let sim: RunningSimulator;
/** A simulator whose traces stay IN_PROGRESS for ten minutes. */
let slowSim: RunningSimulator;
let saas: SaasClient;
let slowSaas: SaasClient;

beforeAll(async () => {
  db = await createTestDatabase();
  sim = await startSimulator();
  slowSim = await startSimulator({ completionDelayMs: 600_000 });
  saas = new SaasClient({ baseUrl: sim.url, apiKey: TEST_API_KEY, timeoutMs: 5_000 });
  slowSaas = new SaasClient({ baseUrl: slowSim.url, apiKey: TEST_API_KEY, timeoutMs: 5_000 });
});
afterAll(async () => {
  await saas?.close();
  await slowSaas?.close();
  await sim?.close();
  await slowSim?.close();
  await db?.drop();
});

/** Every trace is past its deadline (the trace was created before now). */
const PAST_DEADLINE: PollOptions = {
  batchSize: 50,
  concurrency: 4,
  deadlineMs: 0,
  deadlineGraceMs: 3_600_000,
  maxIntervalMs: 1_000,
};

/** An operation the SaaS accepted (through the real submit step), and its trace id. */
async function submitted(client: SaasClient, entityId: string) {
  await seedEntity(db.orm, T, entityId, [`${entityId}-k`]);
  const { operation } = await requestOperation(db.orm.em, {
    tenant: T,
    event: 'CTP_REGISTER_ENTITY_AND_KIT',
    entityId,
    kitNo: `${entityId}-k`,
  });
  const result = await submitOperation(
    { em: db.orm.em, saas: client, decryptPan, firstPollAfterMs: 0 },
    operation.id,
  );
  expect(result).toBe('submitted');
  const trace = await db.orm.em.fork().findOneOrFail(CtpRequestIdTracking, { operation: operation.id });
  return { operationId: operation.id, requestTraceId: trace.requestTraceId };
}

/** Waits until the simulator has finished the trace (no fixed sleep: it asks). */
async function networkFinished(client: SaasClient, requestTraceId: string) {
  for (let i = 0; i < 500; i += 1) {
    const result = await client.getStatus(T, requestTraceId);
    if (result.status !== 'IN_PROGRESS') return result.status;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the simulator never finished the trace');
}

async function operation(id: string) {
  return db.orm.em.fork().findOneOrFail(CtpOperation, { id });
}

async function notifications(operationId: string) {
  const rows = await db.orm.em.fork().find(CtpOutbox, { operationId, kind: 'notification' });
  return rows.map((row) => JSON.parse(String(row.payload.payload)).serverNotifyData);
}

describe('a trace at its deadline', () => {
  it('that the network completed meanwhile resolves SUCCESS, not TIMEOUT', async () => {
    const { operationId, requestTraceId } = await submitted(saas, 'dl-ok');
    expect(await networkFinished(saas, requestTraceId)).toBe('SUCCESS');
    await pollDueTraces(db.orm.em, saas, PAST_DEADLINE);
    expect(await operation(operationId)).toMatchObject({ status: 'SUCCESS', errorCode: null });
    expect(await notifications(operationId)).toEqual([expect.objectContaining({ requestStatus: 'SUCCESS' })]);
  });

  it('that the network rejected meanwhile fails with the network reason, not TIMEOUT', async () => {
    sim.simulator.setFaults({ rejectionRate: 1 });
    try {
      const { operationId, requestTraceId } = await submitted(saas, 'dl-ko');
      expect(await networkFinished(saas, requestTraceId)).toBe('FAILED');
      await pollDueTraces(db.orm.em, saas, PAST_DEADLINE);
      expect(await operation(operationId)).toMatchObject({ status: 'FAILED', errorCode: 'REQUEST_REJECTED' });
    } finally {
      sim.simulator.setFaults({ rejectionRate: 0 });
    }
  });

  it('that is still IN_PROGRESS at the SaaS fails with TIMEOUT', async () => {
    const { operationId } = await submitted(slowSaas, 'dl-slow');
    await pollDueTraces(db.orm.em, slowSaas, PAST_DEADLINE);
    expect(await operation(operationId)).toMatchObject({ status: 'FAILED', errorCode: 'TIMEOUT' });
    expect(await notifications(operationId)).toEqual([expect.objectContaining({ requestStatus: 'FAILED' })]);
  });

  it('that the SaaS does not know (404) fails with TIMEOUT', async () => {
    await seedEntity(db.orm, T, 'dl-404', ['dl-404-k']);
    const { operation: started } = await requestOperation(db.orm.em, {
      tenant: T,
      event: 'CTP_REGISTER_ENTITY_AND_KIT',
      entityId: 'dl-404',
      kitNo: 'dl-404-k',
    });
    await recordAccepted(db.orm.em, {
      operationId: started.id,
      requestTraceId: 'trace-the-saas-never-issued',
      firstPollAfterMs: 0,
    });
    await pollDueTraces(db.orm.em, saas, PAST_DEADLINE);
    expect(await operation(started.id)).toMatchObject({ status: 'FAILED', errorCode: 'TIMEOUT' });
  });

  it('while the SaaS cannot answer waits (bounded grace), then fails TIMEOUT saying the outcome is unknown', async () => {
    const { operationId, requestTraceId } = await submitted(saas, 'dl-down');
    expect(await networkFinished(saas, requestTraceId)).toBe('SUCCESS');
    sim.simulator.setFaults({ rate5xx: 1 });
    try {
      await pollDueTraces(db.orm.em, saas, PAST_DEADLINE);
      // Within the grace: no false failure, and the trace is asked again later.
      expect(await operation(operationId)).toMatchObject({ status: 'IN_PROGRESS' });
      const trace = await db.orm.em.fork().findOneOrFail(CtpRequestIdTracking, { requestTraceId });
      expect(trace).toMatchObject({ statusCtp: 'IN_PROGRESS' });
      expect(trace.nextPollAt?.getTime()).toBeGreaterThan(Date.now());
      expect(await notifications(operationId)).toEqual([]);

      // The SaaS answers again before the grace ends: its SUCCESS is applied.
      sim.simulator.setFaults({ rate5xx: 0 });
      await db.orm.em
        .fork()
        .nativeUpdate(CtpRequestIdTracking, { requestTraceId }, { nextPollAt: new Date(Date.now() - 1_000) });
      await pollDueTraces(db.orm.em, saas, PAST_DEADLINE);
      expect(await operation(operationId)).toMatchObject({ status: 'SUCCESS' });
    } finally {
      sim.simulator.setFaults({ rate5xx: 0 });
    }

    // Past the grace with the SaaS still unreachable: TIMEOUT, and the reason says what is known.
    const down = await submitted(saas, 'dl-gone');
    sim.simulator.setFaults({ rate5xx: 1 });
    try {
      await pollDueTraces(db.orm.em, saas, { ...PAST_DEADLINE, deadlineGraceMs: 0 });
      const failed = await operation(down.operationId);
      expect(failed).toMatchObject({ status: 'FAILED', errorCode: 'TIMEOUT' });
      expect(failed.errorDetails).toMatch(/outcome unknown/);
    } finally {
      sim.simulator.setFaults({ rate5xx: 0 });
    }
  });
});
