import { strict as assert } from 'node:assert';
import { describe, it } from 'vitest';
import type { Facts, NetworkConsumer, OperationFact, StreamEntryFact } from '../src/facts.ts';
import { checkInvariants, InvariantBreach } from '../src/invariants.ts';

/**
 * The checker can fail: a consistent fabricated run passes, and one breach of each kind, laid
 * over it, stops the checker at that invariant. Part of the Vitest run (the suite itself is
 * `pnpm test:chaos`, a separate program).
 */

const OP_REGISTER = '11111111-1111-4111-8111-111111111111';
const OP_REMOVE_KIT = '22222222-2222-4222-8222-222222222222';
const OP_REFUSED = '33333333-3333-4333-8333-333333333333';
const OP_SYNC = '44444444-4444-4444-8444-444444444444';

const operation = (id: string, event: string, status: string, traceId: string | null, kitNo: string | null) =>
  ({
    id,
    tenant: 'ENBDTABBY',
    event,
    entityId: 'e1',
    kitNo,
    status,
    errorCode: status === 'FAILED' ? 'REQUEST_REJECTED' : null,
    createdAt: '2026-11-25T10:00:00.000Z',
    trace: traceId === null ? null : { requestTraceId: traceId, status },
  }) satisfies OperationFact;

const consumer: NetworkConsumer = {
  externalConsumerId: 'e1',
  clickToPayCustomerId: 'cust-1',
  status: 'ACTIVE',
  paymentInstruments: [
    { externalInstrumentId: 'k1', clickToPayPaymentInstrumentId: 'pi-1', status: 'ACTIVE' },
    { externalInstrumentId: 'k2', clickToPayPaymentInstrumentId: 'pi-2', status: 'REMOVED' },
  ],
};

const notification = (
  operationId: string,
  status: 'SUCCESS' | 'FAILED',
  event: string,
  streamId: string,
) => ({
  streamId,
  notificationId: operationId,
  payload: JSON.stringify({
    business: 'ENBDTABBY',
    transactionType: event,
    serverNotifyData:
      status === 'SUCCESS'
        ? {
            entityId: 'e1',
            requestTraceId: `trace-${operationId}`,
            requestStatus: 'SUCCESS',
            transactionType: event,
            ctpEntityStatus: 'ACTIVE',
            ctpEntityId: 'cust-1',
            tenant: 'ENBDTABBY',
            operationId,
          }
        : {
            entityId: 'e1',
            requestStatus: 'FAILED',
            transactionType: event,
            message: 'CTP FAILURE: Request Rejected',
            errorDetails: 'refused',
            tenant: 'ENBDTABBY',
            operationId,
          },
  }),
});

const BATCH = '66666666-6666-4666-8666-666666666666';

const batchEnd = (streamId: string, counts: Partial<Record<string, number>> = {}) => ({
  streamId,
  notificationId: `batch:${BATCH}`,
  payload: JSON.stringify({
    business: 'ENBDTABBY',
    transactionType: 'CTP_BATCH_COMPLETED',
    serverNotifyData: {
      batchId: BATCH,
      status: 'COMPLETED',
      counts: {
        total: 1,
        pending: 0,
        inProgress: 0,
        succeeded: 1,
        failed: 0,
        skipped: 0,
        rejected: 0,
        cancelled: 0,
        ...counts,
      },
      tenant: 'ENBDTABBY',
    },
  }),
});

/**
 * A small run that is right in every respect: a registration (a batch's one item), a kit
 * removal, a refused sync, an automatic sync.
 */
function consistentRun(): Facts {
  return {
    acceptedOperationIds: [OP_REGISTER, OP_REMOVE_KIT, OP_REFUSED],
    submittedBatches: [{ batchId: BATCH, items: 1 }],
    batches: [
      {
        id: BATCH,
        tenant: 'ENBDTABBY',
        status: 'COMPLETED',
        items: [{ seq: 0, entityId: 'e1', status: 'SUCCEEDED', operationId: OP_REGISTER, reason: null }],
      },
    ],
    operations: [
      operation(OP_REGISTER, 'CTP_REGISTER_ENTITY_AND_KIT', 'SUCCESS', `trace-${OP_REGISTER}`, 'k1'),
      operation(OP_REMOVE_KIT, 'CTP_REMOVE_KIT', 'SUCCESS', `trace-${OP_REMOVE_KIT}`, 'k2'),
      operation(OP_REFUSED, 'CTP_UPDATE_ENTITY', 'FAILED', null, null),
      operation(OP_SYNC, 'CTP_UPDATE_ENTITY', 'SUCCESS', `trace-${OP_SYNC}`, null),
    ],
    entities: [
      { tenant: 'ENBDTABBY', entityId: 'e1', status: 'ACTIVE', clickToPayCustomerId: 'cust-1' },
      { tenant: 'ENBDTABBY', entityId: 'e2', status: 'UNREGISTERED', clickToPayCustomerId: null },
    ],
    kits: [
      {
        tenant: 'ENBDTABBY',
        entityId: 'e1',
        kitNo: 'k1',
        status: 'ACTIVE',
        clickToPayPaymentInstrumentId: 'pi-1',
      },
      {
        tenant: 'ENBDTABBY',
        entityId: 'e1',
        kitNo: 'k2',
        status: 'REMOVED',
        clickToPayPaymentInstrumentId: 'pi-2',
      },
      {
        tenant: 'ENBDTABBY',
        entityId: 'e2',
        kitNo: 'k3',
        status: 'UNREGISTERED',
        clickToPayPaymentInstrumentId: null,
      },
    ],
    network: {
      consumers: { ENBDTABBY: [consumer], DEMOBANK: [] },
      traces: [OP_REGISTER, OP_REMOVE_KIT, OP_SYNC].map((id) => ({
        tenant: 'ENBDTABBY',
        idempotencyKey: id,
        requestTraceId: `trace-${id}`,
        event: 'CTP_REGISTER_ENTITY_AND_KIT',
        status: 'SUCCESS',
        externalConsumerId: 'e1',
      })),
      workByKey: { ENBDTABBY: { [OP_REGISTER]: 1, [OP_REMOVE_KIT]: 1, [OP_SYNC]: 1 } },
    },
    notifications: [
      notification(OP_REGISTER, 'SUCCESS', 'CTP_REGISTER_ENTITY_AND_KIT', '1-0'),
      notification(OP_REMOVE_KIT, 'SUCCESS', 'CTP_REMOVE_KIT', '2-0'),
      notification(OP_REFUSED, 'FAILED', 'CTP_UPDATE_ENTITY', '3-0'),
      notification(OP_SYNC, 'SUCCESS', 'CTP_UPDATE_ENTITY', '4-0'),
      batchEnd('5-0'),
    ],
    logs: [
      {
        source: 'worker-1.log',
        lines: ['{"msg":"card 411111******1111 submitted","stream":"1795566515238-1"}'],
      },
    ],
  };
}

function breachOf(facts: Facts): InvariantBreach {
  try {
    checkInvariants(facts);
  } catch (error) {
    if (error instanceof InvariantBreach) return error;
    throw error;
  }
  throw new assert.AssertionError({ message: 'the checker passed a run with a breach' });
}

function expectBreach(check: number, facts: Facts, message: RegExp): void {
  const breach = breachOf(facts);
  assert.equal(breach.check, check, `expected invariant ${check}, got: ${breach.message}`);
  assert.match(breach.message, message);
}

function firstEntry(facts: Facts): StreamEntryFact {
  const [first] = facts.notifications;
  if (first === undefined) throw new Error('the consistent run has notifications');
  return first;
}

const withOperation = (facts: Facts, id: string, change: Partial<OperationFact>): Facts => ({
  ...facts,
  operations: facts.operations.map((op) => (op.id === id ? { ...op, ...change } : op)),
});

describe('the invariant checker', () => {
  it('passes a consistent run and prints each check with its counts', () => {
    const printed: string[] = [];
    const reports = checkInvariants(consistentRun(), (line) => printed.push(line));
    assert.deepEqual(
      reports.map((r) => r.check),
      [1, 2, 3, 4, 5, 6],
    );
    assert.equal(printed.filter((line) => line.startsWith('✓')).length, 6);
  });

  describe('6. batches ended and announced once', () => {
    const withItem = (facts: Facts, change: Partial<Facts['batches'][number]['items'][number]>): Facts => ({
      ...facts,
      batches: facts.batches.map((b) => ({ ...b, items: b.items.map((i) => ({ ...i, ...change })) })),
    });

    it('fails on an uploaded batch missing, or holding fewer items than were sent', () => {
      const facts = consistentRun();
      expectBreach(6, { ...facts, batches: [] }, /answered 202 but is not in ctp_batch/);
      expectBreach(
        6,
        { ...facts, submittedBatches: [{ batchId: BATCH, items: 2 }] },
        /holds 1 items, 2 were sent/,
      );
    });

    it('fails on a batch still running or an item not ended', () => {
      const facts = consistentRun();
      const running = { ...facts, batches: facts.batches.map((b) => ({ ...b, status: 'RUNNING' })) };
      expectBreach(6, running, /is RUNNING/);
      expectBreach(6, withItem(facts, { status: 'IN_PROGRESS' }), /item 0 \(e1\) is IN_PROGRESS/);
    });

    it("fails on an item whose status is not its operation's outcome", () => {
      expectBreach(
        6,
        withItem(consistentRun(), { status: 'FAILED' }),
        /FAILED but its operation .* is SUCCESS/,
      );
    });

    it('fails on a batch announced twice, or with counts its items do not give', () => {
      const facts = consistentRun();
      expectBreach(
        6,
        { ...facts, notifications: [...facts.notifications, batchEnd('6-0')] },
        /on the stream 2 times/,
      );
      const wrong = facts.notifications.map((n) =>
        n.streamId === '5-0' ? batchEnd('5-0', { succeeded: 0 }) : n,
      );
      expectBreach(6, { ...facts, notifications: wrong }, /announced with succeeded 0, its items give 1/);
    });
  });

  describe('1. operations ended', () => {
    it('fails on an accepted operation missing from the database', () => {
      const facts = consistentRun();
      const missing = '55555555-5555-4555-8555-555555555555';
      expectBreach(
        1,
        { ...facts, acceptedOperationIds: [...facts.acceptedOperationIds, missing] },
        /not in ctp_operation/,
      );
    });

    it('fails on an operation still in progress', () => {
      expectBreach(1, withOperation(consistentRun(), OP_SYNC, { status: 'IN_PROGRESS' }), /is IN_PROGRESS/);
    });
  });

  describe('2. records equal the network', () => {
    it('fails when our status differs from the network', () => {
      const facts = consistentRun();
      const entities = facts.entities.map((e) => (e.entityId === 'e1' ? { ...e, status: 'REMOVED' } : e));
      expectBreach(2, { ...facts, entities }, /REMOVED with us but ACTIVE on the network/);
      // The breach names its entity, so the run can print the operations that led there.
      assert.equal(breachOf({ ...facts, entities }).subject?.entityId, 'e1');
    });

    it('fails when our id differs from the network', () => {
      const facts = consistentRun();
      const kits = facts.kits.map((k) =>
        k.kitNo === 'k1' ? { ...k, clickToPayPaymentInstrumentId: 'pi-other' } : k,
      );
      expectBreach(2, { ...facts, kits }, /clickToPayPaymentInstrumentId pi-other is not the network's pi-1/);
    });

    it('fails when an UNREGISTERED entity of ours is on the network', () => {
      const facts = consistentRun();
      const stray: NetworkConsumer = { ...consumer, externalConsumerId: 'e2', paymentInstruments: [] };
      const network = { ...facts.network, consumers: { ENBDTABBY: [consumer, stray] } };
      expectBreach(2, { ...facts, network }, /e2 is UNREGISTERED with us but the network holds it/);
    });

    it('fails on a REMOVED kit absent from the network without proof of a re-enrolment', () => {
      const facts = consistentRun();
      const onlyK1 = { ...consumer, paymentInstruments: consumer.paymentInstruments.slice(0, 1) };
      const network = { ...facts.network, consumers: { ENBDTABBY: [onlyK1] } };
      expectBreach(2, { ...facts, network }, /k2 is REMOVED \(pi-2\) with us but absent from the network/);
    });

    it('accepts a REMOVED kit the network dropped when it enrolled the consumer again', () => {
      const facts = consistentRun();
      const reEnrolled = {
        ...consumer,
        clickToPayCustomerId: 'cust-2',
        paymentInstruments: consumer.paymentInstruments.slice(0, 1),
      };
      const issued = {
        tenant: 'ENBDTABBY',
        idempotencyKey: 'earlier',
        requestTraceId: 'trace-earlier',
        event: 'CTP_ADD_KIT',
        status: 'SUCCESS',
        externalConsumerId: 'e1',
        externalInstrumentId: 'k2',
        clickToPayCustomerId: 'cust-1',
        clickToPayPaymentInstrumentId: 'pi-2',
      };
      const entities = facts.entities.map((e) =>
        e.entityId === 'e1' ? { ...e, clickToPayCustomerId: 'cust-2' } : e,
      );
      const network = {
        ...facts.network,
        consumers: { ENBDTABBY: [reEnrolled] },
        traces: [...facts.network.traces, issued],
      };
      checkInvariants({ ...facts, entities, network });
    });
  });

  describe('3. work once', () => {
    it('fails when the SaaS started a key twice', () => {
      const facts = consistentRun();
      const workByKey = { ENBDTABBY: { ...facts.network.workByKey.ENBDTABBY, [OP_REGISTER]: 2 } };
      expectBreach(3, { ...facts, network: { ...facts.network, workByKey } }, /2 times/);
    });

    it('fails when a traced operation has no work counted', () => {
      const facts = consistentRun();
      const workByKey = { ENBDTABBY: { [OP_REGISTER]: 1, [OP_REMOVE_KIT]: 1 } };
      expectBreach(3, { ...facts, network: { ...facts.network, workByKey } }, /counted its work 0 times/);
    });

    it('fails when the SaaS did work for an operation we hold without a trace', () => {
      const facts = consistentRun();
      const workByKey = { ENBDTABBY: { ...facts.network.workByKey.ENBDTABBY, [OP_REFUSED]: 1 } };
      expectBreach(3, { ...facts, network: { ...facts.network, workByKey } }, /has no request trace/);
    });

    it("fails when our trace id is not the SaaS's", () => {
      const facts = withOperation(consistentRun(), OP_SYNC, {
        trace: { requestTraceId: 'trace-x', status: 'SUCCESS' },
      });
      expectBreach(3, facts, /trace-x is not the SaaS's/);
    });
  });

  describe('4. one notification id per outcome', () => {
    it('fails when an outcome is missing from the stream', () => {
      const facts = consistentRun();
      expectBreach(4, { ...facts, notifications: facts.notifications.slice(1) }, /has 0 notification ids/);
    });

    it('fails when an outcome is announced under two ids', () => {
      const facts = consistentRun();
      const first = firstEntry(facts);
      const twice = [...facts.notifications, { ...first, streamId: '9-0', notificationId: 'another-id' }];
      expectBreach(4, { ...facts, notifications: twice }, /has 2 notification ids/);
    });

    it('fails when an outcome is appended twice', () => {
      const facts = consistentRun();
      const first = firstEntry(facts);
      expectBreach(
        4,
        { ...facts, notifications: [...facts.notifications, { ...first, streamId: '9-0' }] },
        /2 times/,
      );
    });

    it('fails when the announced outcome is not the database’s', () => {
      const facts = withOperation(consistentRun(), OP_REFUSED, { status: 'SUCCESS' });
      expectBreach(4, facts, /announced as ENBDTABBY FAILED/);
    });
  });

  describe('5. no PAN in logs', () => {
    it('fails on a Luhn-valid card number in a log line, without repeating it', () => {
      const facts = consistentRun();
      const logs = [
        ...facts.logs,
        { source: 'api.log', lines: ['ok', '{"body":{"pan":"4111111111111111"}}'] },
      ];
      const breach = breachOf({ ...facts, logs });
      assert.equal(breach.check, 5);
      assert.match(breach.message, /api\.log:2 holds a card number \(411111\*\*\*\*\*\*1111\)/);
      assert.doesNotMatch(breach.message, /4111111111111111/);
    });
  });
});
