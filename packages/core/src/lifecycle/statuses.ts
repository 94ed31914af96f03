/**
 * The seed's status vocabularies, as `as const` tables. Everything else (zod enums, CHECK
 * constraints, the Mermaid diagrams) is derived from these.
 */

/** Entity and kit CTP status (seed: "Entity & Kit Status", Java enum CTPEntityKitStatus). */
export const CTP_STATUSES = [
  'UNREGISTERED',
  'REGISTRATION_IN_PROGRESS',
  'ACTIVE',
  'REMOVAL_IN_PROGRESS',
  'REMOVED',
  'DISABLED',
] as const;
export type CtpStatus = (typeof CTP_STATUSES)[number];

/** Statuses that mean "an operation is in flight and owns this record". */
export const IN_PROGRESS_STATUSES = [
  'REGISTRATION_IN_PROGRESS',
  'REMOVAL_IN_PROGRESS',
] as const satisfies readonly CtpStatus[];

/** Statuses of a record that exists on the network (the SaaS knows it). */
export const ON_NETWORK_STATUSES = ['ACTIVE', 'DISABLED'] as const satisfies readonly CtpStatus[];

/** Request trace status (seed: "Request Trace Status", column status_ctp). */
export const TRACE_STATUSES = ['IN_PROGRESS', 'SUCCESS', 'FAILED'] as const;
export type TraceStatus = (typeof TRACE_STATUSES)[number];
export const TERMINAL_TRACE_STATUSES = ['SUCCESS', 'FAILED'] as const satisfies readonly TraceStatus[];
export type TerminalTraceStatus = (typeof TERMINAL_TRACE_STATUSES)[number];

/**
 * Operation status as the platform API shows it: `QUEUED` until the SaaS has accepted the
 * request (no trace exists yet), then the request trace's status.
 */
export const OPERATION_STATUSES = ['QUEUED', ...TRACE_STATUSES] as const;
export type OperationStatus = (typeof OPERATION_STATUSES)[number];

/** Statuses a network-driven change (webhook `*.status_changed`) may carry. */
export const NETWORK_STATUSES = ['ACTIVE', 'DISABLED', 'REMOVED'] as const satisfies readonly CtpStatus[];
export type NetworkStatus = (typeof NETWORK_STATUSES)[number];

export function isOneOf<const T extends string>(values: readonly T[], value: string): value is T {
  return (values as readonly string[]).includes(value);
}

export function isTerminalTrace(status: TraceStatus): status is TerminalTraceStatus {
  return isOneOf(TERMINAL_TRACE_STATUSES, status);
}

/**
 * The platform's own status of a card (`kit.status`, platform contract "Card and customer
 * lifecycle from the platform's records"); not a CTP status.
 */
export const CARD_STATUSES = ['ACTIVE', 'BLOCKED', 'CLOSED'] as const;
export type CardStatus = (typeof CARD_STATUSES)[number];

/** The platform's own status of a customer (`business_entity.status`). */
export const CUSTOMER_STATUSES = ['ACTIVE', 'CLOSED'] as const;
export type CustomerStatus = (typeof CUSTOMER_STATUSES)[number];
