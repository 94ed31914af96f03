import { DomainError } from '../errors/domain-error.ts';
import type { CtpEvent } from '../lifecycle/events.ts';
import { defineStatement, type Statement } from '../operations/sql-session.ts';

/** The events that start an enrolment: refused unless the tenant's settings allow the entity. */
export const ENROLMENT_EVENTS: ReadonlySet<CtpEvent> = new Set([
  'CTP_REGISTER_ENTITY_AND_KIT',
  'CTP_ADD_KIT',
]);

// A fixed statement; `@>` rather than jsonb's `?` operator.
const readEnrolmentSetting = defineStatement<
  { tenant: string; entityId: string },
  { mode: string; listed: boolean }
>(
  'ctp_settings_enrolment',
  `select mode, allow_list @> jsonb_build_array($entityId::text) as listed
     from ctp_tenant_settings where tenant = $tenant`,
);

type EnrolmentRequest = { readonly tenant: string; readonly event: CtpEvent; readonly entityId: string };

/**
 * The read `assertEnrolmentEnabled` judges, for an enrolment; `null` for removals and updates
 * (never refused, so they cost no read). `requestOperation` sends it in the round trip that takes
 * the entity lock and reads the aggregate: after the lock, so it sees the settings committed when
 * the request is decided, and at no extra round trip.
 */
export function enrolmentSettingRead(request: EnrolmentRequest): Statement | null {
  if (!ENROLMENT_EVENTS.has(request.event)) return null;
  return readEnrolmentSetting({ tenant: request.tenant, entityId: request.entityId });
}

/**
 * Refuses (`409 CTP_NOT_ENABLED`) an enrolment the tenant's CTP settings do not allow: mode `OFF`,
 * or `ALLOW_LIST` without the entity, judged on the rows of `enrolmentSettingRead`. Inside
 * `requestOperation`, so every route that starts an enrolment (v1, the M2P facade, an
 * operator's retry) is checked by construction. No cache: a change applies at once in every
 * process.
 */
export function assertEnrolmentEnabled(
  request: EnrolmentRequest,
  rows: readonly unknown[] | undefined,
): void {
  if (!ENROLMENT_EVENTS.has(request.event)) return;
  const row = rows?.[0] as { mode: string; listed: boolean } | undefined;
  // No row: v1's behaviour (`ALL`).
  if (row === undefined || row.mode === 'ALL') return;
  if (row.mode === 'ALLOW_LIST' && row.listed) return;
  throw new DomainError(
    'CTP_NOT_ENABLED',
    row.mode === 'OFF'
      ? 'Click to Pay is not enabled for this tenant'
      : "this entity is not on the tenant's Click to Pay allow-list",
    { mode: row.mode },
  );
}
