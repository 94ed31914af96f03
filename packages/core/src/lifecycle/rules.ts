import type { CtpEvent } from './events.ts';
import type { CardStatus, CtpStatus, CustomerStatus } from './statuses.ts';

/**
 * What one CTP event does to one record (the entity, the named kit, or the kits an entity
 * removal takes along):
 * - `from`: the statuses the record must have for the request to be accepted;
 * - `pending`: its status while the operation is in flight, or `null` when the event leaves
 *   it unchanged (updates; the entity of a kit-level event);
 * - `success`: its status when the trace ends `SUCCESS` (`null`: unchanged).
 * A `FAILED` trace puts every record the request changed back to the status it had before.
 */
export interface SideRule {
  readonly from: readonly CtpStatus[];
  readonly pending: CtpStatus | null;
  readonly success: CtpStatus | null;
}

export interface EventRule {
  readonly entity: SideRule;
  /** The kit the request names (`kitNo`), or `null` for entity-level events. */
  readonly kit: SideRule | null;
  /** Every kit of the entity in `from` is taken along (only `CTP_REMOVE_ENTITY`). */
  readonly allKits: SideRule | null;
}

const unchanged = (from: readonly CtpStatus[]): SideRule => ({ from, pending: null, success: null });

const registration = (from: readonly CtpStatus[]): SideRule => ({
  from,
  pending: 'REGISTRATION_IN_PROGRESS',
  success: 'ACTIVE',
});

const removal = (from: readonly CtpStatus[]): SideRule => ({
  from,
  pending: 'REMOVAL_IN_PROGRESS',
  success: 'REMOVED',
});

/**
 * The platform contract's "Allowed when" column, as data. Two choices the contract leaves open:
 * - a kit-level removal or update needs the entity on the network (`ACTIVE` or `DISABLED`);
 * - an entity removal takes along every kit that is on the network (`ACTIVE` and `DISABLED`):
 *   removing the consumer removes all its instruments at the network, so a `DISABLED` kit left
 *   behind would disagree with it.
 */
export const EVENT_RULES = {
  CTP_REGISTER_ENTITY_AND_KIT: {
    entity: registration(['UNREGISTERED', 'REMOVED']),
    kit: registration(['UNREGISTERED', 'REMOVED', 'DISABLED']),
    allKits: null,
  },
  CTP_ADD_KIT: {
    entity: unchanged(['ACTIVE']),
    kit: registration(['UNREGISTERED', 'REMOVED']),
    allKits: null,
  },
  CTP_REMOVE_ENTITY: {
    entity: removal(['ACTIVE', 'DISABLED']),
    kit: null,
    allKits: removal(['ACTIVE', 'DISABLED']),
  },
  CTP_REMOVE_KIT: {
    entity: unchanged(['ACTIVE', 'DISABLED']),
    kit: removal(['ACTIVE', 'DISABLED']),
    allKits: null,
  },
  CTP_UPDATE_ENTITY: {
    entity: unchanged(['ACTIVE']),
    kit: null,
    allKits: null,
  },
  CTP_UPDATE_KIT: {
    entity: unchanged(['ACTIVE', 'DISABLED']),
    kit: unchanged(['ACTIVE']),
    allKits: null,
  },
} as const satisfies Record<CtpEvent, EventRule>;

/**
 * Network-driven changes (`*.status_changed` webhooks): the network is the truth for a record
 * it holds. From a status not listed here the change is stale (the record is not on the
 * network as far as we know, or an operation of ours owns it) and changes nothing.
 */
export const NETWORK_CHANGE_RULES = {
  ACTIVE: ['DISABLED'],
  DISABLED: ['ACTIVE'],
  REMOVED: ['ACTIVE', 'DISABLED', 'REMOVAL_IN_PROGRESS'],
} as const satisfies Record<'ACTIVE' | 'DISABLED' | 'REMOVED', readonly CtpStatus[]>;

/**
 * The platform's records drive CTP work: which status changes of a card or a customer are
 * allowed, and which CTP event each one queues for the record by itself (behind any operation in
 * flight for the entity). Choices the contract leaves open:
 * - `CLOSED` is final for a card ("never enrols again"); a customer may be reopened (`ACTIVE`),
 *   which enrols nothing by itself: its removal, once committed, still runs;
 * - `BLOCKED` leaves a card on Click to Pay (only new enrolments are refused); it is not a removal.
 */
export interface RecordStatusRule<S extends string> {
  readonly to: readonly S[];
  /** The CTP work a change *to* this status starts (`null`: none). */
  readonly starts: CtpEvent | null;
}

export const CARD_STATUS_RULES = {
  ACTIVE: { to: ['BLOCKED', 'CLOSED'], starts: null },
  BLOCKED: { to: ['ACTIVE', 'CLOSED'], starts: null },
  CLOSED: { to: [], starts: 'CTP_REMOVE_KIT' },
} as const satisfies Record<CardStatus, RecordStatusRule<CardStatus>>;

export const CUSTOMER_STATUS_RULES = {
  ACTIVE: { to: ['CLOSED'], starts: null },
  CLOSED: { to: ['ACTIVE'], starts: 'CTP_REMOVE_ENTITY' },
} as const satisfies Record<CustomerStatus, RecordStatusRule<CustomerStatus>>;

/** Events that put a card on Click to Pay: refused for a card or customer that is not `ACTIVE`. */
export const ENROLMENT_EVENTS = [
  'CTP_REGISTER_ENTITY_AND_KIT',
  'CTP_ADD_KIT',
] as const satisfies readonly CtpEvent[];

/**
 * A replacement moves the network from the old card to the new one, in this order of steps: a
 * stolen number leaves the network at once; otherwise the customer keeps a card on Click to Pay
 * throughout.
 */
export const REPLACEMENT_REASONS = ['REISSUE', 'EXPIRY', 'LOST_STOLEN', 'DAMAGED'] as const;
export type ReplacementReason = (typeof REPLACEMENT_REASONS)[number];
export type ReplacementStep = 'REMOVE_OLD' | 'ADD_NEW';

export const REPLACEMENT_STEPS = {
  LOST_STOLEN: ['REMOVE_OLD', 'ADD_NEW'],
  REISSUE: ['ADD_NEW', 'REMOVE_OLD'],
  EXPIRY: ['ADD_NEW', 'REMOVE_OLD'],
  DAMAGED: ['ADD_NEW', 'REMOVE_OLD'],
} as const satisfies Record<ReplacementReason, readonly ReplacementStep[]>;

/**
 * What the network reports for a record when a reconciliation reads `/getData`: one of its
 * statuses, or `ABSENT` (it holds no such consumer or instrument).
 */
export const RECONCILE_REPORTS = ['ACTIVE', 'DISABLED', 'REMOVED', 'ABSENT'] as const;
export type ReconcileReport = (typeof RECONCILE_REPORTS)[number];

/**
 * Reconciliation (platform contract, "Reconciliation with the network"): the network is the truth
 * for statuses. For each report, the statuses of ours it overrides and what they become. A record
 * the network holds that we think is off it (`UNREGISTERED`, `REMOVED`: an outcome we never
 * learnt, e.g. a trace that timed out here and succeeded there) takes the network's status; a
 * record we think is on it that the network no longer holds becomes `REMOVED`. `*_IN_PROGRESS`
 * is never overridden: an operation owns the record, and a reconciliation skips the entity. A
 * pair not listed agrees (the same status, or off the network on both sides).
 */
export const RECONCILE_RULES = {
  ACTIVE: { from: ['UNREGISTERED', 'REMOVED', 'DISABLED'], to: 'ACTIVE' },
  DISABLED: { from: ['UNREGISTERED', 'REMOVED', 'ACTIVE'], to: 'DISABLED' },
  REMOVED: { from: ['ACTIVE', 'DISABLED'], to: 'REMOVED' },
  ABSENT: { from: ['ACTIVE', 'DISABLED'], to: 'REMOVED' },
} as const satisfies Record<ReconcileReport, { from: readonly CtpStatus[]; to: CtpStatus }>;
