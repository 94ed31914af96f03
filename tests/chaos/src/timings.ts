/**
 * Short timings, so a dead worker's jobs come back, lost work is re-driven and slow answers
 * time out within seconds instead of the production minutes; the run fits in a few minutes.
 * The SaaS timeout (1 s) is below the slow-answer fault's upper latency on purpose.
 */
export const TIMINGS = {
  TRACE_FIRST_POLL_MS: 500,
  TRACE_POLL_MAX_INTERVAL_MS: 2_000,
  WORKER_LOCK_DURATION_MS: 3_000,
  SWEEP_STALE_MS: 3_000,
  SAAS_TIMEOUT_MS: 1_000,
  SAAS_SIM_COMPLETION_DELAY_MS: 100,
  OUTBOX_RELAY_REDIS_TIMEOUT_MS: 1_000,
  OUTBOX_CLAIM_LEASE_MS: 3_000,
} as const;
