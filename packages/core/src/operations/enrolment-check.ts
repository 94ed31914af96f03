import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import { DomainError, notFound } from '../errors/domain-error.ts';
import type { CtpEvent } from '../lifecycle/events.ts';
import { type CtpSnapshot, enrolmentRefusal } from '../lifecycle/transitions.ts';
import { loadCtpRecords, snapshotOf } from './ctp-records.ts';

/**
 * The platform's records refuse an enrolment (a closed customer; a blocked or closed card) in the
 * contract's vocabulary: `enrolmentRefusal` decides (and `planRequest` refuses the same), this
 * names it. Without `kitNo` only the customer is judged, so a caller can keep M2P's order ("the
 * customer is active" before "the kit belongs to the entity").
 */
export function refuseEnrolment(event: CtpEvent, snapshot: CtpSnapshot, kitNo?: string): void {
  const refusal = snapshot.records === undefined ? null : enrolmentRefusal(event, snapshot.records, kitNo);
  if (refusal?.code === 'CUSTOMER_NOT_ACTIVE')
    throw new DomainError('CUSTOMER_NOT_ACTIVE', refusal.message, { event, status: refusal.status });
  if (refusal?.code === 'CARD_NOT_ACTIVE')
    throw new DomainError('CARD_NOT_ACTIVE', refusal.message, { event, kitNo, status: refusal.status });
}

/**
 * The record checks of an enrolment, read without a lock, in M2P's order: the entity exists, the
 * customer is active, the kit is the entity's, the card is active. For a caller that must not
 * write anything a refused request would leave behind (M2P's consent, stored before the
 * request); `requestOperation` checks all of it again under the entity lock.
 */
export async function checkEnrolmentRecords(
  em: EntityManager,
  request: {
    readonly tenant: string;
    readonly event: CtpEvent;
    readonly entityId: string;
    readonly kitNo: string;
  },
): Promise<void> {
  const records = await loadCtpRecords(em.fork(), request.tenant, request.entityId);
  if (records === null) throw notFound('entity');
  const snapshot = snapshotOf(records);
  refuseEnrolment(request.event, snapshot);
  if (!records.kits.has(request.kitNo)) throw notFound('kit');
  refuseEnrolment(request.event, snapshot, request.kitNo);
}
