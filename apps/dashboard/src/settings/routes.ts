import { maskPansIn } from '@ctp/core/cards';
import type { Logger } from '@ctp/core/logging';
import {
  ctpSettingsBodySchema,
  readCtpSettings,
  replaceCtpSettings,
  settingsOfBody,
} from '@ctp/core/settings';
import type { Orm } from '@ctp/db';
import { Hono } from 'hono';
import type { SessionSigner } from '../auth/session.ts';
import type { DashboardEnv } from '../env.ts';
import { readForm, refuse } from '../http.ts';
import { notFoundPage } from '../views/entity.ts';
import { formOf, type SettingsForm, settingsListPage, settingsPage } from './page.ts';

export interface SettingsRoutesDependencies {
  readonly orm: Orm;
  readonly signer: SessionSigner;
  readonly logger: Logger;
}

/** A tenant as the api keys name it. */
const TENANT = /^[A-Za-z0-9._-]{1,64}$/;

/** The tenants an operator may configure: those with an API key, and those with settings. */
async function knownTenants(orm: Orm): Promise<string[]> {
  const rows = await orm.em
    .fork()
    .execute<{ tenant: string }[]>(
      `select tenant from api_key union select tenant from ctp_tenant_settings order by tenant`,
    );
  return rows.map((row) => row.tenant);
}

/** A list field of the form: one item a line (commas and spaces separate too); blank lines dropped. */
const listOf = (text: string) => text.split(/[\s,]+/).filter((item) => item !== '');

/**
 * The form as the api's `PUT` body, so the dashboard validates with the same schema: strings
 * stay strings (the schema refuses what is not text it stores), an empty optional field is
 * absent, and the rate is a number only when it reads as one.
 */
function bodyOf(form: SettingsForm): Record<string, unknown> {
  const rate = form.saasRatePerSecond.trim();
  return {
    mode: form.mode,
    allowList: listOf(form.allowList),
    autoEnrol: form.autoEnrol,
    eligibleBins: listOf(form.eligibleBins),
    ...(form.consentVersion.trim() === '' ? {} : { consentVersion: form.consentVersion }),
    ...(form.defaultLocale.trim() === '' ? {} : { defaultLocale: form.defaultLocale.trim() }),
    ...(rate === '' ? {} : { saasRatePerSecond: Number.isFinite(Number(rate)) ? Number(rate) : rate }),
  };
}

/**
 * The tenants' CTP settings on the dashboard: a list, and a page per tenant to view and edit
 * them. An edit carries the session's CSRF token, is validated with the api's schema, and is
 * written by the settings use case with its audit row (actor: the operator's login).
 */
export function settingsRoutes({ orm, signer, logger }: SettingsRoutesDependencies): Hono<DashboardEnv> {
  const app = new Hono<DashboardEnv>();
  const page = (c: { var: DashboardEnv['Variables'] }) => ({ user: c.var.session.user, csrf: c.var.csrf });
  const tenantOf = async (value: string) =>
    TENANT.test(value) && (await knownTenants(orm)).includes(value) ? value : null;

  app.get('/settings', async (c) => {
    const tenants = await knownTenants(orm);
    const summaries = await Promise.all(
      tenants.map(async (tenant) => ({ tenant, settings: await readCtpSettings(orm.em.fork(), tenant) })),
    );
    return c.html(settingsListPage(page(c), summaries));
  });

  app.get('/settings/:tenant', async (c) => {
    const tenant = await tenantOf(c.req.param('tenant'));
    if (tenant === null) return c.html(notFoundPage(page(c), 'No such tenant.'), 404);
    const settings = await readCtpSettings(orm.em.fork(), tenant);
    const saved = c.req.query('audit');
    return c.html(
      settingsPage(page(c), {
        tenant,
        form: formOf(settings),
        updatedAt: settings.updatedAt,
        ...(saved !== undefined && /^\d{1,19}$/.test(saved) ? { savedAuditId: saved } : {}),
      }),
    );
  });

  app.post('/settings/:tenant', async (c) => {
    const fields = await readForm(c);
    if (fields === null)
      return refuse(c, 400, 'VALIDATION_FAILED', 'the form contains a NUL byte or a broken character');
    if (!signer.checkCsrf(c.var.session, fields.csrf)) return c.text('invalid CSRF token', 403);
    const tenant = await tenantOf(c.req.param('tenant'));
    if (tenant === null) return c.html(notFoundPage(page(c), 'No such tenant.'), 404);
    const form: SettingsForm = {
      mode: fields.mode ?? '',
      allowList: fields.allowList ?? '',
      autoEnrol: fields.autoEnrol === 'true',
      eligibleBins: fields.eligibleBins ?? '',
      consentVersion: fields.consentVersion ?? '',
      defaultLocale: fields.defaultLocale ?? '',
      saasRatePerSecond: fields.saasRatePerSecond ?? '',
    };
    const parsed = ctpSettingsBodySchema.safeParse(bodyOf(form));
    if (!parsed.success) {
      const current = await readCtpSettings(orm.em.fork(), tenant);
      const problems = parsed.error.issues.map(
        (issue) => [issue.path.map(String).join('.') || 'form', issue.message] as const,
      );
      // What was typed comes back to be corrected, but never a card number typed into it.
      const shown: SettingsForm = {
        ...form,
        allowList: maskPansIn(form.allowList),
        eligibleBins: maskPansIn(form.eligibleBins),
        consentVersion: maskPansIn(form.consentVersion),
        defaultLocale: maskPansIn(form.defaultLocale),
        saasRatePerSecond: maskPansIn(form.saasRatePerSecond),
      };
      return c.html(
        settingsPage(page(c), { tenant, form: shown, updatedAt: current.updatedAt, problems }),
        400,
      );
    }
    const actor = c.var.session.user;
    const { auditId } = await replaceCtpSettings(orm.em.fork(), {
      tenant,
      actor,
      settings: settingsOfBody(parsed.data),
    });
    logger.info({ actor, tenant, mode: parsed.data.mode }, 'tenant CTP settings changed');
    return c.redirect(`/settings/${encodeURIComponent(tenant)}?audit=${auditId ?? ''}`, 303);
  });

  return app;
}
