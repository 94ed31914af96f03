import { Counter, Histogram, type Registry } from 'prom-client';
import type { SaasCallRecord } from '../saas/client.ts';
import { LATENCY_BUCKETS_S } from './registry.ts';

export interface SaasMetrics {
  readonly requestDuration: Histogram<'endpoint' | 'class'>;
  readonly errors: Counter<'endpoint' | 'class' | 'reason'>;
  /** For the SaaS client's `onCall`. */
  observe(call: SaasCallRecord): void;
}

/**
 * SaaS calls by endpoint (the contract's eight paths, without query) and class: `ok`,
 * `retryable` (5xx, 429, timeouts, lost connections: the job retries) or `permanent` (the
 * request was refused for good). `reason` says which: the status class, or how the transport
 * failed; the SaaS's own error code stays out of the labels, as a foreign string is no label.
 */
export function createSaasMetrics(registry: Registry): SaasMetrics {
  const requestDuration = new Histogram({
    name: 'ctp_saas_request_duration_seconds',
    help: 'CTP SaaS call latency by endpoint and class (ok, retryable, permanent)',
    labelNames: ['endpoint', 'class'],
    buckets: LATENCY_BUCKETS_S,
    registers: [registry],
  });
  const errors = new Counter({
    name: 'ctp_saas_errors_total',
    help: 'Failed CTP SaaS calls by endpoint, class (retryable, permanent) and reason',
    labelNames: ['endpoint', 'class', 'reason'],
    registers: [registry],
  });
  return {
    requestDuration,
    errors,
    observe(call) {
      requestDuration.observe({ endpoint: call.endpoint, class: call.outcome }, call.durationMs / 1000);
      if (call.outcome !== 'ok') {
        errors.inc({ endpoint: call.endpoint, class: call.outcome, reason: reasonOf(call) });
      }
    },
  };
}

const TRANSPORT_REASONS: Record<string, string> = {
  TIMEOUT: 'timeout',
  CONNECTION: 'connection',
  INVALID_RESPONSE: 'invalid_response',
  INVALID_OUTGOING_REQUEST: 'invalid_request',
};

function reasonOf(call: SaasCallRecord): string {
  if (call.code !== undefined && TRANSPORT_REASONS[call.code] !== undefined) {
    return TRANSPORT_REASONS[call.code] ?? 'unknown';
  }
  if (call.status === 429) return '429';
  if (call.status !== undefined) return `${Math.floor(call.status / 100)}xx`;
  return 'unknown';
}
