import { randomUUID } from 'node:crypto';
import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { ReplacementView } from '../contracts/platform-api.ts';
import { CtpKitReplacement, type ReplacementStatus } from '../entities/ctp-kit-replacement.ts';
import { notFound } from '../errors/domain-error.ts';
import { REPLACEMENT_STEPS, type ReplacementReason } from '../lifecycle/rules.ts';
import type { OperationStatus } from '../lifecycle/statuses.ts';
import { planReplacementStep, planRequest } from '../lifecycle/transitions.ts';
import { promotionOutboxRow } from './automatic-sync.ts';
import { loadCtpRecords, snapshotOf } from './ctp-records.ts';
import type { AcceptedOperation, Aggregate, StepWrites } from './lifecycle-store.ts';
import { insertOutboxRows } from './outbox.ts';
import { requestFingerprint, startOperation } from './request-operation.ts';
import { defineStatement, type SqlSession, type Statement } from './sql-session.ts';

/**
 * Every write of `ctp_kit_replacement` is in this module.
 *
 * A card replacement moves the network from the old card to the new one in the steps of its reason
 * (`REPLACEMENT_STEPS`), each an ordinary operation with its notification. The plan is a row
 * written in the replacement's own transaction with the outbox row of a promote job; the
 * promotion that follows each operation's end (`promotePendingSyncs`, under the entity lock)
 * advances it: the next step once the last one succeeded, the same step again after a failure
 * (`REPLACEMENT_STEP_ATTEMPTS`, `REPLACEMENT_RETRY_DELAY_MS` apart), and otherwise the plan ends
 * `FAILED` with what it left at the network, never silently with both cards or neither.
 */

export interface ReplacementRequest {
  readonly tenant: string;
  readonly entityId: string;
  readonly oldKitNo: string;
  readonly newKitNo: string;
  readonly reason: ReplacementReason;
}

/**
 * In the replacement's transaction (an ORM one, under the entity lock): the plan, if the old card
 * is on Click to Pay or on its way there; null (nothing to move) otherwise.
 */
export async function startReplacement(
  tx: EntityManager,
  request: ReplacementRequest,
): Promise<string | null> {
  const records = await loadCtpRecords(tx, request.tenant, request.entityId);
  const status = records === null ? undefined : snapshotOf(records).kits[request.oldKitNo];
  if (status === undefined || status === 'UNREGISTERED' || status === 'REMOVED') return null;
  const id = randomUUID();
  await sql`insert into ctp_kit_replacement (id, tenant, entity_id, old_kit_number, new_kit_number, reason,
      status, step, attempts, created_at, updated_at)
    values (${id}::uuid, ${request.tenant}, ${request.entityId}, ${request.oldKitNo}, ${request.newKitNo},
      ${request.reason}, 'RUNNING', 0, 0, now(), now())`.execute(tx.getKysely());
  await insertOutboxRows(tx, [promotionOutboxRow(request.tenant, request.entityId)]);
  return id;
}

interface RunningReplacement {
  id: string;
  old_kit_number: string;
  new_kit_number: string;
  reason: ReplacementReason;
  step: number;
  attempts: number;
  operation_id: string | null;
  /** Milliseconds until a scheduled retry is due (0 or less: due; null: none scheduled). */
  retry_in_ms: number | null;
  operation_status: OperationStatus | null;
  operation_error: string | null;
}

/** The entity's running plans, oldest first, with the outcome of each one's latest operation. */
const readRunningReplacements = defineStatement<{ tenant: string; entity_id: string }, RunningReplacement>(
  'ctp_kit_replacement_running',
  `select r.id, r.old_kit_number, r.new_kit_number, r.reason, r.step, r.attempts, r.operation_id,
          (extract(epoch from r.next_attempt_at - now()) * 1000)::int as retry_in_ms,
          o.status as operation_status,
          nullif(concat_ws(': ', o.error_code, o.error_message), '') as operation_error
     from ctp_kit_replacement r
     left join ctp_operation o on o.id = r.operation_id
    where r.tenant = $tenant::text and r.entity_id = $entity_id::text and r.status = 'RUNNING'
    order by r.created_at, r.id`,
);

interface PlanUpdate extends Record<string, unknown> {
  id: string;
  status: ReplacementStatus;
  step: number;
  attempts: number;
  operation_id: string | null;
  retry_in_ms: number | null;
  error: string | null;
}

const updateReplacement = defineStatement<PlanUpdate>(
  'ctp_kit_replacement_update',
  `update ctp_kit_replacement set status = $status::text, step = $step::int, attempts = $attempts::int,
          operation_id = $operation_id::uuid,
          next_attempt_at = case when $retry_in_ms::int is null then null
                                 else now() + $retry_in_ms::int * interval '1 millisecond' end,
          error = $error::text, updated_at = now(),
          completed_at = case when $status::text = 'RUNNING' then null else now() end
    where id = $id::uuid and status = 'RUNNING'`,
);

export interface ReplacementOptions {
  /** `REPLACEMENT_STEP_ATTEMPTS`. */
  readonly attempts: number;
  /** `REPLACEMENT_RETRY_DELAY_MS`. */
  readonly retryDelayMs: number;
}

export const DEFAULT_REPLACEMENT_OPTIONS: ReplacementOptions = { attempts: 3, retryDelayMs: 60_000 };

export interface ReplacementAdvance {
  /** Plan updates to commit with the step's other writes. */
  readonly statements: Statement[];
  /** The operation of a step started now (at most one: the entity is then busy). */
  readonly started: AcceptedOperation | null;
  /** A failed step is retried in this many ms (the caller schedules a promotion then). */
  readonly retryInMs: number | null;
}

/** Where a plan stands at the network, in words, for a plan that ends `FAILED`. */
function leftAtNetwork(records: Aggregate, plan: RunningReplacement): string {
  const snapshot = snapshotOf(records);
  return `the old card ${plan.old_kit_number} is ${snapshot.kits[plan.old_kit_number] ?? 'UNREGISTERED'} and the new card ${plan.new_kit_number} is ${snapshot.kits[plan.new_kit_number] ?? 'UNREGISTERED'} on Click to Pay`;
}

/**
 * Advances the entity's running plans, in the caller's promotion (entity locked, none in flight,
 * `records` read after the lock). Writes are returned as statements for the caller's commit.
 */
export async function advanceReplacements(
  session: SqlSession,
  records: Aggregate,
  writes: StepWrites,
  options: ReplacementOptions,
  logger?: Logger,
): Promise<ReplacementAdvance> {
  const { tenant, entityId } = records.entity;
  const [rows] = await session.run([readRunningReplacements({ tenant, entity_id: entityId })]);
  const statements: Statement[] = [];
  let retryInMs: number | null = null;
  for (const plan of (rows ?? []) as RunningReplacement[]) {
    const steps = REPLACEMENT_STEPS[plan.reason];
    const update: PlanUpdate = {
      id: plan.id,
      status: 'RUNNING',
      step: plan.step,
      attempts: plan.attempts,
      operation_id: plan.operation_id,
      retry_in_ms: null,
      error: null,
    };
    const end = (status: 'COMPLETED' | 'FAILED', error: string | null) => {
      statements.push(updateReplacement({ ...update, status, error, retry_in_ms: null }));
      const log = { tenant, entityId, replacementId: plan.id, reason: plan.reason, error };
      if (status === 'FAILED') logger?.error(log, 'card replacement failed');
      else logger?.info(log, 'card replacement completed');
    };
    // The latest attempt's outcome.
    if (plan.operation_id !== null && plan.operation_status === 'FAILED') {
      const step = steps[plan.step] ?? 'ADD_NEW';
      if (plan.attempts >= options.attempts) {
        end(
          'FAILED',
          `${step} failed ${plan.attempts} times (last: ${plan.operation_error ?? 'FAILED'}); ${leftAtNetwork(records, plan)}`,
        );
        continue;
      }
      statements.push(
        updateReplacement({ ...update, operation_id: null, retry_in_ms: options.retryDelayMs }),
      );
      retryInMs = Math.min(retryInMs ?? options.retryDelayMs, options.retryDelayMs);
      continue;
    }
    if (plan.operation_id !== null && plan.operation_status === 'SUCCESS') {
      update.step += 1;
      update.attempts = 0;
      update.operation_id = null;
    } else if (plan.operation_id === null && plan.retry_in_ms !== null && plan.retry_in_ms > 0) {
      retryInMs = Math.min(retryInMs ?? plan.retry_in_ms, plan.retry_in_ms);
      continue;
    }
    const snapshot = snapshotOf(records);
    let started: AcceptedOperation | null = null;
    let ended = false;
    while (!ended && started === null) {
      const step = steps[update.step];
      if (step === undefined) {
        end('COMPLETED', null);
        ended = true;
        break;
      }
      const action = planReplacementStep(step, snapshot, {
        oldKitNo: plan.old_kit_number,
        newKitNo: plan.new_kit_number,
      });
      if (action.kind === 'done') {
        update.step += 1;
        update.attempts = 0;
        continue;
      }
      if (action.kind === 'impossible') {
        end('FAILED', `${step} cannot start: ${action.error.message}; ${leftAtNetwork(records, plan)}`);
        ended = true;
        break;
      }
      const request = { tenant, event: action.event, entityId, kitNo: action.kitNo, reason: plan.reason };
      const allowed = planRequest(action.event, snapshot, action.kitNo);
      if (!allowed.ok) throw new Error('planReplacementStep started a step planRequest refuses');
      started = startOperation(writes, records, request, allowed.value, requestFingerprint(request));
      statements.push(
        updateReplacement({
          ...update,
          attempts: update.attempts + 1,
          operation_id: started.id,
          retry_in_ms: null,
        }),
      );
      logger?.info(
        { tenant, entityId, replacementId: plan.id, step, operationId: started.id },
        'card replacement step started',
      );
    }
    if (started !== null) return { statements, started, retryInMs: null };
  }
  return { statements, started: null, retryInMs };
}

const STEP_EVENTS = { REMOVE_OLD: 'CTP_REMOVE_KIT', ADD_NEW: 'CTP_ADD_KIT' } as const;

function replacementView(plan: CtpKitReplacement): ReplacementView {
  const steps = REPLACEMENT_STEPS[plan.reason].map((step, i) => {
    let status: ReplacementView['steps'][number]['status'] = 'PENDING';
    if (plan.status === 'COMPLETED' || i < plan.step) status = 'DONE';
    else if (i === plan.step) status = plan.status === 'FAILED' ? 'FAILED' : 'RUNNING';
    return {
      step,
      event: STEP_EVENTS[step],
      kitNo: step === 'REMOVE_OLD' ? plan.oldKitNumber : plan.newKitNumber,
      status,
    };
  });
  return {
    replacementId: plan.id,
    entityId: plan.entityId,
    oldKitNo: plan.oldKitNumber,
    newKitNo: plan.newKitNumber,
    reason: plan.reason,
    status: plan.status,
    steps,
    attempts: plan.attempts,
    operationId: plan.operationId ?? null,
    error: plan.error ?? null,
    createdAt: plan.createdAt.toISOString(),
    updatedAt: plan.updatedAt.toISOString(),
    completedAt: plan.completedAt?.toISOString() ?? null,
  };
}

/** A replacement's plan by its id (for the answer of the replacement itself). */
export async function getReplacementById(
  em: EntityManager,
  tenant: string,
  id: string,
): Promise<ReplacementView> {
  const plan = await em.fork().findOne(CtpKitReplacement, { tenant, id });
  if (plan === null) throw notFound('replacement');
  return replacementView(plan);
}

/**
 * `GET /v1/entities/{entityId}/kits/{kitNo}/replacement`: the latest replacement the card took part
 * in, as the new card or the old one.
 */
export async function getReplacementOfKit(
  em: EntityManager,
  { tenant, entityId, kitNo }: { readonly tenant: string; readonly entityId: string; readonly kitNo: string },
): Promise<ReplacementView> {
  const plan = await em
    .fork()
    .findOne(
      CtpKitReplacement,
      { tenant, entityId, $or: [{ newKitNumber: kitNo }, { oldKitNumber: kitNo }] },
      { orderBy: { createdAt: 'desc' } },
    );
  if (plan === null) throw notFound('replacement');
  return replacementView(plan);
}
