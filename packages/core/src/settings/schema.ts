import { z } from 'zod';
import { clientText } from '../contracts/client-text.ts';
import { externalIdSchema } from '../contracts/platform-api.ts';
import { CTP_MODES } from '../entities/ctp-tenant-settings.ts';

/**
 * `GET|PUT /v1/ctp/settings` (platform contract, "Tenant CTP settings"): the body a client sends
 * and the answer it gets, as zod schemas the api validates with and documents from. Every string
 * is `clientText` (no NUL, no lone surrogate, no card number); the body is strict.
 */

/** How many entity ids an allow-list holds at most (a pilot list; `ALL` is the portfolio mode). */
export const MAX_ALLOW_LIST = 1_000;
/** How many BIN prefixes a tenant lists at most. */
export const MAX_ELIGIBLE_BINS = 500;
/** The highest SaaS rate a tenant may be given, requests per second. */
export const MAX_SAAS_RATE_PER_SECOND = 10_000;

const binSchema = clientText(
  { max: 8, trim: false },
  z.string().regex(/^(\d{6}|\d{8})$/, { message: 'must be a 6- or 8-digit BIN prefix', abort: true }),
);

const localeSchema = clientText(
  { max: 5, trim: false },
  z.string().regex(/^[a-z]{2}_[A-Z]{2}$/, { message: 'must be a locale like en_AE', abort: true }),
);

/**
 * `PUT` replaces the settings whole: `mode` is required, an absent field takes its default
 * (empty lists, no auto-enrolment, no consent version, locale or rate of its own).
 */
export const ctpSettingsBodySchema = z
  .strictObject({
    mode: z.enum(CTP_MODES),
    allowList: z.array(externalIdSchema).max(MAX_ALLOW_LIST).optional(),
    autoEnrol: z.boolean().optional(),
    eligibleBins: z.array(binSchema).max(MAX_ELIGIBLE_BINS).optional(),
    consentVersion: clientText({ max: 32 }).nullable().optional(),
    defaultLocale: localeSchema.nullable().optional(),
    saasRatePerSecond: z.number().positive().max(MAX_SAAS_RATE_PER_SECOND).nullable().optional(),
  })
  .meta({ id: 'CtpSettingsInput' });
export type CtpSettingsBody = z.infer<typeof ctpSettingsBodySchema>;

export const ctpSettingsSchema = z
  .object({
    mode: z.enum(CTP_MODES),
    allowList: z.array(z.string()),
    autoEnrol: z.boolean(),
    eligibleBins: z.array(z.string()),
    consentVersion: z.string().nullable(),
    defaultLocale: z.string().nullable(),
    saasRatePerSecond: z.number().nullable(),
    /** When they were last replaced; null for a tenant that never set any (the defaults). */
    updatedAt: z.iso.datetime().nullable(),
  })
  .meta({ id: 'CtpSettings' });

export type CtpSettings = z.infer<typeof ctpSettingsSchema>;
/** A tenant's settings as stored (or the defaults), without `updatedAt`. */
export type CtpSettingsValues = Omit<CtpSettings, 'updatedAt'>;

/** A tenant with no settings row: v1's behaviour, every customer may enrol, nothing automatic. */
export const DEFAULT_CTP_SETTINGS: Readonly<CtpSettings> = {
  mode: 'ALL',
  allowList: [],
  autoEnrol: false,
  eligibleBins: [],
  consentVersion: null,
  defaultLocale: null,
  saasRatePerSecond: null,
  updatedAt: null,
};

/** The values a `PUT` body stands for, its absent fields at their defaults. */
export function settingsOfBody(body: CtpSettingsBody): CtpSettingsValues {
  return {
    mode: body.mode,
    // Duplicates say nothing more; the stored lists are sets, in the order first given.
    allowList: [...new Set(body.allowList ?? [])],
    autoEnrol: body.autoEnrol ?? false,
    eligibleBins: [...new Set(body.eligibleBins ?? [])],
    consentVersion: body.consentVersion ?? null,
    defaultLocale: body.defaultLocale ?? null,
    saasRatePerSecond: body.saasRatePerSecond ?? null,
  };
}
