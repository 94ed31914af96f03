import type { AuditLog, CtpOperation, CtpRequestIdTracking, StatusPlan } from '@ctp/core/entities';
import { html } from 'hono/html';
import type { EntityDetail, EntityMatch, StatusHistory } from '../console/queries.ts';
import type { SubmitJobState } from '../queues.ts';
import {
  actionHref,
  entityHref,
  entityLink,
  type Html,
  operationRef,
  short,
  status,
  when,
} from './format.ts';
import { layout, type PageContext } from './layout.ts';

export interface EntityModel {
  readonly tenant: string;
  readonly entityId: string;
  readonly detail: EntityDetail;
  readonly jobs: ReadonlyMap<string, SubmitJobState>;
  readonly notice: AuditLog | null;
  /** `TRACING_UI_URL`: each operation links to its trace. */
  readonly tracingUiUrl?: string | undefined;
}

export function noticeOf(entry: AuditLog | null): Html {
  if (entry === null) return html``;
  const ok = entry.details.result === 'done';
  return html`<div class="notice ${ok ? 'ok' : 'bad'}" role="status"><strong>${entry.action}</strong> on
  <code>${entry.target}</code>: ${entry.details.result} — ${entry.details.message ?? ''}</div>`;
}

function plan(statusPlan: StatusPlan | null | undefined): Html {
  if (statusPlan == null) return html`<span class="muted">—</span>`;
  const kits = Object.keys({ ...statusPlan.before.kits, ...statusPlan.pending.kits });
  const line = (label: string, before: string | undefined, pending: string | undefined) =>
    before === pending
      ? html`<div>${label}: ${status(before)}</div>`
      : html`<div>${label}: ${status(before)} → ${status(pending)}</div>`;
  return html`${line('entity', statusPlan.before.entity, statusPlan.pending.entity)}${kits.map((kitNo) =>
    line(`kit ${kitNo}`, statusPlan.before.kits[kitNo], statusPlan.pending.kits[kitNo]),
  )}`;
}

function actions(
  operation: CtpOperation,
  trace: CtpRequestIdTracking | undefined,
  job: SubmitJobState | undefined,
  back: string,
): Html {
  const links: Html[] = [];
  if (operation.status === 'FAILED') {
    links.push(html`<a class="action" href="${actionHref('retry', operation.id, back)}">Retry</a>`);
  }
  if (operation.status === 'QUEUED' && job?.state === 'failed') {
    links.push(html`<a class="action" href="${actionHref('retry', operation.id, back)}">Retry job</a>`);
  }
  if (trace?.statusCtp === 'IN_PROGRESS') {
    links.push(
      html`<a class="action" href="${actionHref('repoll', trace.requestTraceId, back)}">Re-poll now</a>`,
      html`<a class="action" href="${actionHref('mark-failed', trace.requestTraceId, back)}">Mark failed</a>`,
    );
  }
  return html`${links}`;
}

function operationsTable(model: EntityModel, back: string): Html {
  const { operations, traces } = model.detail;
  if (operations.length === 0) return html`<p class="muted">No CTP operation yet.</p>`;
  return html`<table><thead><tr><th>Started</th><th>Event</th><th>Kit</th><th>Status</th><th>Statuses (before → while running)</th><th>Request trace</th><th>Ended</th><th>Error</th><th>Actions</th></tr></thead>
<tbody>${operations.map((operation) => {
    const trace = traces.get(operation.id);
    const job = model.jobs.get(operation.id);
    return html`<tr data-operation-id="${operation.id}">
  <td>${when(operation.createdAt)}</td><td>${operation.event}<div>${operationRef(operation.id, operation.traceparent, model.tracingUiUrl)}</div></td>
  <td>${operation.kitNumber ?? html`<span class="muted">—</span>`}</td>
  <td>${status(operation.status)}${job ? html`<div class="muted">job: ${job.state}${job.shared ? " (a batch's shared job)" : ''}${job.failedReason ? html` — ${job.failedReason}` : ''}</div>` : ''}</td>
  <td>${plan(operation.statusBefore)}</td>
  <td>${trace ? html`${short(trace.requestTraceId, 12)} ${status(trace.statusCtp)}<div class="muted">${trace.pollAttempts} polls</div>` : html`<span class="muted">—</span>`}</td>
  <td>${when(operation.completedAt)}</td>
  <td>${operation.errorCode ? html`<code>${operation.errorCode}</code> ${operation.errorMessage ?? ''}<div class="muted">${operation.errorDetails ?? ''}</div>` : ''}</td>
  <td>${actions(operation, trace, job, back)}</td></tr>`;
  })}</tbody></table>`;
}

function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString().slice(0, 19).replace('T', ' ');
  // Timestamps the driver hands back as text: to the second, as everywhere else on the page.
  if (typeof value === 'string' && /^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d/.test(value))
    return value.slice(0, 19);
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** Columns the entity page already says (or that mean nothing to an operator). */
const HIDDEN_HISTORY_COLUMNS = new Set(['pkey', 'id', 'tenant', 'entity_id']);

function historyTable(history: StatusHistory | null): Html {
  if (history === null) {
    return html`<p class="muted">The status history table is not there yet: status changes are shown with each
    operation above (before → while running; a FAILED operation put them back, a SUCCESS one moved them on).</p>`;
  }
  if (history.rows.length === 0) return html`<p class="muted">No status change recorded.</p>`;
  const change = history.columns.includes('from_status') && history.columns.includes('to_status');
  const columns = history.columns.filter(
    (c) => !HIDDEN_HISTORY_COLUMNS.has(c) && !(change && (c === 'from_status' || c === 'to_status')),
  );
  return html`<table><thead><tr>${change ? html`<th>Change</th>` : ''}${columns.map((c) => html`<th>${c.replaceAll('_', ' ')}</th>`)}</tr></thead>
<tbody>${history.rows.map(
    (row) =>
      html`<tr>${
        change
          ? html`<td>${row.from_status == null ? '' : html`${status(cellText(row.from_status))} → `}${status(cellText(row.to_status))}</td>`
          : ''
      }${columns.map((c) => html`<td>${cellText(row[c])}</td>`)}</tr>`,
  )}</tbody></table>`;
}

export function auditTable(entries: readonly AuditLog[], showEntity: boolean): Html {
  if (entries.length === 0) return html`<p class="muted">No operator action yet.</p>`;
  return html`<table><thead><tr><th>At</th><th>Who</th><th>Action</th>${showEntity ? html`<th>Entity</th>` : ''}<th>Target</th><th>Result</th><th>Reason</th></tr></thead>
<tbody>${entries.map(
    (entry) => html`<tr><td>${when(entry.at)}</td><td>${entry.actor}</td><td>${entry.action}</td>
  ${showEntity ? html`<td>${entry.tenant && entry.entityId ? entityLink(entry.tenant, entry.entityId) : html`<span class="muted">—</span>`}</td>` : ''}
  <td><code>${entry.target}</code></td>
  <td>${status(entry.details.result === 'done' ? 'SUCCESS' : 'FAILED')} ${entry.details.message ?? ''}</td>
  <td>${entry.details.reason ?? ''}</td></tr>`,
  )}</tbody></table>`;
}

export function entityPage(page: PageContext, model: EntityModel): Html {
  const { records } = model.detail;
  const back = entityHref(model.tenant, model.entityId);
  return layout(
    page,
    `Entity ${model.entityId}`,
    html`${noticeOf(model.notice)}
<section class="card"><table>
  <tr><th>Tenant</th><td>${model.tenant}</td><th>CTP status</th><td>${status(records.customer?.ctpEntityStatus ?? 'UNREGISTERED')}</td></tr>
  <tr><th>Entity id</th><td><code>${model.entityId}</code></td><th>Click to Pay customer id</th><td>${short(records.customer?.clickToPayCustomerId ?? null, 36)}</td></tr>
</table></section>
<section class="card"><h2>Kits</h2>
${
  records.kits.size === 0
    ? html`<p class="muted">No kit.</p>`
    : html`<table><thead><tr><th>Kit number</th><th>Card</th><th>CTP status</th><th>Payment instrument id</th></tr></thead>
<tbody>${[...records.kits].map(
        ([kitNo, { kit, payment }]) => html`<tr><td>${kitNo}</td><td>•••• ${kit.panLast4}</td>
  <td>${status(payment?.ctpKitStatus ?? 'UNREGISTERED')}</td><td>${short(payment?.clickToPayPaymentInstumentId ?? null, 36)}</td></tr>`,
      )}</tbody></table>`
}</section>
<section class="card"><h2>Operations</h2>${operationsTable(model, back)}</section>
<section class="card"><h2>Status changes</h2>${historyTable(model.detail.statusHistory)}</section>
<section class="card"><h2>Operator actions</h2>${auditTable(model.detail.audit, false)}</section>`,
  );
}

export function searchPage(page: PageContext, q: string, matches: readonly EntityMatch[]): Html {
  return layout(
    page,
    `Search: ${q}`,
    html`<section class="card">${
      matches.length === 0
        ? html`<p>No entity has the id or a kit numbered <code>${q}</code>.</p>`
        : html`<table><thead><tr><th>Tenant</th><th>Entity</th><th>Matched</th></tr></thead><tbody>${matches.map(
            (m) => html`<tr><td>${m.tenant}</td><td>${entityLink(m.tenant, m.entityId)}</td>
  <td>${m.matchedKitNo ? html`kit ${m.matchedKitNo}` : 'entity id'}</td></tr>`,
          )}</tbody></table>`
    }</section>`,
  );
}

export function auditPage(page: PageContext, entries: readonly AuditLog[], notice: AuditLog | null): Html {
  return layout(
    page,
    'Audit log',
    html`${noticeOf(notice)}<section class="card">${auditTable(entries, true)}</section>`,
  );
}

export function notFoundPage(page: PageContext, what: string): Html {
  return layout(page, 'Not found', html`<section class="card"><p>${what}</p></section>`);
}
