import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { createdAtColumn, tenantColumn, updatedAtColumn } from './columns.ts';

/**
 * Whether a tenant's customers may be enrolled (M2P's `click.to.pay.enable`): `OFF` (`N`),
 * `ALLOW_LIST` (`Y|e1|e2`: only the listed entities), `ALL` (`Y|ALL`).
 */
export const CTP_MODES = ['OFF', 'ALLOW_LIST', 'ALL'] as const;
export type CtpMode = (typeof CTP_MODES)[number];

/**
 * A tenant's Click to Pay settings, one row per tenant; a tenant without a row has the v1
 * behaviour (`ALL`, no auto-enrolment). Written only by `settings/store.ts`, every write with
 * its `ctp_audit_log` row in the same transaction. Read per request (no process caches it), so
 * a change applies to the api and the workers at once, without a restart.
 */
export const CtpTenantSettings = defineEntity({
  name: 'CtpTenantSettings',
  tableName: 'ctp_tenant_settings',
  properties: {
    tenant: tenantColumn.primary(),
    mode: p.enum(CTP_MODES),
    /** Entity ids that may enrol under `ALLOW_LIST` (kept, and ignored, under the other modes). */
    allowList: p.json<string[]>(),
    autoEnrol: p.boolean(),
    /** 6- or 8-digit BIN prefixes; empty means every card. */
    eligibleBins: p.json<string[]>(),
    consentVersion: p.string().length(32).nullable(),
    defaultLocale: p.string().length(5).nullable(),
    /** The tenant's share of the SaaS, requests per second; null: the platform's default. */
    saasRatePerSecond: p.double().nullable(),
    createdAt: createdAtColumn,
    updatedAt: updatedAtColumn,
  },
});

export type CtpTenantSettings = InferEntity<typeof CtpTenantSettings>;
