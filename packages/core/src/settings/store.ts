import { createHash } from 'node:crypto';
import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import type { CtpMode } from '../entities/ctp-tenant-settings.ts';
import { auditInsert, nextAuditKey } from '../operations/admin-actions.ts';
import { executeOnOrm, queryBound } from '../operations/sql-session.ts';
import { earlierAnswer } from '../records/idempotency.ts';
import { type CtpSettings, type CtpSettingsValues, DEFAULT_CTP_SETTINGS } from './schema.ts';

/**
 * The one module that writes `ctp_tenant_settings`. Every replacement commits with its
 * `ctp_audit_log` row (who, when, before, after) or not at all. Reads go to PostgreSQL each
 * time (no cache), so the api and the workers see a change at once, without a restart. Values
 * are bound parameters (`queryBound`), never inlined into the text (the ORM's `execute` would).
 */

interface SettingsRow {
  mode: CtpMode;
  allow_list: string[];
  auto_enrol: boolean;
  eligible_bins: string[];
  consent_version: string | null;
  default_locale: string | null;
  saas_rate_per_second: number | string | null;
  updated_at: Date | string;
}

const COLUMNS = `mode, allow_list, auto_enrol, eligible_bins, consent_version, default_locale,
  saas_rate_per_second, updated_at`;

function settingsOf(row: SettingsRow | undefined): CtpSettings {
  if (row === undefined) return { ...DEFAULT_CTP_SETTINGS, allowList: [], eligibleBins: [] };
  return {
    mode: row.mode,
    allowList: row.allow_list,
    autoEnrol: row.auto_enrol,
    eligibleBins: row.eligible_bins,
    consentVersion: row.consent_version,
    defaultLocale: row.default_locale,
    saasRatePerSecond: row.saas_rate_per_second === null ? null : Number(row.saas_rate_per_second),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

/** The tenant's settings; the defaults (`ALL`, nothing automatic) when it never set any. */
export async function readCtpSettings(em: EntityManager, tenant: string): Promise<CtpSettings> {
  const rows = await queryBound<SettingsRow>(
    em,
    `select ${COLUMNS} from ctp_tenant_settings where tenant = ?`,
    [tenant],
  );
  return settingsOf(rows[0]);
}

export interface ReplaceSettingsRequest {
  readonly tenant: string;
  /** Who: `api-key:<api_key.pkey>` for the api, the operator's login for the dashboard. */
  readonly actor: string;
  readonly settings: CtpSettingsValues;
  /** The client's `Idempotency-Key`, if it sent one (v1 semantics, 24 h). */
  readonly idempotencyKey?: string;
}

export interface ReplacedSettings {
  readonly settings: CtpSettings;
  /** True when this is the first answer again, for a repeated `Idempotency-Key`. */
  readonly replayed: boolean;
  /** The `ctp_audit_log` row of this change (null for a replay, which changed nothing). */
  readonly auditId: string | null;
}

/** What makes two replacements "the same request" for the `Idempotency-Key` rule. */
function fingerprintOf(settings: CtpSettingsValues): string {
  const { mode, allowList, autoEnrol, eligibleBins, consentVersion, defaultLocale, saasRatePerSecond } =
    settings;
  return createHash('sha256')
    .update(
      JSON.stringify([
        mode,
        allowList,
        autoEnrol,
        eligibleBins,
        consentVersion,
        defaultLocale,
        saasRatePerSecond,
      ]),
    )
    .digest('hex');
}

const valuesOf = ({ updatedAt: _, ...values }: CtpSettings): CtpSettingsValues => values;

/**
 * Replaces the tenant's settings whole, and audits it as `settings.update` in the same
 * transaction (details: `before`, `after`, the `Idempotency-Key` and the request's fingerprint).
 * The `Idempotency-Key` is kept on that audit row: the same key with the same settings answers
 * the first answer again, with other settings `422 IDEMPOTENCY_KEY_REUSED`, for 24 hours.
 */
export async function replaceCtpSettings(
  em: EntityManager,
  request: ReplaceSettingsRequest,
): Promise<ReplacedSettings> {
  const { tenant, actor, settings, idempotencyKey } = request;
  const fingerprint = fingerprintOf(settings);
  return em.transactional(async (tx) => {
    // One writer per tenant at a time: the key check, the before image and the write agree.
    await queryBound(tx, `select pg_advisory_xact_lock(hashtextextended(?, 0))`, [
      `ctp_tenant_settings:${tenant}`,
    ]);
    if (idempotencyKey !== undefined) {
      const earlier = await earlierAnswer<CtpSettings>(tx, tenant, idempotencyKey, fingerprint);
      if (earlier !== null) return { settings: earlier, replayed: true, auditId: null };
    }
    const before = settingsOf(
      (
        await queryBound<SettingsRow>(tx, `select ${COLUMNS} from ctp_tenant_settings where tenant = ?`, [
          tenant,
        ])
      )[0],
    );
    const [written] = await queryBound<SettingsRow>(
      tx,
      `insert into ctp_tenant_settings (tenant, mode, allow_list, auto_enrol, eligible_bins,
         consent_version, default_locale, saas_rate_per_second, created_at, updated_at)
       values (?, ?, ?::jsonb, ?, ?::jsonb, ?, ?, ?, now(), now())
       on conflict (tenant) do update set mode = excluded.mode, allow_list = excluded.allow_list,
         auto_enrol = excluded.auto_enrol, eligible_bins = excluded.eligible_bins,
         consent_version = excluded.consent_version, default_locale = excluded.default_locale,
         saas_rate_per_second = excluded.saas_rate_per_second, updated_at = now()
       returning ${COLUMNS}`,
      [
        tenant,
        settings.mode,
        JSON.stringify(settings.allowList),
        settings.autoEnrol,
        JSON.stringify(settings.eligibleBins),
        settings.consentVersion,
        settings.defaultLocale,
        settings.saasRatePerSecond,
      ],
    );
    const after = settingsOf(written);
    const auditId = await nextAuditKey(tx);
    const audit = auditInsert(auditId, {
      actor,
      action: 'settings.update',
      target: `settings:${tenant}`,
      tenant,
      details: {
        result: 'done',
        message: `CTP settings replaced: mode ${before.mode} → ${after.mode}, auto-enrolment ${after.autoEnrol ? 'on' : 'off'}`,
        before: JSON.stringify(before.updatedAt === null ? null : valuesOf(before)),
        after: JSON.stringify(after),
        requestHash: fingerprint,
        ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
      },
    });
    await executeOnOrm(tx, audit);
    return { settings: after, replayed: false, auditId };
  });
}
