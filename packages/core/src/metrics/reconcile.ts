import { Counter, type Registry } from 'prom-client';

export interface ReconcileMetrics {
  /** Entities compared with `/getData` (skipped and failed checks included). */
  readonly checked: Counter;
  readonly drift: Counter<'field' | 'action'>;
}

/** Reconciliation with the network (scheduled and on request). */
export function createReconcileMetrics(registry: Registry): ReconcileMetrics {
  return {
    checked: new Counter({
      name: 'ctp_reconcile_checked_total',
      help: 'Entities a reconciliation checked against the network (GET /getData), skipped and failed ones included',
      registers: [registry],
    }),
    drift: new Counter({
      name: 'ctp_reconcile_drift_total',
      help: 'Differences a reconciliation found between our records and the network, by field and what was done (REPAIRED, UPDATE_QUEUED, WOULD_REPAIR, WOULD_UPDATE, SKIPPED_IN_FLIGHT, REPORTED)',
      labelNames: ['field', 'action'],
      registers: [registry],
    }),
  };
}
