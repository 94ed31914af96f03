import { html } from 'hono/html';
import type { Html } from './format.ts';
import { layout, type PageContext } from './layout.ts';

export interface ConfirmModel {
  /** Where the form posts: the console's `/actions` when absent. */
  readonly formAction?: string;
  readonly action: string;
  readonly target: string;
  readonly back: string;
  readonly nonce: string;
  readonly title: string;
  /** What the target is, for the operator to check before confirming. */
  readonly facts: readonly (readonly [string, string])[];
  /** What will happen. */
  readonly effect: string;
  /** Why it cannot be done now, when it cannot (then no button is shown). */
  readonly blocked?: string;
  readonly reasonRequired: boolean;
  readonly danger: boolean;
}

/** Every action is confirmed on a page of its own: a GET shows it, only the form's POST acts. */
export function confirmPage(page: PageContext, model: ConfirmModel): Html {
  return layout(
    page,
    model.title,
    html`<section class="card">
<table>${model.facts.map(([label, value]) => html`<tr><th style="width:14rem">${label}</th><td><code>${value}</code></td></tr>`)}</table>
<p>${model.effect}</p>
${
  model.blocked !== undefined
    ? html`<p class="error" role="alert">${model.blocked}</p><p><a href="${model.back}">Back</a></p>`
    : html`<form class="confirm" method="post" action="${model.formAction ?? '/actions'}">
  <input type="hidden" name="csrf" value="${page.csrf}">
  <input type="hidden" name="action" value="${model.action}">
  <input type="hidden" name="target" value="${model.target}">
  <input type="hidden" name="back" value="${model.back}">
  <input type="hidden" name="nonce" value="${model.nonce}">
  <label for="reason">Reason${model.reasonRequired ? ' (required, kept in the audit log)' : ' (kept in the audit log)'}</label>
  <textarea id="reason" name="reason" maxlength="1000" ${model.reasonRequired ? 'required' : ''}></textarea>
  <p><button type="submit" class="${model.danger ? 'danger' : 'primary'}">Confirm: ${model.title}</button>
     <a href="${model.back}">Cancel</a></p>
</form>`
}</section>`,
  );
}
