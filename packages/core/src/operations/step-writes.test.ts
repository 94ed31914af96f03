import { describe, expect, it } from 'vitest';
import { outboxJobRow } from './outbox.ts';
import { StepWrites } from './step-writes.ts';

// A step that ends nothing takes the statement without the guards and the updates that end an
// operation, a trace or an inbox row: PostgreSQL locks and opens every table and index a plan
// names on each execution, so a part with an empty set still costs (see step-writes.ts).

const owner = { tenant: 'T', entityId: 'e-1' };
const why = { cause: 'test', operationId: '00000000-0000-4000-8000-000000000001' };

function historyAndOutbox(): StepWrites {
  const writes = new StepWrites();
  writes.history(owner, { record: 'entity', from: 'UNREGISTERED', to: 'ACTIVE' }, why);
  writes.outbox(outboxJobRow('submit', { tenant: 'T', key: 'k-1', operationId: why.operationId, data: {} }));
  return writes;
}

describe('step writes', () => {
  it('a step that ends nothing names no guard and nothing that ends a row', () => {
    const text = historyAndOutbox().statement()?.text ?? '';
    expect(text).toMatch(/insert into ctp_status_history/);
    expect(text).toMatch(/insert into ctp_outbox/);
    for (const absent of ['guard_', 'ctp_requestIdTracking', 'ctp_webhook_inbox', 'update ctp_operation'])
      expect(text).not.toContain(absent);
  });

  it('guards what it ends: the operation and the trace, with their updates', () => {
    const writes = historyAndOutbox();
    writes.finishOperation({ id: why.operationId, status: 'IN_PROGRESS' }, 'SUCCESS', null);
    writes.resolveTrace('42', 'SUCCESS', null);
    writes.markWebhookProcessed('wh-1');
    const text = writes.statement()?.text ?? '';
    expect(text).toMatch(/guard_operation as \(\s*select o.id from ctp_operation o/);
    expect(text).toMatch(/guard_trace as \(\s*select t.pkey from "ctp_requestIdTracking" t/);
    expect(text).toMatch(/update ctp_operation o set status/);
    expect(text).toMatch(/update "ctp_requestIdTracking" t set status_ctp/);
    expect(text).toMatch(/update ctp_webhook_inbox set processed_at/);
  });

  it('two fixed texts under their own names; the values are bound, never in the text', () => {
    const a = historyAndOutbox().statement();
    const b = historyAndOutbox().statement();
    expect(b?.name).toBe(a?.name);
    expect(b?.text).toBe(a?.text);
    const guarded = historyAndOutbox();
    guarded.finishOperation({ id: why.operationId, status: 'IN_PROGRESS' }, 'FAILED', null);
    expect(guarded.statement()?.name).not.toBe(a?.name);
    expect(a?.text).not.toContain(why.operationId);
    expect(a?.values).toContainEqual(expect.stringContaining(why.operationId));
  });

  it('a step with nothing to write has no statement', () => {
    expect(new StepWrites().statement()).toBeNull();
  });
});
