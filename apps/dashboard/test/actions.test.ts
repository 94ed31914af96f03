import { AuditLog, CtpOperation, CtpOutbox, CtpRequestIdTracking } from '@ctp/core/entities';
import {
  markTraceFailed,
  recordAccepted,
  repollTraceNow,
  requestOperation,
  retryFailedOperation,
} from '@ctp/core/operations';
import { JOBS, jobIdFor } from '@ctp/core/queues';
import { createTestDatabase, type TestDatabase } from '@ctp/db/testing';
import { UnrecoverableError, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedEntity } from '../../worker/test/fixtures.ts';
import { buildDashboard, CREDENTIALS, type TestDashboard } from './helpers.ts';

/**
 * The console's actions through HTTP, on states the browser test does not reach: a QUEUED
 * operation whose submit job failed, and every refusal. Each attempt leaves an audit row.
 */

const TENANT = 'ENBDTABBY';
let db: TestDatabase;
let dashboard: TestDashboard;
let cookie: string;
let csrf: string;

beforeAll(async () => {
  db = await createTestDatabase();
  dashboard = buildDashboard(db.orm);
  cookie = await dashboard.login();
  csrf = await dashboard.csrf(cookie);
});

afterAll(async () => {
  await dashboard?.close();
  await db?.drop();
});

async function act(fields: Record<string, string>): Promise<{ location: string; audit: AuditLog }> {
  const answer = await dashboard.app.request('/actions', {
    method: 'POST',
    body: new URLSearchParams({ csrf, back: '/audit', ...fields }),
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
  });
  expect(answer.status).toBe(303);
  const location = answer.headers.get('location') ?? '';
  const auditId = /audit=(\d+)/.exec(location)?.[1] ?? '';
  const audit = await db.orm.em.fork().findOneOrFail(AuditLog, { pkey: auditId });
  expect(audit.actor).toBe(CREDENTIALS.username);
  return { location, audit };
}

async function queuedOperation(entityId: string): Promise<string> {
  await seedEntity(db.orm, TENANT, entityId, [`${entityId}-k`]);
  const { operation } = await requestOperation(db.orm.em, {
    tenant: TENANT,
    event: 'CTP_REGISTER_ENTITY_AND_KIT',
    entityId,
    kitNo: `${entityId}-k`,
  });
  return operation.id;
}

async function inProgressTrace(entityId: string): Promise<{ operationId: string; traceId: string }> {
  const operationId = await queuedOperation(entityId);
  const traceId = `trace-${entityId}`;
  await recordAccepted(db.orm.em, { operationId, requestTraceId: traceId, firstPollAfterMs: 3_600_000 });
  return { operationId, traceId };
}

const page = async (path: string) => (await dashboard.app.request(path, { headers: { cookie } })).text();

describe("a QUEUED operation's submit job on the console", () => {
  it("names a batch operation's shared submit-items job while it waits, and `missing` without one", async () => {
    const operationId = await queuedOperation('shared-job');
    const entityPage = () => page(`/entities/${TENANT}/shared-job`);
    expect(await entityPage()).toContain('job: missing');
    await dashboard.queues[JOBS.submitItems.queue].add(JOBS.submitItems.name, {
      tenant: TENANT,
      operationIds: [operationId],
    });
    expect(await entityPage()).toContain('job: waiting (a batch&#39;s shared job)');
    const overview = await page('/');
    expect(overview).toContain("(a batch's shared job)");
  });
});

describe('console actions', () => {
  it('retries the failed submit job of a QUEUED operation in its queue', async () => {
    const operationId = await queuedOperation('job-retry');
    const queue = dashboard.queues[JOBS.submit.queue];
    const jobId = jobIdFor('submit', operationId);
    await queue.add(JOBS.submit.name, { operationId, tenant: TENANT }, { jobId, attempts: 1 });
    const failing = new Worker(
      queue.name,
      async () => {
        throw new UnrecoverableError('the SaaS refused our credentials');
      },
      { connection: dashboard.redis, prefix: queue.opts.prefix ?? '' },
    );
    await new Promise<void>((resolve) => failing.once('failed', () => resolve()));
    await failing.close();

    const confirm = await page(`/actions/confirm?action=retry&target=${operationId}`);
    expect(confirm).toContain('Retry the submit job');
    expect(confirm).toContain('the SaaS refused our credentials');

    const { location, audit } = await act({
      action: 'retry',
      target: operationId,
      reason: 'credentials fixed',
    });
    expect(audit).toMatchObject({
      action: 'job.retry',
      tenant: TENANT,
      entityId: 'job-retry',
      details: { result: 'done', reason: 'credentials fixed' },
    });
    const retried = await queue.getJob(jobId);
    expect(await retried?.getState()).toBe('waiting');
    // Its attempts start over: a retry that kept them would run the job once and fail it again.
    expect(retried?.attemptsMade).toBe(0);
    expect(await page(location)).toContain('the submit job runs again');
  });

  it('refuses to retry an operation that has not failed, or whose job has not', async () => {
    const operationId = await queuedOperation('no-retry');
    const confirm = await page(`/actions/confirm?action=retry&target=${operationId}`);
    expect(confirm).toContain('there is nothing to retry');
    expect(confirm).not.toContain('name="nonce"');
    const { audit } = await act({ action: 'retry', target: operationId });
    expect(audit).toMatchObject({ action: 'job.retry', details: { result: 'refused' } });
  });

  it('re-polls an IN_PROGRESS trace now, and refuses a trace that has ended', async () => {
    const { traceId } = await inProgressTrace('repoll');
    const before = Date.now();
    const { audit } = await act({ action: 'repoll', target: traceId });
    expect(audit).toMatchObject({
      action: 'trace.repoll',
      target: `trace:${traceId}`,
      details: { result: 'done' },
    });
    const trace = await db.orm.em.fork().findOneOrFail(CtpRequestIdTracking, { requestTraceId: traceId });
    expect(trace.nextPollAt?.getTime()).toBeLessThanOrEqual(Date.now());
    expect(trace.nextPollAt?.getTime()).toBeGreaterThanOrEqual(before - 1_000);
  });

  it('marks a trace failed only with a reason; the failure reverts and is notified with who and why', async () => {
    const { operationId, traceId } = await inProgressTrace('mark-failed');
    const withoutReason = await act({ action: 'mark-failed', target: traceId, reason: '  ' });
    expect(withoutReason.audit.details).toMatchObject({ result: 'refused', message: 'a reason is required' });

    const { audit } = await act({
      action: 'mark-failed',
      target: traceId,
      reason: 'SaaS incident 4111 1111 1111 1111',
    });
    expect(audit.details).toMatchObject({ result: 'done', reason: 'SaaS incident 411111******1111' });
    const operation = await db.orm.em.fork().findOneOrFail(CtpOperation, { id: operationId });
    expect(operation).toMatchObject({ status: 'FAILED', errorCode: 'MARKED_FAILED' });
    expect(operation.errorDetails).toBe(
      `marked failed by ${CREDENTIALS.username}: SaaS incident 411111******1111`,
    );
    const notification = await db.orm.em
      .fork()
      .findOneOrFail(CtpOutbox, { operationId, kind: 'notification' });
    expect(String(notification.payload.payload)).toContain('Marked Failed By Operator');

    const again = await act({ action: 'repoll', target: traceId });
    expect(again.audit.details).toMatchObject({
      result: 'refused',
      message: 'the trace is FAILED, not IN_PROGRESS',
    });
  });

  it('retries a FAILED operation as a new one, once per confirmation form', async () => {
    const { operationId, traceId } = await inProgressTrace('retry-new');
    await act({ action: 'mark-failed', target: traceId, reason: 'lost' });
    const nonce = crypto.randomUUID();
    const first = await act({ action: 'retry', target: operationId, nonce });
    const second = await act({ action: 'retry', target: operationId, nonce });
    expect(first.audit.details).toMatchObject({ result: 'done' });
    expect(second.audit.details.newOperationId).toBe(first.audit.details.newOperationId);
    const operations = await db.orm.em.fork().find(CtpOperation, { entityId: 'retry-new' });
    expect(operations.map((op) => op.status).sort()).toEqual(['FAILED', 'QUEUED']);

    // The new one holds the entity's in-flight slot: the lifecycle refuses a third.
    const third = await act({ action: 'retry', target: operationId, nonce: crypto.randomUUID() });
    expect(third.audit.details).toMatchObject({ result: 'refused' });
    expect(third.audit.details.message).toMatch(/not finished/);
  });

  it('records attempts on ids that do not exist', async () => {
    const trace = await act({ action: 'mark-failed', target: 'no-such-trace', reason: 'x' });
    expect(trace.audit).toMatchObject({
      tenant: null,
      details: { result: 'refused', message: 'request trace not found' },
    });
    const pan = await act({ action: 'repoll', target: '4111111111111111' });
    expect(pan.audit.target).toBe('trace:411111******1111');
    expect(dashboard.logLines.join('\n')).not.toContain('4111111111111111');
    const operation = await act({ action: 'retry', target: 'not-a-uuid' });
    expect(operation.audit.details).toMatchObject({ result: 'refused', message: 'operation not found' });
    expect(
      (await dashboard.app.request('/actions/confirm?action=repoll&target=nope', { headers: { cookie } }))
        .status,
    ).toBe(404);
  });

  it('commits an action and its audit row together: an audit row that cannot be written undoes the action', async () => {
    const { operationId, traceId } = await inProgressTrace('audit-atomic');
    const failedOp = await inProgressTrace('audit-atomic-retry');
    await act({ action: 'mark-failed', target: failedOp.traceId, reason: 'lost' });
    const connection = db.orm.em.getConnection();
    // The database refuses every audit row, as a crash between the two writes would leave it.
    await connection.execute(
      `create function refuse_audit_row() returns trigger language plpgsql as $$ begin raise exception 'no audit row'; end $$`,
    );
    await connection.execute(
      'create trigger refuse_audit_row before insert on ctp_audit_log for each row execute function refuse_audit_row()',
    );
    try {
      const actor = CREDENTIALS.username;
      await expect(
        markTraceFailed(db.orm.em, { requestTraceId: traceId, actor, reason: 'SaaS incident' }),
      ).rejects.toThrow(/no audit row/);
      await expect(repollTraceNow(db.orm.em, { requestTraceId: traceId, actor })).rejects.toThrow(
        /no audit row/,
      );
      await expect(
        retryFailedOperation(db.orm.em, { operationId: failedOp.operationId, actor }),
      ).rejects.toThrow(/no audit row/);
    } finally {
      await connection.execute('drop trigger refuse_audit_row on ctp_audit_log');
      await connection.execute('drop function refuse_audit_row()');
    }
    const em = db.orm.em.fork();
    expect(await em.findOneOrFail(CtpOperation, { id: operationId })).toMatchObject({
      status: 'IN_PROGRESS',
    });
    const trace = await em.findOneOrFail(CtpRequestIdTracking, { requestTraceId: traceId });
    expect(trace.statusCtp).toBe('IN_PROGRESS');
    expect(trace.nextPollAt?.getTime()).toBeGreaterThan(Date.now() + 60_000);
    expect(await em.count(CtpOutbox, { operationId, kind: 'notification' })).toBe(0);
    // The retry started nothing: the failed operation is still the entity's only one.
    expect(await em.count(CtpOperation, { entityId: 'audit-atomic-retry' })).toBe(1);
  });

  it('lists every action in the audit log page', async () => {
    const html = await page('/audit');
    for (const action of ['job.retry', 'trace.repoll', 'trace.mark_failed', 'operation.retry']) {
      expect(html).toContain(action);
    }
  });
});
