import type { LifecycleError } from './errors.ts';
import type { CtpEvent } from './events.ts';
import { err, ok, type Result } from './result.ts';
import {
  CARD_STATUS_RULES,
  CUSTOMER_STATUS_RULES,
  ENROLMENT_EVENTS,
  EVENT_RULES,
  NETWORK_CHANGE_RULES,
  RECONCILE_RULES,
  type ReconcileReport,
  type RecordStatusRule,
  type ReplacementStep,
  type SideRule,
} from './rules.ts';
import {
  type CardStatus,
  type CtpStatus,
  type CustomerStatus,
  IN_PROGRESS_STATUSES,
  isOneOf,
  isTerminalTrace,
  type NetworkStatus,
  ON_NETWORK_STATUSES,
  type OperationStatus,
  type TerminalTraceStatus,
  type TraceStatus,
} from './statuses.ts';

/** The CTP statuses of one entity and of (some of) its kits, by kit number. */
export interface CtpSnapshot {
  readonly entity: CtpStatus;
  readonly kits: Readonly<Record<string, CtpStatus>>;
  /** The platform's own statuses of the customer and its cards, when the caller read them. */
  readonly records?: RecordStatuses;
}

/** The platform's statuses (not CTP's) of a customer and of its cards, by kit number. */
export interface RecordStatuses {
  readonly customer: CustomerStatus;
  readonly cards: Readonly<Record<string, CardStatus>>;
}

/**
 * An accepted request: the statuses of the records it touches before and while it runs.
 * `before` is stored with the operation; it is what a `FAILED` outcome restores.
 */
export interface RequestPlan {
  readonly before: CtpSnapshot;
  readonly pending: CtpSnapshot;
}

const invalidState = (event: CtpEvent, entity: CtpStatus, kit?: CtpStatus): LifecycleError => ({
  code: 'INVALID_STATE',
  message:
    kit === undefined
      ? `${event} is not allowed while the entity is ${entity}`
      : `${event} is not allowed while the entity is ${entity} and the kit is ${kit}`,
  event,
  entityStatus: entity,
  ...(kit === undefined ? {} : { kitStatus: kit }),
});

const pendingOf = (rule: SideRule, current: CtpStatus): CtpStatus => rule.pending ?? current;

/**
 * Decides whether `event` may start on `current` (the entity and all its kits) and what the
 * touched records become while it runs. `kitNo` names the kit for kit events.
 */
export function planRequest(
  event: CtpEvent,
  current: CtpSnapshot,
  kitNo?: string,
): Result<RequestPlan, LifecycleError> {
  const rule = EVENT_RULES[event];
  const kitStatus = kitNo === undefined ? undefined : (current.kits[kitNo] ?? 'UNREGISTERED');
  if (rule.kit !== null && kitNo === undefined) {
    return err({ code: 'KIT_REQUIRED', message: `${event} names a kit`, event });
  }
  const refused = current.records === undefined ? null : enrolmentRefusal(event, current.records, kitNo);
  if (refused !== null) return err(refused);
  if (!rule.entity.from.includes(current.entity)) return err(invalidState(event, current.entity, kitStatus));
  if (rule.kit !== null && kitNo !== undefined && kitStatus !== undefined) {
    if (!rule.kit.from.includes(kitStatus)) return err(invalidState(event, current.entity, kitStatus));
    return ok({
      before: { entity: current.entity, kits: { [kitNo]: kitStatus } },
      pending: {
        entity: pendingOf(rule.entity, current.entity),
        kits: { [kitNo]: pendingOf(rule.kit, kitStatus) },
      },
    });
  }
  const taken = rule.allKits === null ? [] : kitsIn(current.kits, rule.allKits.from);
  return ok({
    before: { entity: current.entity, kits: Object.fromEntries(taken) },
    pending: {
      entity: pendingOf(rule.entity, current.entity),
      kits: Object.fromEntries(
        taken.map(([no, s]) => [no, rule.allKits === null ? s : pendingOf(rule.allKits, s)]),
      ),
    },
  });
}

/**
 * Why the platform's records refuse an enrolment (`ENROLMENT_EVENTS`), or null: a closed customer
 * enrols nothing, and a card enrols only while it is `ACTIVE` (a `BLOCKED` one again once it is
 * `ACTIVE`; a `CLOSED` one never). Without `kitNo` only the customer is judged. Removals and
 * updates are never refused here: a closed card or customer must still leave the network.
 */
export function enrolmentRefusal(
  event: CtpEvent,
  records: RecordStatuses,
  kitNo?: string,
): LifecycleError | null {
  if (!isOneOf(ENROLMENT_EVENTS, event)) return null;
  if (records.customer !== 'ACTIVE') {
    return {
      code: 'CUSTOMER_NOT_ACTIVE',
      message: `${event} is not allowed while the customer is ${records.customer}`,
      event,
      status: records.customer,
    };
  }
  const card = kitNo === undefined ? undefined : records.cards[kitNo];
  if (card !== undefined && card !== 'ACTIVE') {
    return {
      code: 'CARD_NOT_ACTIVE',
      message: `${event} is not allowed while the card is ${card}`,
      event,
      status: card,
    };
  }
  return null;
}

/** A record status change the rules allow, and the CTP event it starts (if it changes anything). */
export interface RecordStatusChange<S extends string> {
  readonly next: S;
  readonly changed: boolean;
  readonly starts: CtpEvent | null;
}

function changeRecordStatus<S extends CardStatus | CustomerStatus>(
  rules: Readonly<Record<S, RecordStatusRule<S>>>,
  current: S,
  requested: S,
): Result<RecordStatusChange<S>, LifecycleError> {
  // The same status again (a client's retry) is allowed and starts nothing.
  if (current === requested) return ok({ next: current, changed: false, starts: null });
  if (!rules[current].to.includes(requested)) {
    return err({
      code: 'RECORD_STATUS_NOT_ALLOWED',
      message: `a ${current} record cannot become ${requested}`,
      from: current,
      to: requested,
    });
  }
  return ok({ next: requested, changed: true, starts: rules[requested].starts });
}

/** `PUT …/kits/{kitNo}/status`: `CARD_STATUS_RULES` decides. */
export function changeCardStatus(
  current: CardStatus,
  requested: CardStatus,
): Result<RecordStatusChange<CardStatus>, LifecycleError> {
  return changeRecordStatus<CardStatus>(CARD_STATUS_RULES, current, requested);
}

/** `PUT /v1/entities/{entityId}/status`: `CUSTOMER_STATUS_RULES` decides. */
export function changeCustomerStatus(
  current: CustomerStatus,
  requested: CustomerStatus,
): Result<RecordStatusChange<CustomerStatus>, LifecycleError> {
  return changeRecordStatus<CustomerStatus>(CUSTOMER_STATUS_RULES, current, requested);
}

function kitsIn(
  kits: Readonly<Record<string, CtpStatus>>,
  from: readonly CtpStatus[],
): [string, CtpStatus][] {
  return Object.entries(kits).filter(([, status]) => from.includes(status));
}

function kitRuleOf(event: CtpEvent): SideRule | null {
  const rule = EVENT_RULES[event];
  return rule.kit ?? rule.allKits;
}

/**
 * The statuses the touched records take when the operation's trace ends. `plan` is what
 * `planRequest` returned when the operation was accepted; `current` holds the records' statuses
 * now. A record that no longer holds the pending status was changed by the network meanwhile:
 * the network is the truth, so it is left as it is.
 */
export function planOutcome(
  event: CtpEvent,
  outcome: TerminalTraceStatus,
  plan: RequestPlan,
  current: CtpSnapshot,
): CtpSnapshot {
  const rule = EVENT_RULES[event];
  const kitRule = kitRuleOf(event);
  const next = (side: SideRule | null, before: CtpStatus, pending: CtpStatus, now: CtpStatus): CtpStatus => {
    if (side === null || now !== pending) return now;
    if (outcome === 'FAILED') return before;
    return side.success ?? now;
  };
  const kits: Record<string, CtpStatus> = {};
  for (const [kitNo, before] of Object.entries(plan.before.kits)) {
    const pending = plan.pending.kits[kitNo] ?? before;
    kits[kitNo] = next(kitRule, before, pending, current.kits[kitNo] ?? pending);
  }
  return { entity: next(rule.entity, plan.before.entity, plan.pending.entity, current.entity), kits };
}

/**
 * A status the network reports for one record. Same status again (a redelivered webhook) is
 * `ok` with no change; a change the rules do not allow is `STALE_NETWORK_CHANGE`.
 */
export function applyNetworkChange(
  current: CtpStatus,
  reported: NetworkStatus,
): Result<CtpStatus, LifecycleError> {
  if (current === reported) return ok(current);
  const allowedFrom: readonly CtpStatus[] = NETWORK_CHANGE_RULES[reported];
  if (allowedFrom.includes(current)) return ok(reported);
  return err({
    code: 'STALE_NETWORK_CHANGE',
    message: `the network reports ${reported} for a record that is ${current}`,
    current,
    reported,
  });
}

/**
 * A consumer-level network change. A consumer the network removed has no instruments left, so
 * its kits on the network (or being removed) become `REMOVED` with it.
 */
export function applyConsumerNetworkChange(
  current: CtpSnapshot,
  reported: NetworkStatus,
): Result<CtpSnapshot, LifecycleError> {
  const entity = applyNetworkChange(current.entity, reported);
  if (!entity.ok) return entity;
  if (reported !== 'REMOVED') return ok({ entity: entity.value, kits: { ...current.kits } });
  const kits = Object.fromEntries(
    Object.entries(current.kits).map(([kitNo, status]) => {
      const next = applyNetworkChange(status, 'REMOVED');
      return [kitNo, next.ok ? next.value : status];
    }),
  );
  return ok({ entity: entity.value, kits });
}

/**
 * Reconciliation of one record with what `/getData` reports (`RECONCILE_RULES`): the status it
 * takes (its own when they agree), or `RECORD_IN_FLIGHT` for a record an operation owns.
 */
export function reconcileStatus(
  current: CtpStatus,
  reported: ReconcileReport,
): Result<CtpStatus, LifecycleError> {
  if (isOneOf(IN_PROGRESS_STATUSES, current)) {
    return err({
      code: 'RECORD_IN_FLIGHT',
      message: `the record is ${current}: an operation owns it`,
      current,
    });
  }
  const rule = RECONCILE_RULES[reported];
  return ok((rule.from as readonly CtpStatus[]).includes(current) ? rule.to : current);
}

/** What `/getData` reports for an entity and its kits (a kit the answer does not list is `ABSENT`). */
export interface NetworkReport {
  readonly entity: ReconcileReport;
  readonly kits: Readonly<Record<string, ReconcileReport>>;
}

/**
 * The statuses an entity and its kits take from a reconciliation. A consumer the network does not
 * hold (or removed) holds no instruments either, so its kits are reconciled as `ABSENT`.
 */
export function reconcileSnapshot(
  current: CtpSnapshot,
  report: NetworkReport,
): Result<CtpSnapshot, LifecycleError> {
  const entity = reconcileStatus(current.entity, report.entity);
  if (!entity.ok) return entity;
  const consumerGone = report.entity === 'ABSENT' || report.entity === 'REMOVED';
  const kits: Record<string, CtpStatus> = {};
  for (const [kitNo, status] of Object.entries(current.kits)) {
    const next = reconcileStatus(status, consumerGone ? 'ABSENT' : (report.kits[kitNo] ?? 'ABSENT'));
    if (!next.ok) return next;
    kits[kitNo] = next.value;
  }
  return ok({ entity: entity.value, kits });
}

/** Request trace lifecycle: `IN_PROGRESS` → `SUCCESS` | `FAILED`, once; terminal never changes. */
export const TRACE_TRANSITIONS = {
  IN_PROGRESS: ['SUCCESS', 'FAILED'],
  SUCCESS: [],
  FAILED: [],
} as const satisfies Record<TraceStatus, readonly TraceStatus[]>;

export function resolveTrace(
  current: TraceStatus,
  outcome: TerminalTraceStatus,
): Result<TerminalTraceStatus, LifecycleError> {
  if (isTerminalTrace(current)) {
    return err({ code: 'TRACE_ALREADY_TERMINAL', message: `the trace is already ${current}`, current });
  }
  return ok(outcome);
}

/**
 * Operation lifecycle as the API shows it: `QUEUED` until the SaaS accepts the request, then
 * the trace's status. A request the SaaS refuses outright fails from `QUEUED`.
 */
export const OPERATION_TRANSITIONS = {
  QUEUED: ['IN_PROGRESS', 'FAILED'],
  IN_PROGRESS: ['SUCCESS', 'FAILED'],
  SUCCESS: [],
  FAILED: [],
} as const satisfies Record<OperationStatus, readonly OperationStatus[]>;

export function canMoveOperation(from: OperationStatus, to: OperationStatus): boolean {
  return isOneOf(OPERATION_TRANSITIONS[from], to);
}

/** What the current step of a card replacement needs now (`REPLACEMENT_STEPS`). */
export type ReplacementStepAction =
  /** The step's goal already holds (the old card is off the network, the new one on it). */
  | { readonly kind: 'done' }
  | { readonly kind: 'start'; readonly event: 'CTP_REMOVE_KIT' | 'CTP_ADD_KIT'; readonly kitNo: string }
  /** The lifecycle cannot take the step from here (e.g. the customer left Click to Pay). */
  | { readonly kind: 'impossible'; readonly error: LifecycleError };

/**
 * Decides the step of a replacement on the entity's statuses now: `REMOVE_OLD` is done once the old
 * card is not on the network (or being enrolled), `ADD_NEW` once the new one is; otherwise the
 * step's operation, if `planRequest` allows it.
 */
export function planReplacementStep(
  step: ReplacementStep,
  current: CtpSnapshot,
  kits: { readonly oldKitNo: string; readonly newKitNo: string },
): ReplacementStepAction {
  const [event, kitNo] =
    step === 'REMOVE_OLD'
      ? (['CTP_REMOVE_KIT', kits.oldKitNo] as const)
      : (['CTP_ADD_KIT', kits.newKitNo] as const);
  const status = current.kits[kitNo] ?? 'UNREGISTERED';
  if (step === 'REMOVE_OLD' && (status === 'UNREGISTERED' || status === 'REMOVED')) return { kind: 'done' };
  if (step === 'ADD_NEW' && isOneOf(ON_NETWORK_STATUSES, status)) return { kind: 'done' };
  const plan = planRequest(event, current, kitNo);
  return plan.ok ? { kind: 'start', event, kitNo } : { kind: 'impossible', error: plan.error };
}
