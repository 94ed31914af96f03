import { describe, expect, it } from 'vitest';
import { outboxJobRow } from './outbox.ts';
import { StepWrites } from './step-writes.ts';

// A step's statement holds the parts it writes and no other: PostgreSQL locks and opens every
// table and index a plan names on each execution, so a part with an empty set still costs (see
// step-writes.ts). Each combination of parts is one fixed text under its own name.

const owner = { tenant: 'T', entityId: 'e-1' };
const why = { cause: 'test', operationId: '00000000-0000-4000-8000-000000000001' };

function historyAndOutbox(): StepWrites {
  const writes = new StepWrites();
  writes.history(owner, { record: 'entity', from: 'UNREGISTERED', to: 'ACTIVE' }, why);
  writes.outbox(outboxJobRow('submit', { tenant: 'T', key: 'k-1', operationId: why.operationId, data: {} }));
  return writes;
}

describe('step writes', () => {
  it('names only the tables the step writes, without guards when nothing is guarded', () => {
    const statement = historyAndOutbox().statement();
    expect(statement?.text).toMatch(/insert into ctp_status_history/);
    expect(statement?.text).toMatch(/insert into ctp_outbox/);
    for (const absent of [
      'ctp_operation',
      'ctp_requestIdTracking',
      'ctp_webhook_inbox',
      'ctp_customer',
      'ctp_payment',
    ])
      expect(statement?.text).not.toContain(absent);
    expect(statement?.text).not.toContain('guard_operation');
  });

  it('guards what it ends: the operation and the trace, with their updates', () => {
    const writes = historyAndOutbox();
    writes.finishOperation({ id: why.operationId, status: 'IN_PROGRESS' }, 'SUCCESS', null);
    writes.resolveTrace('42', 'SUCCESS', null);
    writes.markWebhookProcessed('wh-1');
    const text = writes.statement()?.text ?? '';
    expect(text).toMatch(/guard_operation as \(\s*select 1 from ctp_operation/);
    expect(text).toMatch(/guard_trace as \(\s*select 1 from "ctp_requestIdTracking"/);
    expect(text).toMatch(/update ctp_operation set status/);
    expect(text).toMatch(/update "ctp_requestIdTracking" set status_ctp/);
    expect(text).toMatch(/update ctp_webhook_inbox set processed_at/);
  });

  it('one fixed text and name per combination of parts; the values are bound, never in the text', () => {
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
