/**
 * What the invariant checker judges, gathered once the system has settled (`gather.ts`) or
 * fabricated by the checker's self-test. Plain data: the checker does no I/O.
 */

export interface OperationFact {
  readonly id: string;
  readonly tenant: string;
  readonly event: string;
  readonly entityId: string;
  readonly kitNo: string | null;
  /** `ctp_operation.status`. */
  readonly status: string;
  /** Why it failed (`ctp_operation.error_code`), for the story printed with a breach. */
  readonly errorCode: string | null;
  /** ISO timestamp of the request. */
  readonly createdAt: string;
  /** The operation's `ctp_requestIdTracking` row, if the SaaS accepted it. */
  readonly trace: { readonly requestTraceId: string; readonly status: string } | null;
}

/** An entity with its CTP status; `UNREGISTERED` and no id when it has no `ctp_customer` row. */
export interface EntityFact {
  readonly tenant: string;
  readonly entityId: string;
  readonly status: string;
  readonly clickToPayCustomerId: string | null;
}

export interface KitFact {
  readonly tenant: string;
  readonly entityId: string;
  readonly kitNo: string;
  readonly status: string;
  readonly clickToPayPaymentInstrumentId: string | null;
}

export interface NetworkInstrument {
  readonly externalInstrumentId: string;
  readonly clickToPayPaymentInstrumentId: string;
  readonly status: string;
}

export interface NetworkConsumer {
  readonly externalConsumerId: string;
  readonly clickToPayCustomerId: string;
  readonly status: string;
  readonly paymentInstruments: readonly NetworkInstrument[];
}

export interface NetworkTrace {
  readonly tenant: string;
  readonly idempotencyKey: string;
  readonly requestTraceId: string;
  readonly event: string;
  readonly status: string;
  readonly externalConsumerId: string;
  readonly externalInstrumentId?: string | undefined;
  readonly clickToPayCustomerId?: string | undefined;
  readonly clickToPayPaymentInstrumentId?: string | undefined;
}

/** The simulator's state (`GET /__sim/state`): the network's truth and its work counters. */
export interface NetworkFacts {
  readonly consumers: Readonly<Record<string, readonly NetworkConsumer[]>>;
  readonly traces: readonly NetworkTrace[];
  /** tenant → idempotency key → how often the work started. */
  readonly workByKey: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

export interface StreamEntryFact {
  readonly streamId: string;
  readonly notificationId: string;
  /** The `payload` field as stored (JSON text). */
  readonly payload: string;
}

export interface LogFact {
  readonly source: string;
  readonly lines: readonly string[];
}

export interface BatchItemFact {
  readonly seq: number;
  readonly entityId: string;
  readonly status: string;
  readonly operationId: string | null;
  readonly reason: string | null;
}

export interface BatchFact {
  readonly id: string;
  readonly tenant: string;
  readonly status: string;
  readonly items: readonly BatchItemFact[];
}

export interface Facts {
  /** Every operation id the api answered `202` for during the load. */
  readonly acceptedOperationIds: readonly string[];
  /** The batches the load uploaded (answered `202`), with how many items each carried. */
  readonly submittedBatches: readonly { readonly batchId: string; readonly items: number }[];
  readonly batches: readonly BatchFact[];
  readonly operations: readonly OperationFact[];
  readonly entities: readonly EntityFact[];
  readonly kits: readonly KitFact[];
  readonly network: NetworkFacts;
  readonly notifications: readonly StreamEntryFact[];
  readonly logs: readonly LogFact[];
}
