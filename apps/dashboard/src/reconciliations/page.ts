import type { DriftView, ReconciliationView } from '@ctp/core/reconciliation';
import { html } from 'hono/html';
import { type Html, status, when } from '../views/format.ts';
import { layout, type PageContext } from '../views/layout.ts';

type Run = ReconciliationView & { readonly tenant: string };

const ACTION_CLASS: Record<string, string> = {
  REPAIRED: 'ok',
  UPDATE_QUEUED: 'ok',
  WOULD_REPAIR: 'warn',
  WOULD_UPDATE: 'warn',
  SKIPPED_IN_FLIGHT: 'warn',
  REPORTED: 'bad',
};

const counts = (run: Run) => html`<td class="num">${run.counts.checked}/${run.counts.total}</td>
  <td class="num">${run.counts.agreed}</td><td class="num">${run.counts.drifted}</td>
  <td class="num">${run.counts.repaired}</td><td class="num">${run.counts.skipped}</td>
  <td class="num">${run.counts.errors}</td>`;

const COUNT_HEADERS = html`<th class="num">Checked</th><th class="num">Agreed</th><th class="num">Drifted</th>
  <th class="num">Repaired</th><th class="num">Skipped</th><th class="num">Errors</th>`;

export function reconciliationsPage(page: PageContext, runs: readonly Run[]): Html {
  return layout(
    page,
    'Reconciliations',
    html`<section class="card">
<p>Every entity on CTP is compared with the network (<code>GET /getData</code>) once per <code>RECONCILE_PERIOD</code>
by the schedule, and on request (<code>POST /v1/ctp/reconciliations</code>, <code>pnpm ctp reconcile</code>).
The network wins for statuses and CTP ids; data it holds out of date is sent again.</p>
${
  runs.length === 0
    ? html`<p class="muted">No reconciliation yet.</p>`
    : html`<table><thead><tr><th>Reconciliation</th><th>Tenant</th><th>Trigger</th><th>Status</th>${COUNT_HEADERS}<th>Started</th><th>Completed</th></tr></thead><tbody>
${runs.map(
  (run) => html`<tr data-reconciliation-id="${run.reconciliationId}">
  <td><a href="/reconciliations/${run.reconciliationId}"><code>${run.reconciliationId.slice(0, 8)}</code></a>${run.dryRun ? html` <span class="status">DRY RUN</span>` : ''}</td>
  <td>${run.tenant}</td><td>${run.trigger}</td><td>${status(run.status === 'COMPLETED' ? 'completed' : run.status)}</td>
  ${counts(run)}<td>${when(new Date(run.createdAt))}</td><td>${when(run.completedAt ? new Date(run.completedAt) : null)}</td>
</tr>`,
)}</tbody></table>`
}</section>`,
  );
}

export function reconciliationPage(
  page: PageContext,
  run: Run,
  drifts: readonly DriftView[],
  more: boolean,
): Html {
  return layout(
    page,
    `Reconciliation ${run.reconciliationId}`,
    html`<section class="card">
<table><thead><tr><th>Tenant</th><th>Trigger</th><th>Mode</th><th>Status</th>${COUNT_HEADERS}</tr></thead>
<tbody><tr><td>${run.tenant}</td><td>${run.trigger}</td><td>${run.dryRun ? 'dry run (nothing changed)' : 'repair'}</td>
<td>${status(run.status === 'COMPLETED' ? 'completed' : run.status)}</td>${counts(run)}</tr></tbody></table>
</section>
<section class="card"><h2>Drifts</h2>
${
  drifts.length === 0
    ? html`<p class="muted">No drift: every entity checked agreed with the network.</p>`
    : html`<table><thead><tr><th>Entity</th><th>Kit</th><th>Field</th><th>Ours</th><th>Network</th><th>Action</th></tr></thead><tbody>
${drifts.map(
  (d) => html`<tr>
  <td><a href="/entities/${encodeURIComponent(run.tenant)}/${encodeURIComponent(d.entityId)}">${d.entityId}</a></td>
  <td>${d.kitNo ?? html`<span class="muted">—</span>`}</td><td><code>${d.field}</code></td>
  <td>${d.ours ?? html`<span class="muted">—</span>`}</td><td>${d.network ?? html`<span class="muted">—</span>`}</td>
  <td><span class="status ${ACTION_CLASS[d.action] ?? ''}">${d.action}</span></td>
</tr>`,
)}</tbody></table>${more ? html`<p class="muted">The first 500 drifts; the api lists them all (<code>GET /v1/ctp/reconciliations/{id}/drifts</code>).</p>` : ''}`
}</section>`,
  );
}
