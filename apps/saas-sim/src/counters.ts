/**
 * What the simulator saw and did, for tests to assert on through `GET /__sim/state`:
 * requests by endpoint and status, work started (in total and per idempotency key, so a test
 * can prove each operation's work started once), webhook deliveries, and contract violations
 * of the caller by kind.
 */

export const VIOLATION_KINDS = [
  'missingRequestId',
  'malformedRequestId',
  'missingIdempotencyKey',
  'malformedIdempotencyKey',
  'idempotencyKeyReused',
  'invalidRequest',
  'unauthorized',
] as const;
export type ViolationKind = (typeof VIOLATION_KINDS)[number];

export interface WebhookCounts {
  /** HTTP attempts made (first deliveries and redeliveries). */
  attempted: number;
  /** Attempts answered 2xx. */
  succeeded: number;
  /** Attempts answered non-2xx or not answered in time. */
  failed: number;
  /** Messages dropped by the webhookDropRate fault. */
  dropped: number;
  /** Messages sent twice by the webhookDuplicateRate fault. */
  duplicated: number;
  /** Messages given up after the last redelivery. */
  exhausted: number;
  /** Messages not sent because no webhook URL is configured. */
  skipped: number;
}

export interface CountersSnapshot {
  readonly requests: Record<string, Record<string, number>>;
  readonly work: {
    readonly started: number;
    readonly byIdempotencyKey: Record<string, Record<string, number>>;
  };
  readonly webhooks: WebhookCounts;
  readonly violations: Record<ViolationKind, number>;
}

// Per-key work counts are kept for as many keys as a long benchmark can need; beyond that the
// oldest are forgotten so memory stays bounded (the total keeps counting).
const MAX_KEYS_COUNTED = 100_000;

export function createCounters() {
  const requests = new Map<string, Map<number, number>>();
  const workByKey = new Map<string, { tenant: string; key: string; count: number }>();
  const violations = new Map<ViolationKind, number>();
  const webhooks: WebhookCounts = emptyWebhookCounts();
  let workStarted = 0;

  return {
    webhooks,
    request(endpoint: string, status: number): void {
      let byStatus = requests.get(endpoint);
      if (byStatus === undefined) {
        byStatus = new Map();
        requests.set(endpoint, byStatus);
      }
      byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    },
    workStarted(tenant: string, key: string): void {
      workStarted++;
      const id = `${tenant}\u0000${key}`;
      const entry = workByKey.get(id);
      if (entry !== undefined) {
        entry.count++;
        return;
      }
      workByKey.set(id, { tenant, key, count: 1 });
      if (workByKey.size > MAX_KEYS_COUNTED) {
        const oldest = workByKey.keys().next();
        if (oldest.done !== true) workByKey.delete(oldest.value);
      }
    },
    violation(kind: ViolationKind): void {
      violations.set(kind, (violations.get(kind) ?? 0) + 1);
    },
    snapshot(): CountersSnapshot {
      const byIdempotencyKey: Record<string, Record<string, number>> = {};
      for (const { tenant, key, count } of workByKey.values()) {
        const forTenant = byIdempotencyKey[tenant] ?? {};
        forTenant[key] = count;
        byIdempotencyKey[tenant] = forTenant;
      }
      return {
        requests: Object.fromEntries(
          [...requests].map(([endpoint, byStatus]) => [endpoint, Object.fromEntries(byStatus)]),
        ),
        work: { started: workStarted, byIdempotencyKey },
        webhooks: { ...webhooks },
        violations: Object.fromEntries(VIOLATION_KINDS.map((k) => [k, violations.get(k) ?? 0])) as Record<
          ViolationKind,
          number
        >,
      };
    },
    clear(): void {
      requests.clear();
      workByKey.clear();
      violations.clear();
      Object.assign(webhooks, emptyWebhookCounts());
      workStarted = 0;
    },
  };
}

export type Counters = ReturnType<typeof createCounters>;

function emptyWebhookCounts(): WebhookCounts {
  return { attempted: 0, succeeded: 0, failed: 0, dropped: 0, duplicated: 0, exhausted: 0, skipped: 0 };
}
