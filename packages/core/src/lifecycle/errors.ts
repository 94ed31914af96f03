import type { CtpEvent } from './events.ts';
import type { CardStatus, CtpStatus, CustomerStatus, TraceStatus } from './statuses.ts';

/**
 * Why the lifecycle refused a transition. `code` is the contract's vocabulary; the API maps
 * it to an HTTP status in one place.
 */
export type LifecycleError =
  | {
      readonly code: 'INVALID_STATE';
      readonly message: string;
      readonly event: CtpEvent;
      readonly entityStatus: CtpStatus;
      readonly kitStatus?: CtpStatus;
    }
  | { readonly code: 'KIT_REQUIRED'; readonly message: string; readonly event: CtpEvent }
  | {
      readonly code: 'CUSTOMER_NOT_ACTIVE';
      readonly message: string;
      readonly event: CtpEvent;
      readonly status: CustomerStatus;
    }
  | {
      readonly code: 'CARD_NOT_ACTIVE';
      readonly message: string;
      readonly event: CtpEvent;
      readonly status: CardStatus;
    }
  | {
      readonly code: 'RECORD_STATUS_NOT_ALLOWED';
      readonly message: string;
      readonly from: CardStatus | CustomerStatus;
      readonly to: CardStatus | CustomerStatus;
    }
  | { readonly code: 'TRACE_ALREADY_TERMINAL'; readonly message: string; readonly current: TraceStatus }
  | {
      readonly code: 'STALE_NETWORK_CHANGE';
      readonly message: string;
      readonly current: CtpStatus;
      readonly reported: CtpStatus;
    }
  | { readonly code: 'RECORD_IN_FLIGHT'; readonly message: string; readonly current: CtpStatus };

export type LifecycleErrorCode = LifecycleError['code'];
