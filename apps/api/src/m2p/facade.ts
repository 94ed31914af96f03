import type {
  EntityAnswer,
  M2pEntityDetails,
  M2pMutationResult,
  M2pRegisterBody,
  M2pRequestStatus,
  NetworkData,
  OperationView,
} from '@ctp/core/contracts';
import { DomainError, notFound } from '@ctp/core/errors';
import type { CtpEvent } from '@ctp/core/lifecycle';
import type { Logger } from '@ctp/core/logging';
import {
  checkEnrolmentRecords,
  findOperationByIdempotencyKey,
  getCtpEntityView,
  getOperationView,
  getTraceView,
  outcomeOf,
  requestOperation,
  resolveTraceOutcome,
} from '@ctp/core/operations';
import { reconcileEntity } from '@ctp/core/reconciliation';
import { type EntityChangeHook, getEntity, getKit, patchEntity } from '@ctp/core/records';
import { type SaasClient, SaasError } from '@ctp/core/saas';
import { activeTraceparent } from '@ctp/core/tracing';
import type { Orm } from '@ctp/db';

/**
 * The M2P-compatible API as a thin layer over the v1 use cases: every rule, status change and
 * write is theirs (`requestOperation`, `resolveTraceOutcome`, `reconcileEntity`, the
 * views); this module only waits, asks the SaaS, and reshapes answers.
 */

export interface M2pFacadeDependencies {
  readonly orm: Orm;
  readonly saas: SaasClient;
  /** `M2P_ACCEPT_WAIT_MS`. */
  readonly acceptWaitMs: number;
  readonly onEntityChanged?: EntityChangeHook;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface MutationRequest {
  readonly tenant: string;
  readonly event: CtpEvent;
  readonly entityId: string;
  readonly kitNo?: string;
  readonly consent?: M2pRegisterBody['consent'];
  readonly idempotencyKey?: string;
}

/**
 * Accepts the operation exactly as the v1 route does (same durable row, same outbox job, same
 * `Idempotency-Key` rule), then waits for the worker to have the SaaS accept it, up to the
 * configured time, by reading the operation. The wait holds nothing: a crash during it loses
 * nothing, and a client's retry with the same key finds the same operation and waits again.
 */
export async function requestAndAwaitAcceptance(
  deps: M2pFacadeDependencies,
  request: MutationRequest,
): Promise<M2pMutationResult> {
  const { orm } = deps;
  const { tenant, event, entityId, kitNo, idempotencyKey } = request;
  // "CTP enabled for the tenant" (M2P's last registration rule) is the tenant CTP settings: checked
  // in `requestOperation`, after the entity and kit checks there, so that v1 and M2P refuse alike
  // and in M2P's order (409 CTP_NOT_ENABLED).
  // A key already used is the first answer again (or 422): no consent is written for a replay.
  const replay =
    idempotencyKey !== undefined &&
    (await findOperationByIdempotencyKey(orm.em.fork(), tenant, idempotencyKey)) !== null;
  if (request.consent !== undefined && kitNo !== undefined && !replay) {
    await checkEnrolmentRecords(orm.em, { tenant, event, entityId, kitNo });
    await recordConsent(deps, tenant, entityId, kitNo, request.consent);
  }
  const { operation } = await requestOperation(orm.em, {
    tenant,
    event,
    entityId,
    ...(kitNo === undefined ? {} : { kitNo }),
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    traceparent: activeTraceparent(),
  });
  const view = await awaitAcceptance(orm, tenant, operation.id, deps.acceptWaitMs);
  return {
    tenant,
    entityId: operation.entityId,
    requestTraceId: view.requestTraceId ?? null,
    event: operation.event,
    operationId: operation.id,
  };
}

/**
 * M2P's registration carries the cardholder's consent; ours keeps it on the customer, where the
 * SaaS request is built from. It is stored (through the records use case, as `PATCH` would) only
 * once the entity and the kit are known to exist, in M2P's order, and only when it differs, so
 * a request refused for a missing entity or kit changes nothing.
 */
async function recordConsent(
  deps: M2pFacadeDependencies,
  tenant: string,
  entityId: string,
  kitNo: string,
  consent: NonNullable<M2pRegisterBody['consent']>,
): Promise<void> {
  await getKit(deps.orm.em, { tenant, entityId, kitNo });
  const wanted = { accepted: true, version: consent.version, acceptedAt: consent.timeOfConsent };
  const stored = (await getEntity(deps.orm.em, { tenant, entityId })).consent;
  if (
    stored?.accepted === wanted.accepted &&
    stored.version === wanted.version &&
    Date.parse(stored.acceptedAt) === Date.parse(wanted.acceptedAt)
  )
    return;
  await patchEntity(deps.orm.em, { tenant, entityId, patch: { consent: wanted } }, deps.onEntityChanged);
}

async function awaitAcceptance(
  orm: Orm,
  tenant: string,
  operationId: string,
  waitMs: number,
): Promise<OperationView> {
  const deadline = Date.now() + waitMs;
  let pause = 20;
  for (;;) {
    const view = await getOperationView(orm.em, tenant, operationId);
    // A trace, or an end without one (the SaaS refused the request itself): nothing to wait for.
    if (view.requestTraceId !== undefined || view.status === 'FAILED' || view.status === 'SUCCESS')
      return view;
    const left = deadline - Date.now();
    if (left <= 0) return view;
    await sleep(Math.min(pause, left));
    pause = Math.min(pause * 2, 250);
  }
}

/** M2P's documented polling: up to 4 questions to the SaaS, 1 s apart. */
export const STATUS_ATTEMPTS = 4;
export const STATUS_INTERVAL_MS = 1_000;

/**
 * `fetchRequestStatus`: our trace, and while it is `IN_PROGRESS` the SaaS's `/status`, up to
 * four times. A finished result goes through `resolveTraceOutcome`, the very step a webhook and
 * the poller take, under the entity lock and guarded by the trace still being `IN_PROGRESS`: a
 * webhook arriving before, during or after it finds the trace terminal and changes nothing, so
 * the outcome is applied and announced once. A SaaS that cannot answer is asked again; after the
 * last try the answer is our own status (the poller keeps asking).
 */
export async function fetchRequestStatus(
  deps: M2pFacadeDependencies,
  tenant: string,
  requestTraceId: string,
  logger: Logger,
): Promise<M2pRequestStatus> {
  let trace = await getTraceView(deps.orm.em, tenant, requestTraceId);
  for (let attempt = 0; attempt < STATUS_ATTEMPTS && trace.statusCtp === 'IN_PROGRESS'; attempt += 1) {
    if (attempt > 0) await sleep(STATUS_INTERVAL_MS);
    try {
      const outcome = outcomeOf(await deps.saas.getStatus(tenant, requestTraceId));
      if (outcome !== null) await resolveTraceOutcome(deps.orm.em, tenant, outcome);
    } catch (error) {
      if (!(error instanceof SaasError)) throw error;
      logger.warn({ code: error.code, status: error.status, attempt }, 'fetchRequestStatus: /status failed');
    }
    trace = await getTraceView(deps.orm.em, tenant, requestTraceId);
  }
  const entity = await getCtpEntityView(deps.orm.em, tenant, trace.entityId).catch((error: unknown) => {
    // A trace whose entity is gone still answers, without the network's ids.
    if (error instanceof DomainError && error.code === 'NOT_FOUND') return null;
    throw error;
  });
  const kit = trace.kitNumber === null ? undefined : entity?.kits.find((k) => k.kitNo === trace.kitNumber);
  return {
    status: trace.statusCtp,
    event: trace.event,
    tenant,
    entityId: trace.entityId,
    errorDetails: trace.error === undefined ? null : (trace.error.details ?? trace.error.message),
    clickToPayCustomerId: entity?.clickToPayCustomerId ?? null,
    clickToPayPaymentInstrumentId: kit?.clickToPayPaymentInstrumentId ?? null,
    requestTraceId: trace.requestTraceId,
  };
}

/**
 * `fetchEntityDetails`: what the network holds now (`/getData`), in M2P's shape, with what only
 * our records know (masked card number, name on card, address, consent). The answer is reconciled
 * as a reconciliation of this one entity would (`reconcileEntity`: statuses and ids from the
 * network, history and notification reason `RECONCILED`, stale data sent again), without asking
 * the network a second time.
 */
export async function fetchEntityDetails(
  deps: M2pFacadeDependencies,
  tenant: string,
  entityId: string,
): Promise<M2pEntityDetails> {
  const entity = await getEntity(deps.orm.em, { tenant, entityId });
  let network: NetworkData;
  try {
    network = await deps.saas.getData(tenant, entityId);
  } catch (error) {
    if (error instanceof SaasError && error.status === 404) throw notFound('entity');
    if (error instanceof SaasError) throw new DomainError('UNAVAILABLE', 'the CTP SaaS did not answer');
    throw error;
  }
  await reconcileEntity(
    { em: deps.orm.em, saas: deps.saas },
    { tenant, entityId, dryRun: false, reconciliationId: null },
    network,
  );
  return detailsOf(tenant, entity, network);
}

function detailsOf(tenant: string, entity: EntityAnswer, network: NetworkData): M2pEntityDetails {
  const { consumer } = network;
  const phone = consumer.phones[0];
  const address = entity.address;
  return {
    entityId: entity.entityId,
    tenant,
    customerInfo: {
      emails: consumer.emails,
      mobileNumber: phone === undefined ? null : `${phone.countryCode}${phone.number}`,
      firstName: consumer.firstName,
      middleName: null,
      lastName: consumer.lastName,
      countryCode: consumer.countryCode,
      consent:
        entity.consent === null
          ? null
          : { version: entity.consent.version, presenter: null, timeOfConsent: entity.consent.acceptedAt },
      locale: consumer.locale,
      ctpStatus: network.status,
      ctpExternalConsumerId: network.clickToPayCustomerId,
    },
    paymentInstrumentInfo: network.paymentInstruments.map((instrument) => {
      const kit = entity.kits.find((k) => k.kitNo === instrument.externalInstrumentId);
      return {
        kitNo: instrument.externalInstrumentId,
        // Our kit's mask (first 6, last 4); a card we do not hold shows its last 4 only.
        cardNo: kit?.pan ?? `************${instrument.panLastFour}`,
        nameOnCard: kit?.nameOnCard ?? null,
        addressInfo: {
          addressLine1: address.line1,
          addressLine2: address.line2 ?? null,
          city: address.city,
          state: address.state ?? null,
          postalCode: address.postalCode,
          country: address.countryCode,
        },
        expirationDate: `${instrument.expirationDate.year}-${instrument.expirationDate.month}`,
        ctpStatus: instrument.status,
        ctpPaymentInstrumentId: instrument.clickToPayPaymentInstrumentId,
      };
    }),
  };
}
