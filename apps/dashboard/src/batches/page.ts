import {
  BATCH_ITEM_STATUSES,
  BATCH_RATE_WINDOW_SECONDS,
  type BatchAnswer,
  type BatchCounts,
  type BatchFailureGroup,
  type BatchItemAnswer,
  type BatchItemStatus,
  type BatchPace,
  type BatchTenant,
} from '@ctp/core/batches';
import { maskPansIn } from '@ctp/core/cards';
import { html } from 'hono/html';
import { type Html, short, when } from '../views/format.ts';
import { layout, type PageContext } from '../views/layout.ts';

/** A batch with how fast it goes, as the pages show it. */
export type BatchRow = BatchAnswer & { readonly pace: BatchPace };

/** How often a page with a running batch reloads itself. */
export const REFRESH_SECONDS = 5;

const COUNTS: readonly (readonly [keyof BatchCounts, string])[] = [
  ['total', 'Total'],
  ['pending', 'Pending'],
  ['inProgress', 'In progress'],
  ['succeeded', 'Succeeded'],
  ['failed', 'Failed'],
  ['skipped', 'Skipped'],
  ['rejected', 'Rejected'],
  ['cancelled', 'Cancelled'],
];

const BATCH_CLASS: Record<string, string> = { RUNNING: 'warn', COMPLETED: 'ok', CANCELLED: '' };
const ITEM_CLASS: Record<string, string> = {
  PENDING: '',
  IN_PROGRESS: 'warn',
  SUCCEEDED: 'ok',
  SKIPPED: 'ok',
  FAILED: 'bad',
  REJECTED: 'bad',
  CANCELLED: '',
};

export const batchHref = (tenant: string, batchId: string) =>
  `/batches/${encodeURIComponent(tenant)}/${encodeURIComponent(batchId)}`;

/** Items that will not move any more: every status but PENDING and IN_PROGRESS. */
export const finishedOf = (counts: BatchCounts) => counts.total - counts.pending - counts.inProgress;

/** A batch is still moving until its last started item has finished (a cancel lets them finish). */
export const isMoving = (batch: BatchAnswer) => batch.completedAt === undefined;

function duration(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`;
  const hours = Math.floor(minutes / 60);
  return `${hours}h ${minutes % 60}m`;
}

function progress(counts: BatchCounts): Html {
  const done = finishedOf(counts);
  const percent = counts.total === 0 ? 100 : Math.floor((done / counts.total) * 100);
  return html`<progress value="${done}" max="${counts.total}" aria-label="${done} of ${counts.total} items finished"></progress>
  <span class="muted">${done}/${counts.total} (${percent}%)</span>`;
}

const rate = (pace: BatchPace) => html`${pace.perSecond}/s`;

function eta(batch: BatchRow): Html {
  if (!isMoving(batch) || finishedOf(batch.counts) === batch.counts.total)
    return html`<span class="muted">—</span>`;
  return pace(batch.pace.etaSeconds);
}

function pace(etaSeconds: number | null): Html {
  return etaSeconds === null
    ? html`<span class="muted" title="nothing finished in the last ${BATCH_RATE_WINDOW_SECONDS} s">unknown</span>`
    : html`${duration(etaSeconds)}`;
}

const COUNT_HEADERS = html`${COUNTS.map(([, label]) => html`<th class="num">${label}</th>`)}`;
const HEADERS = html`<th>Batch</th><th>External id</th><th>Status</th><th>Progress</th>${COUNT_HEADERS}
<th class="num">Rate</th><th class="num">ETA</th><th>Created</th><th>Completed</th>`;

function batchCells(tenant: string, batch: BatchRow, link: boolean): Html {
  const id = short(batch.batchId);
  return html`<td>${link ? html`<a href="${batchHref(tenant, batch.batchId)}">${id}</a>` : id}</td>
  <td>${batch.externalBatchId ?? html`<span class="muted">—</span>`}</td>
  <td><span class="status ${BATCH_CLASS[batch.status] ?? ''}">${batch.status}</span></td>
  <td>${progress(batch.counts)}</td>
  ${COUNTS.map(([key]) => html`<td class="num" data-count="${key}">${batch.counts[key]}</td>`)}
  <td class="num" data-rate>${rate(batch.pace)}</td><td class="num" data-eta>${eta(batch)}</td>
  <td>${when(new Date(batch.createdAt))}</td><td>${when(batch.completedAt ? new Date(batch.completedAt) : null)}</td>`;
}

const RATE_NOTE = html`<p class="muted">Progress: items finished (succeeded, failed, skipped, rejected or cancelled) of all items.
Rate: items that ran to an end (succeeded, failed or skipped) per second, over the last ${BATCH_RATE_WINDOW_SECONDS} s
while items are open (since the batch was accepted once it has ended); ETA: the open items at that rate.
${''}Pages with a running batch reload every ${REFRESH_SECONDS} s.</p>`;

export function batchTenantsPage(page: PageContext, tenants: readonly BatchTenant[]): Html {
  return layout(
    page,
    'Batches',
    html`<section class="card">
<p>Portfolio enrolments (<code>POST /v1/ctp/batches</code>, <code>pnpm ctp batch submit</code>), by tenant.</p>
${
  tenants.length === 0
    ? html`<p class="muted">No batch yet.</p>`
    : html`<table><thead><tr><th>Tenant</th><th class="num">Batches</th><th class="num">Running</th><th>Latest</th></tr></thead><tbody>
${tenants.map(
  (
    t,
  ) => html`<tr data-tenant="${t.tenant}"><td><a href="/batches/${encodeURIComponent(t.tenant)}">${t.tenant}</a></td>
  <td class="num">${t.batches}</td><td class="num">${t.running}</td><td>${when(t.latestAt)}</td></tr>`,
)}</tbody></table>`
}</section>`,
  );
}

export function batchListPage(
  page: PageContext,
  tenant: string,
  batches: readonly BatchRow[],
  nextCursor: string | null,
): Html {
  const moving = batches.some(isMoving);
  return layout(
    page,
    `Batches of ${tenant}`,
    html`<section class="card">
${
  batches.length === 0
    ? html`<p class="muted">No batch of ${tenant}.</p>`
    : html`<div class="wide"><table><thead><tr>${HEADERS}</tr></thead><tbody>
${batches.map((batch) => html`<tr data-batch-id="${batch.batchId}">${batchCells(tenant, batch, true)}</tr>`)}
</tbody></table></div>${
        nextCursor === null
          ? ''
          : html`<p><a href="/batches/${encodeURIComponent(tenant)}?${new URLSearchParams({ cursor: nextCursor })}">Older batches</a></p>`
      }`
}${RATE_NOTE}</section>`,
    moving ? { refreshSeconds: REFRESH_SECONDS } : {},
  );
}

export interface BatchPageModel {
  readonly tenant: string;
  readonly batch: BatchRow;
  readonly failures: readonly BatchFailureGroup[];
  readonly items: readonly BatchItemAnswer[];
  readonly status: BatchItemStatus | undefined;
  readonly limit: number;
  readonly nextCursor: string | null;
  /** Items the operator's cancel just moved, when the page follows one. */
  readonly cancelled?: number;
}

/** An item's error as text: its code and message (outside text, with any card number masked). */
function errorText(error: unknown): string {
  if (typeof error !== 'object' || error === null) return '';
  const { code, message, problems } = error as Record<string, unknown>;
  const parts = [
    typeof code === 'string' ? code : '',
    typeof message === 'string' ? message : '',
    Array.isArray(problems)
      ? problems
          .map((p) => (typeof p === 'object' && p !== null ? `${String(p.field)}: ${String(p.message)}` : ''))
          .join('; ')
      : '',
  ];
  return maskPansIn(parts.filter((part) => part !== '').join(' — ')).slice(0, 500);
}

export function batchPage(page: PageContext, model: BatchPageModel): Html {
  const { tenant, batch } = model;
  const href = batchHref(tenant, batch.batchId);
  const itemsHref = (status: BatchItemStatus | undefined, cursor?: string) => {
    const query = new URLSearchParams({
      ...(status === undefined ? {} : { status }),
      ...(cursor === undefined ? {} : { cursor }),
      ...(model.limit === DEFAULT_ITEMS_LIMIT ? {} : { limit: String(model.limit) }),
    }).toString();
    return `${href}${query === '' ? '' : `?${query}`}#items`;
  };
  return layout(
    page,
    `Batch ${batch.batchId}`,
    html`${
      model.cancelled === undefined
        ? ''
        : html`<div class="notice ok" role="status">Cancel done: ${model.cancelled} items cancelled${
            model.cancelled === 0 ? ' (nothing was left to cancel)' : ''
          }; items already started finish. Recorded in the <a href="/audit">audit log</a>.</div>`
    }<section class="card">
<p>Tenant <a href="/batches/${encodeURIComponent(tenant)}">${tenant}</a>${
      batch.status === 'RUNNING' ? html` · <a class="action" href="${href}/cancel">Cancel batch</a>` : ''
    }</p>
<div class="wide"><table><thead><tr>${HEADERS}</tr></thead>
<tbody><tr data-batch-id="${batch.batchId}">${batchCells(tenant, batch, false)}</tr></tbody></table></div>
${RATE_NOTE}</section>
<section class="card" id="failures"><h2>Failures by reason</h2>
${
  model.failures.length === 0
    ? html`<p class="muted">No item failed or was rejected.</p>`
    : html`<table><thead><tr><th>Status</th><th>Reason or error code</th><th class="num">Items</th></tr></thead><tbody>
${model.failures.map(
  (
    f,
  ) => html`<tr data-failure="${f.status} ${f.reason}"><td><span class="status bad">${f.status}</span></td><td><code>${f.reason}</code></td>
  <td class="num"><a href="${itemsHref(f.status)}">${f.count}</a></td></tr>`,
)}</tbody></table>`
}</section>
<section class="card" id="items"><h2>Items${model.status === undefined ? '' : html` ${model.status}`}</h2>
<p>${[undefined, ...BATCH_ITEM_STATUSES].map((status) =>
      status === model.status
        ? html`<strong class="action">${status ?? 'All'}</strong> `
        : html`<a class="action" href="${itemsHref(status)}">${status ?? 'All'}</a> `,
    )}</p>
${
  model.items.length === 0
    ? html`<p class="muted">No item${model.status === undefined ? '' : html` ${model.status}`}.</p>`
    : html`<table><thead><tr><th class="num">#</th><th>Entity</th><th>Kit</th><th>Status</th><th>Operation</th><th>Reason</th><th>Error</th></tr></thead><tbody>
${model.items.map(
  (item) => html`<tr data-seq="${item.seq}"><td class="num">${item.seq}</td>
  <td>${item.entityId === '' ? html`<span class="muted">—</span>` : html`<a href="/entities/${encodeURIComponent(tenant)}/${encodeURIComponent(item.entityId)}">${item.entityId}</a>`}</td>
  <td>${item.kitNo || html`<span class="muted">—</span>`}</td>
  <td><span class="status ${ITEM_CLASS[item.status] ?? ''}">${item.status}</span></td>
  <td>${short(item.operationId)}</td><td>${item.reason ?? html`<span class="muted">—</span>`}</td>
  <td>${errorText(item.error) || html`<span class="muted">—</span>`}</td></tr>`,
)}</tbody></table>`
}${model.nextCursor === null ? '' : html`<p><a href="${itemsHref(model.status, model.nextCursor)}">Next items</a></p>`}
</section>`,
    isMoving(batch) ? { refreshSeconds: REFRESH_SECONDS } : {},
  );
}

/** Items a batch page shows at once unless `limit` says otherwise (the api's default). */
export const DEFAULT_ITEMS_LIMIT = 100;
