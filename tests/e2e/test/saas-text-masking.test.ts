import { findPans } from '@ctp/core/cards';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Pipeline, startPipeline } from '../src/harness.ts';
import { registerMany } from '../src/scenario.ts';

// Text the SaaS sends (webhook bodies, /status and /getData answers) is masked where it enters:
// no table, API answer, stream entry or log line downstream holds the card number it quoted.

const HOSTILE = {
  rejectionMessage: 'card 4111111111111111 rejected',
  rejectionDetails: 'PAN 4111 1111 1111 1111',
};
const MASKED = { message: 'card 411111******1111 rejected', details: 'PAN 411111******1111' };

let p: Pipeline;

beforeAll(async () => {
  p = await startPipeline();
});
afterEach(() => {
  p.sim.simulator.reset();
});
afterAll(async () => {
  await p.close();
});

/** Every place the outcome of `operationId` may have reached, as one text. */
async function everywhere(operationId: string, requestTraceId: string): Promise<string> {
  const sql = p.db.orm.em.getConnection();
  const tables = await Promise.all(
    [
      'select payload::text from ctp_webhook_inbox',
      'select * from "ctp_requestIdTracking"',
      'select * from ctp_operation',
      'select payload::text, last_error from ctp_outbox',
      'select * from ctp_status_history',
    ].map((statement) => sql.execute(statement)),
  );
  const operation = await p.call('GET', `/v1/ctp/operations/${operationId}`);
  const trace = await p.call('GET', `/v1/ctp/traces/${requestTraceId}`);
  const stream = await p.notifications();
  return JSON.stringify({ tables, operation: operation.body, trace: trace.body, stream, logs: p.logLines });
}

async function failedRegistration(name: string) {
  const [operationId = ''] = await registerMany(p, name, 1);
  const view = await p.settled(operationId);
  expect(view.status, JSON.stringify(view)).toBe('FAILED');
  const requestTraceId = String(view.requestTraceId);
  const [row] = await p.db.orm.em
    .getConnection()
    .execute<{ error_message: string; error_details: string }[]>(
      'select error_message, error_details from "ctp_requestIdTracking" where "request_trace_ID" = ?',
      [requestTraceId],
    );
  return { operationId, requestTraceId, view, row };
}

describe('card numbers the SaaS quotes', () => {
  it('in a signed request.completed FAILED webhook are masked in the inbox, the tables, the API and the stream', async () => {
    p.sim.simulator.setFaults({ rejectionRate: 1, answerText: HOSTILE });
    const { operationId, requestTraceId, view, row } = await failedRegistration('mask-webhook');
    // Its webhook answered (recorded), whichever path resolved the trace first.
    await p.sim.simulator.idle();
    const [inbox] = await p.db.orm.em
      .getConnection()
      .execute<{ error: unknown }[]>(
        `select payload->'data'->'error' as error from ctp_webhook_inbox where payload->'data'->>'requestTraceId' = ?`,
        [requestTraceId],
      );
    expect(inbox?.error).toEqual({ code: 'REQUEST_REJECTED', ...MASKED });
    expect(row).toEqual({ error_message: MASKED.message, error_details: MASKED.details });
    expect(view.error).toEqual({ code: 'REQUEST_REJECTED', ...MASKED });
    const entry = await p.notification(operationId);
    expect(JSON.stringify(entry.payload)).toContain(MASKED.message);
    expect(findPans(await everywhere(operationId, requestTraceId))).toEqual([]);
  });

  it('in a /status answer (no webhook arrives) are masked the same way', async () => {
    p.sim.simulator.setFaults({ rejectionRate: 1, webhookDropRate: 1, answerText: HOSTILE });
    const { operationId, requestTraceId, view, row } = await failedRegistration('mask-status');
    const inbox = await p.db.orm.em
      .getConnection()
      .execute(`select 1 from ctp_webhook_inbox where payload->'data'->>'requestTraceId' = ?`, [
        requestTraceId,
      ]);
    expect(inbox, 'the poller resolved it, not a webhook').toHaveLength(0);
    expect(row).toEqual({ error_message: MASKED.message, error_details: MASKED.details });
    expect(view.error).toEqual({ code: 'REQUEST_REJECTED', ...MASKED });
    expect(JSON.stringify((await p.notification(operationId)).payload)).toContain(MASKED.message);
    expect(findPans(await everywhere(operationId, requestTraceId))).toEqual([]);
  });

  it('in a /getData answer are masked, and text the database could not store is replaced', async () => {
    const [operationId = ''] = await registerMany(p, 'mask-getdata', 1);
    expect((await p.settled(operationId)).status).toBe('SUCCESS');
    p.sim.simulator.setFaults({ answerText: { getDataLastName: 'Khan 4111 1111 1111 1111\u0000\uD800' } });
    const answer = await p.call('GET', '/v1/ctp/entities/mask-getdata-0/network');
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect((answer.body.consumer as { lastName: string }).lastName).toBe('Khan 411111******1111\uFFFD\uFFFD');
    expect(findPans(JSON.stringify({ answer: answer.body, logs: p.logLines }))).toEqual([]);
  });
});
