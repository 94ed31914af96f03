import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import type { CtpEntityView, OperationView, TraceView } from '../contracts/ctp-api.ts';
import { CtpOperation } from '../entities/ctp-operation.ts';
import { CtpRequestIdTracking } from '../entities/ctp-request-id-tracking.ts';
import { notFound } from '../errors/domain-error.ts';
import { loadCtpRecords } from './ctp-records.ts';

/** Read models of the CTP routes; every read is scoped by tenant, so a foreign id is "not found". */

type Nullable = string | null | undefined;

const errorOf = (row: { errorCode?: Nullable; errorMessage?: Nullable; errorDetails?: Nullable }) =>
  row.errorCode
    ? {
        error: {
          code: row.errorCode,
          message: row.errorMessage ?? '',
          ...(row.errorDetails ? { details: row.errorDetails } : {}),
        },
      }
    : {};

export function operationView(operation: CtpOperation): OperationView {
  return {
    operationId: operation.id,
    event: operation.event,
    entityId: operation.entityId,
    ...(operation.kitNumber ? { kitNo: operation.kitNumber } : {}),
    status: operation.status,
    ...(operation.requestTraceId ? { requestTraceId: operation.requestTraceId } : {}),
    ...errorOf(operation),
    ...(operation.dataAdjustments?.length ? { adjustments: operation.dataAdjustments } : {}),
    createdAt: operation.createdAt.toISOString(),
    updatedAt: operation.updatedAt.toISOString(),
  };
}

export async function getOperationView(
  em: EntityManager,
  tenant: string,
  operationId: string,
): Promise<OperationView> {
  const operation = await em.fork().findOne(CtpOperation, { tenant, id: operationId });
  if (operation === null) throw notFound('operation');
  return operationView(operation);
}

export async function getCtpEntityView(
  em: EntityManager,
  tenant: string,
  entityId: string,
): Promise<CtpEntityView> {
  const records = await loadCtpRecords(em.fork(), tenant, entityId);
  if (records === null) throw notFound('entity');
  return {
    entityId,
    ctpEntityStatus: records.customer?.ctpEntityStatus ?? 'UNREGISTERED',
    clickToPayCustomerId: records.customer?.clickToPayCustomerId ?? null,
    kits: [...records.kits].map(([kitNo, { payment }]) => ({
      kitNo,
      ctpKitStatus: payment?.ctpKitStatus ?? 'UNREGISTERED',
      clickToPayPaymentInstrumentId: payment?.clickToPayPaymentInstumentId ?? null,
    })),
  };
}

export async function getTraceView(
  em: EntityManager,
  tenant: string,
  requestTraceId: string,
): Promise<TraceView> {
  const trace = await em.fork().findOne(CtpRequestIdTracking, { tenant, requestTraceId });
  if (trace === null) throw notFound('request trace');
  return {
    requestTraceId: trace.requestTraceId,
    entityId: trace.entityId,
    kitNumber: trace.kitNumber ?? null,
    event: trace.event,
    statusCtp: trace.statusCtp,
    operationId: trace.operation.id,
    ...errorOf(trace),
    createdAt: trace.createdAt.toISOString(),
    updatedAt: trace.updatedAt.toISOString(),
    resolvedAt: trace.resolvedAt ? trace.resolvedAt.toISOString() : null,
  };
}
