import type { AuditLog } from '@ctp/core/entities';
import { CTP_STATUSES, OPERATION_STATUSES, TRACE_STATUSES } from '@ctp/core/lifecycle';
import { html } from 'hono/html';
import type {
  MinuteBucket,
  OperationRow,
  ParkedWebhook,
  StatusCount,
  StatusCounts,
  TraceRow,
} from '../console/queries.ts';
import type { SubmitJobState } from '../queues.ts';
import { throughputChart } from './chart.ts';
import { noticeOf } from './entity.ts';
import { actionHref, age, entityLink, type Html, operationRef, short, status, when } from './format.ts';
import { layout, type PageContext } from './layout.ts';

export interface StuckThresholds {
  /** A QUEUED operation older than this should have been submitted (the sweeper re-drives it). */
  readonly queuedMs: number;
  /** An IN_PROGRESS trace older than this is unusually slow: the SaaS normally answers in seconds. */
  readonly inProgressMs: number;
}

export interface OverviewModel {
  readonly counts: StatusCounts;
  readonly queues: readonly { readonly name: string; readonly counts: Readonly<Record<string, number>> }[];
  readonly inFlight: readonly (OperationRow & { readonly job: SubmitJobState | null })[];
  readonly traces: readonly TraceRow[];
  readonly failures: readonly OperationRow[];
  readonly parkedWebhooks: readonly ParkedWebhook[];
  readonly throughput: readonly MinuteBucket[];
  readonly stuck: StuckThresholds;
  /** `TRACING_UI_URL`: each operation links to its trace. */
  readonly tracingUiUrl?: string | undefined;
  readonly now: Date;
  /** The audit row of the action just taken, when the page is shown after one. */
  readonly notice: AuditLog | null;
}

function countTable(title: string, rows: readonly StatusCount[], statuses: readonly string[]): Html {
  const tenants = [...new Set(rows.map((row) => row.tenant))].sort();
  const cell = (tenant: string, s: string) =>
    rows.find((row) => row.tenant === tenant && row.status === s)?.count ?? 0;
  const shown = statuses.filter((s) => rows.some((row) => row.status === s));
  return html`<section class="card"><h2>${title}</h2>
  ${
    tenants.length === 0
      ? html`<p class="muted">None yet.</p>`
      : html`<table><thead><tr><th>Tenant</th>${shown.map((s) => html`<th class="num">${s.replaceAll('_', ' ')}</th>`)}</tr></thead>
  <tbody>${tenants.map(
    (tenant) =>
      html`<tr><td>${tenant}</td>${shown.map((s) => html`<td class="num">${cell(tenant, s)}</td>`)}</tr>`,
  )}</tbody></table>`
  }</section>`;
}

function queueTable(model: OverviewModel): Html {
  const states = ['waiting', 'active', 'delayed', 'failed', 'completed'];
  return html`<section class="card"><h2>Queues <a class="action" href="/queues">open Bull Board</a></h2>
<table><thead><tr><th>Queue</th>${states.map((s) => html`<th class="num">${s}</th>`)}</tr></thead>
<tbody>${model.queues.map(
    (queue) => html`<tr><td><a href="/queues/queue/${encodeURIComponent(queue.name)}">${queue.name}</a></td>
  ${states.map((s) => html`<td class="num">${queue.counts[s] ?? 0}</td>`)}</tr>`,
  )}</tbody></table></section>`;
}

function inFlightTable(model: OverviewModel): Html {
  if (model.inFlight.length === 0) return html`<p class="muted">Nothing in flight.</p>`;
  return html`<table><thead><tr><th>Age</th><th>Status</th><th>Tenant</th><th>Entity</th><th>Event</th><th>Operation</th><th>Submit job</th><th>Actions</th></tr></thead>
<tbody>${model.inFlight.map((op) => {
    const ageMs = model.now.getTime() - op.createdAt.getTime();
    const stuck = op.status === 'QUEUED' ? ageMs > model.stuck.queuedMs : ageMs > model.stuck.inProgressMs;
    const jobFailed = op.job?.state === 'failed';
    return html`<tr class="${stuck ? 'stuck' : ''}">
  <td class="age">${age(op.createdAt, model.now)}</td><td>${status(op.status)}</td><td>${op.tenant}</td>
  <td>${entityLink(op.tenant, op.entityId)}${op.kitNo ? html` / ${op.kitNo}` : ''}</td><td>${op.event}</td><td>${operationRef(op.id, op.traceparent, model.tracingUiUrl)}</td>
  <td>${
    op.job === null
      ? html`<span class="muted">—</span>`
      : html`${status(op.job.state)}${op.job.shared ? html` <span class="muted">(a batch's shared job)</span>` : ''} ${op.job.attemptsMade > 0 ? html`<span class="muted">${op.job.attemptsMade} attempts</span>` : ''}
    ${op.job.failedReason ? html`<div class="error">${op.job.failedReason}</div>` : ''}`
  }</td>
  <td>${jobFailed ? html`<a class="action" href="${actionHref('retry', op.id, '/')}">Retry job</a>` : ''}</td></tr>`;
  })}</tbody></table>`;
}

function tracesTable(model: OverviewModel): Html {
  if (model.traces.length === 0) return html`<p class="muted">No trace is waiting for the SaaS.</p>`;
  return html`<table><thead><tr><th>Age</th><th>Tenant</th><th>Entity</th><th>Event</th><th>Request trace</th><th class="num">Polls</th><th>Next poll</th><th>Actions</th></tr></thead>
<tbody>${model.traces.map((trace) => {
    const stuck = model.now.getTime() - trace.createdAt.getTime() > model.stuck.inProgressMs;
    return html`<tr class="${stuck ? 'stuck' : ''}">
  <td class="age">${age(trace.createdAt, model.now)}</td><td>${trace.tenant}</td>
  <td>${entityLink(trace.tenant, trace.entityId)}${trace.kitNo ? html` / ${trace.kitNo}` : ''}</td><td>${trace.event}</td>
  <td>${short(trace.requestTraceId, 12)}</td><td class="num">${trace.pollAttempts}</td><td>${when(trace.nextPollAt)}</td>
  <td><a class="action" href="${actionHref('repoll', trace.requestTraceId, '/')}">Re-poll now</a>
      <a class="action" href="${actionHref('mark-failed', trace.requestTraceId, '/')}">Mark failed</a></td></tr>`;
  })}</tbody></table>`;
}

function failuresTable(model: OverviewModel): Html {
  if (model.failures.length === 0) return html`<p class="muted">No failed operation.</p>`;
  return html`<table><thead><tr><th>Ended</th><th>Tenant</th><th>Entity</th><th>Event</th><th>Operation</th><th>Error</th><th>Actions</th></tr></thead>
<tbody>${model.failures.map(
    (op) => html`<tr><td>${when(op.completedAt)}</td><td>${op.tenant}</td>
  <td>${entityLink(op.tenant, op.entityId)}${op.kitNo ? html` / ${op.kitNo}` : ''}</td><td>${op.event}</td><td>${operationRef(op.id, op.traceparent, model.tracingUiUrl)}</td>
  <td><code>${op.errorCode ?? ''}</code> ${op.errorMessage ?? ''}${op.errorDetails && op.errorDetails !== op.errorCode ? html`<div class="muted">${op.errorDetails}</div>` : ''}</td>
  <td><a class="action" href="${actionHref('retry', op.id, '/')}">Retry</a></td></tr>`,
  )}</tbody></table>`;
}

function parkedTable(model: OverviewModel): Html {
  if (model.parkedWebhooks.length === 0) return html`<p class="muted">No parked webhook.</p>`;
  return html`<table><thead><tr><th>Parked</th><th>Tenant</th><th>Type</th><th>Webhook id</th><th class="num">Tries</th><th>Last error</th></tr></thead>
<tbody>${model.parkedWebhooks.map(
    (
      hook,
    ) => html`<tr class="stuck"><td>${when(hook.parkedAt)}</td><td>${hook.tenant}</td><td>${hook.type}</td>
  <td><code>${hook.webhookId}</code></td><td class="num">${hook.attempts}</td>
  <td><div class="error">${hook.lastError ?? ''}</div></td></tr>`,
  )}</tbody></table>`;
}

export function overviewPage(page: PageContext, model: OverviewModel): Html {
  return layout(
    page,
    'Overview',
    html`${noticeOf(model.notice)}<section class="card"><h2>Last hour</h2>${throughputChart(model.throughput)}</section>
<section class="card"><h2>Oldest unfinished operations</h2>
<p class="muted">Oldest first. Highlighted: QUEUED longer than ${Math.round(model.stuck.queuedMs / 1000)} s, or running longer than ${Math.round(model.stuck.inProgressMs / 60_000)} min.</p>
${inFlightTable(model)}</section>
<section class="card"><h2>Oldest IN_PROGRESS request traces</h2>${tracesTable(model)}</section>
<section class="card"><h2>Recent failures</h2>${failuresTable(model)}</section>
<section class="card"><h2>Parked webhooks</h2>
<p class="muted">Deliveries whose processing failed every try: never tried again, until someone looks (<code>ctp_webhooks_parked</code>).</p>
${parkedTable(model)}</section>
${queueTable(model)}
<div class="grid">
${countTable('Entities by CTP status', model.counts.entities, CTP_STATUSES)}
${countTable('Kits by CTP status', model.counts.kits, CTP_STATUSES)}
${countTable('Request traces by status', model.counts.traces, TRACE_STATUSES)}
${countTable('Operations by status', model.counts.operations, OPERATION_STATUSES)}
</div>`,
  );
}
