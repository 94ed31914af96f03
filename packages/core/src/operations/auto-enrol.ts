import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import type { Consent } from '../entities/business-entity.ts';
import { type KitChangeForSync, queuePendingSyncs, syncOnKitChange } from './automatic-sync.ts';
import { defineStatement, executeOnOrm } from './sql-session.ts';

/**
 * Auto-enrolment (platform contract, "Tenant CTP settings"): a newly created card with an eligible
 * BIN, of an entity the tenant's settings let enrol, that accepted consent and never opted out,
 * starts its enrolment by itself. It is queued as a pending sync in the card's own transaction,
 * with the outbox row of its promote job: a committed card always enrols (whatever dies after the
 * commit), a rolled-back one never does, and it waits behind an operation in flight for the
 * entity. Promotion picks `CTP_REGISTER_ENTITY_AND_KIT` or `CTP_ADD_KIT` from the entity's status
 * when it runs.
 */

/** The opt-out reason of `DELETE /v1/ctp/entities/{id}` that auto-enrolment remembers. */
export const OPT_OUT_REASON = 'CUSTOMER_OPT_OUT';

export interface KitCreatedForEnrolment extends KitChangeForSync {
  /** The card number's first 8 digits (a BIN prefix; never stored from here). */
  readonly panPrefix: string;
}

interface AutoEnrolRow {
  auto_enrol: boolean;
  mode: string;
  listed: boolean;
  eligible_bins: string[];
  consent_version: string | null;
  consent: Consent | null;
  opted_out: boolean;
}

/**
 * Everything the decision needs, in one statement, in the card's transaction (after its entity
 * lock). No settings row: the defaults, which never auto-enrol. Opt-out is read from what already
 * records it: a removal requested with `CUSTOMER_OPT_OUT`, or the network removing the consumer
 * (`ctp_status_history`'s network cause), so nothing else has to remember it.
 */
const readAutoEnrolDecision = defineStatement<{ tenant: string; entity_id: string }, AutoEnrolRow>(
  'ctp_auto_enrol_decision',
  `select s.auto_enrol, s.mode, s.allow_list @> jsonb_build_array($entity_id::text) as listed,
          s.eligible_bins, s.consent_version, e.consent,
          (exists (select 1 from ctp_operation o
                    where o.tenant = $tenant::text and o.entity_id = $entity_id::text
                      and o.event = 'CTP_REMOVE_ENTITY' and o.reason = 'CUSTOMER_OPT_OUT')
           or exists (select 1 from ctp_status_history h
                       where h.tenant = $tenant::text and h.entity_id = $entity_id::text
                         and h.record = 'entity' and h.to_status = 'REMOVED'
                         and h.cause like 'network:%')) as opted_out
     from ctp_tenant_settings s
     join business_entity e on e.tenant = s.tenant and e.entity_id = $entity_id::text
    where s.tenant = $tenant::text`,
);

/** Why a new card was not auto-enrolled, or `null` when it is. */
export function autoEnrolRefusal(row: AutoEnrolRow | undefined, panPrefix: string): string | null {
  if (row === undefined || !row.auto_enrol) return 'AUTO_ENROL_OFF';
  if (row.mode === 'OFF' || (row.mode === 'ALLOW_LIST' && !row.listed)) return 'CTP_NOT_ENABLED';
  if (!binEligible(row.eligible_bins, panPrefix)) return 'BIN_NOT_ELIGIBLE';
  if (row.consent?.accepted !== true) return 'NO_CONSENT';
  if (row.consent_version !== null && row.consent.version !== row.consent_version) return 'NO_CONSENT';
  if (row.opted_out) return 'OPTED_OUT';
  return null;
}

/** An empty list makes every card eligible. */
export function binEligible(eligibleBins: readonly string[], pan: string): boolean {
  return eligibleBins.length === 0 || eligibleBins.some((bin) => pan.startsWith(bin));
}

/** Runs inside a new card's transaction; queues its enrolment when the tenant's settings call for it. */
export async function autoEnrolOnKitCreated(
  tx: EntityManager,
  change: KitCreatedForEnrolment,
): Promise<number> {
  if (!change.created) return 0;
  const [row] = await executeOnOrm(
    tx,
    readAutoEnrolDecision({ tenant: change.tenant, entity_id: change.entityId }),
  );
  if (autoEnrolRefusal(row, change.panPrefix) !== null) return 0;
  return queuePendingSyncs(tx, change.tenant, change.entityId, [
    { event: 'CTP_REGISTER_ENTITY_AND_KIT', kitNo: change.kitNo },
  ]);
}

/** The api's card-change hook: the automatic update of a changed card, or a new card's enrolment. */
export async function syncOrEnrolOnKitChange(
  tx: EntityManager,
  change: KitCreatedForEnrolment,
): Promise<number> {
  return (await syncOnKitChange(tx, change)) + (await autoEnrolOnKitCreated(tx, change));
}
