import { DomainError } from '../errors/domain-error.ts';
import type { CtpEvent } from '../lifecycle/events.ts';
import { defineStatement, type SqlSession } from '../operations/sql-session.ts';

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

/**
 * Refuses (`409 CTP_NOT_ENABLED`) an enrolment the tenant's CTP settings do not allow: mode `OFF`,
 * or `ALLOW_LIST` without the entity. `requestOperation` calls it in its own transaction, after
 * the entity lock, so every route that starts an enrolment (v1, the M2P facade, an operator's
 * retry) is checked by construction, against the settings committed when the request is decided.
 * No cache: one indexed read per enrolment request, so a change applies at once in every
 * process. Removals and updates are never refused (and cost no read).
 */
export async function assertEnrolmentEnabled(
  session: SqlSession,
  request: { readonly tenant: string; readonly event: CtpEvent; readonly entityId: string },
): Promise<void> {
  if (!ENROLMENT_EVENTS.has(request.event)) return;
  const [rows] = await session.run([
    readEnrolmentSetting({ tenant: request.tenant, entityId: request.entityId }),
  ]);
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
