import { CTP_MODES } from '@ctp/core/entities';
import type { CtpSettings } from '@ctp/core/settings';
import { html } from 'hono/html';
import type { Html } from '../views/format.ts';
import { layout, type PageContext } from '../views/layout.ts';

/** The form's fields as the operator typed them (kept on a refusal, so nothing is lost). */
export interface SettingsForm {
  readonly mode: string;
  readonly allowList: string;
  readonly autoEnrol: boolean;
  readonly eligibleBins: string;
  readonly consentVersion: string;
  readonly defaultLocale: string;
  readonly saasRatePerSecond: string;
}

export function formOf(settings: CtpSettings): SettingsForm {
  return {
    mode: settings.mode,
    allowList: settings.allowList.join('\n'),
    autoEnrol: settings.autoEnrol,
    eligibleBins: settings.eligibleBins.join('\n'),
    consentVersion: settings.consentVersion ?? '',
    defaultLocale: settings.defaultLocale ?? '',
    saasRatePerSecond: settings.saasRatePerSecond === null ? '' : String(settings.saasRatePerSecond),
  };
}

export interface TenantSummary {
  readonly tenant: string;
  readonly settings: CtpSettings;
}

export function settingsListPage(page: PageContext, tenants: readonly TenantSummary[]): Html {
  return layout(
    page,
    'CTP settings',
    html`<section class="card">
<p>Per tenant: may its customers enrol (<code>OFF</code>, <code>ALLOW_LIST</code>, <code>ALL</code>), auto-enrolment,
eligible BINs, consent version, default locale and SaaS rate. A tenant that never set any has the defaults (<code>ALL</code>, no auto-enrolment).</p>
<table><thead><tr><th>Tenant</th><th>Mode</th><th>Allow-list</th><th>Auto-enrol</th><th>Eligible BINs</th><th>Updated</th></tr></thead><tbody>
${tenants.map(
  ({ tenant, settings }) => html`<tr>
  <td><a href="/settings/${encodeURIComponent(tenant)}">${tenant}</a></td>
  <td><span class="status">${settings.mode}</span></td>
  <td class="num">${settings.allowList.length}</td>
  <td>${settings.autoEnrol ? 'yes' : 'no'}</td>
  <td>${settings.eligibleBins.length === 0 ? html`<span class="muted">every card</span>` : settings.eligibleBins.join(', ')}</td>
  <td>${settings.updatedAt ?? html`<span class="muted">never (defaults)</span>`}</td>
</tr>`,
)}
</tbody></table></section>`,
  );
}

export interface SettingsPageModel {
  readonly tenant: string;
  readonly form: SettingsForm;
  readonly updatedAt: string | null;
  /** `[field, message]` of a refused edit. */
  readonly problems?: readonly (readonly [string, string])[];
  /** The audit row of the edit just saved. */
  readonly savedAuditId?: string;
}

export function settingsPage(page: PageContext, model: SettingsPageModel): Html {
  const { tenant, form, problems = [] } = model;
  const action = `/settings/${encodeURIComponent(tenant)}`;
  return layout(
    page,
    `CTP settings of ${tenant}`,
    html`${
      model.savedAuditId === undefined
        ? ''
        : html`<div class="notice ok" role="status">Saved; recorded in the <a href="/audit">audit log</a> (#${model.savedAuditId}).</div>`
    }${
      problems.length === 0
        ? ''
        : html`<div class="notice bad" role="alert">Not saved:<ul>${problems.map(
            ([field, message]) => html`<li><code>${field}</code> ${message}</li>`,
          )}</ul></div>`
    }
<section class="card">
<p class="muted">Last changed: ${model.updatedAt ?? 'never (the defaults apply)'}. A change applies at once to the api and the workers, and is audited.</p>
<form class="confirm" method="post" action="${action}">
  <input type="hidden" name="csrf" value="${page.csrf}">
  <label for="mode">Mode</label>
  <select id="mode" name="mode">${CTP_MODES.map(
    (mode) => html`<option value="${mode}"${mode === form.mode ? ' selected' : ''}>${mode}</option>`,
  )}</select>
  <label for="allowList">Allow-list (entity ids, one a line; used with ALLOW_LIST)</label>
  <textarea id="allowList" name="allowList">${form.allowList}</textarea>
  <label><input type="checkbox" name="autoEnrol" value="true"${form.autoEnrol ? ' checked' : ''}> Auto-enrol new cards</label>
  <label for="eligibleBins">Eligible BINs (6 or 8 digits, one a line; empty: every card)</label>
  <textarea id="eligibleBins" name="eligibleBins">${form.eligibleBins}</textarea>
  <label for="consentVersion">Consent version</label>
  <input id="consentVersion" name="consentVersion" maxlength="32" value="${form.consentVersion}">
  <label for="defaultLocale">Default locale (like en_AE)</label>
  <input id="defaultLocale" name="defaultLocale" maxlength="5" value="${form.defaultLocale}">
  <label for="saasRatePerSecond">SaaS rate, requests per second (empty: the platform's default)</label>
  <input id="saasRatePerSecond" name="saasRatePerSecond" inputmode="decimal" value="${form.saasRatePerSecond}">
  <p><button type="submit" class="primary">Save settings</button> <a href="/settings">Cancel</a></p>
</form></section>`,
  );
}
