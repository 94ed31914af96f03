import { Counter, type Registry } from 'prom-client';

export interface AdminMetrics {
  readonly actions: Counter<'action' | 'result'>;
}

/** Operator actions taken from the dashboard (each is also in `ctp_audit_log`, with who). */
export function createAdminMetrics(registry: Registry): AdminMetrics {
  return {
    actions: new Counter({
      name: 'ctp_admin_actions_total',
      help: 'Operator actions from the dashboard (console and Bull Board writes), by action and result (done, refused, failed)',
      labelNames: ['action', 'result'],
      registers: [registry],
    }),
  };
}
