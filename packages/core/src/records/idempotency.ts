import { createHash } from 'node:crypto';
import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import type { AuditAction } from '../entities/audit-log.ts';
import { DomainError } from '../errors/domain-error.ts';
import { auditInsert, nextAuditKey } from '../operations/admin-actions.ts';
import { executeOnOrm, queryBound } from '../operations/sql-session.ts';
import { inTransaction } from './transaction.ts';

/**
 * `Idempotency-Key` (platform contract, "CTP operations") on the writes that are not operations:
 * tenant settings and the record changes of the card and customer lifecycle. Such a write keeps
 * the key on the audit row it commits with (details `idempotencyKey`, `requestHash`, and `after`:
 * the first answer), so the same key with the same request answers that first answer again and
 * changes nothing, and with another request `422 IDEMPOTENCY_KEY_REUSED`, for 24 hours. A key is
 * the tenant's whatever the route, as on the operation routes. A refused request commits nothing,
 * so it keeps no key: its retry is judged afresh.
 */

/** The client's key, and who sent it (`api-key:<pkey>`, the audit row's actor). */
export interface Idempotency {
  readonly key: string;
  readonly actor: string;
}

/** The newest audit row of the last 24 h under a key (`idx_ctp_audit_log_idempotency_key`). */
export const EARLIER_ANSWER_SQL = `select details->>'requestHash' as request_hash, details->>'after' as after
       from ctp_audit_log
      where tenant = ? and details->>'idempotencyKey' = ? and at > now() - interval '24 hours'
      order by at desc, pkey desc limit 1`;

/** The earlier answer under this key (null: none in 24 h), or `422` when it was another request. */
export async function earlierAnswer<T>(
  tx: EntityManager,
  tenant: string,
  key: string,
  fingerprint: string,
): Promise<T | null> {
  // Two requests with one key, at once: the second waits for the first's commit and replays it.
  await queryBound(tx, `select pg_advisory_xact_lock(hashtextextended(?, 0))`, [
    `idempotency-key:${tenant}:${key}`,
  ]);
  const [earlier] = await queryBound<{ request_hash: string | null; after: string | null }>(
    tx,
    EARLIER_ANSWER_SQL,
    [tenant, key],
  );
  if (earlier === undefined) return null;
  if (earlier.request_hash !== fingerprint || earlier.after === null)
    throw new DomainError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for another request');
  return JSON.parse(earlier.after) as T;
}

/** A record change: what it is (the audit action and target) and the request that asked for it. */
export interface RecordChange {
  readonly tenant: string;
  readonly entityId: string;
  readonly action: AuditAction;
  readonly target: string;
  /**
   * The request as parsed at the edge, a card number in it masked (`maskedPan`): never the digest
   * of a whole number (an unkeyed hash of a PAN is as good as the PAN). Two requests under one key
   * that differ only in the middle digits of a new card are taken for the same request.
   */
  readonly request: unknown;
  readonly idempotency?: Idempotency | undefined;
}

/**
 * Runs a record change in one transaction (`inTransaction`); with a key, the change answers once:
 * the earlier answer under the key is returned without running `work`, and a first answer is
 * kept on an audit row written in the change's own commit.
 */
export async function changeOnce<T>(
  em: EntityManager,
  change: RecordChange,
  work: (tx: EntityManager) => Promise<T>,
): Promise<{ readonly answer: T; readonly replayed: boolean }> {
  const { idempotency } = change;
  if (idempotency === undefined) return { answer: await inTransaction(em, work), replayed: false };
  const fingerprint = createHash('sha256')
    .update(JSON.stringify([change.action, change.entityId, change.target, change.request]))
    .digest('hex');
  return inTransaction(em, async (tx) => {
    const earlier = await earlierAnswer<T>(tx, change.tenant, idempotency.key, fingerprint);
    if (earlier !== null) return { answer: earlier, replayed: true };
    const answer = await work(tx);
    const audit = auditInsert(await nextAuditKey(tx), {
      actor: idempotency.actor,
      action: change.action,
      target: change.target,
      tenant: change.tenant,
      entityId: change.entityId,
      details: {
        result: 'done',
        after: JSON.stringify(answer),
        requestHash: fingerprint,
        idempotencyKey: idempotency.key,
      },
    });
    await executeOnOrm(tx, audit);
    return { answer, replayed: false };
  });
}
