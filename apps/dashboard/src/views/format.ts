import { traceUrl } from '@ctp/core/tracing';
import { html } from 'hono/html';

export type Html = ReturnType<typeof html>;

/** "45s", "12m 3s", "3h 20m", "2d 4h": an age an operator reads at a glance. */
export function age(from: Date, now: Date = new Date()): string {
  const seconds = Math.max(0, Math.floor((now.getTime() - from.getTime()) / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h ${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

export function when(date: Date | null | undefined): Html {
  if (date == null) return html`<span class="muted">—</span>`;
  const iso = date.toISOString();
  return html`<time datetime="${iso}" title="${iso}">${iso.slice(0, 19).replace('T', ' ')}</time>`;
}

const STATUS_CLASS: Record<string, string> = {
  SUCCESS: 'ok',
  ACTIVE: 'ok',
  completed: 'ok',
  FAILED: 'bad',
  failed: 'bad',
  REMOVED: 'muted',
  UNREGISTERED: 'muted',
  QUEUED: 'warn',
  IN_PROGRESS: 'warn',
  REGISTRATION_IN_PROGRESS: 'warn',
  REMOVAL_IN_PROGRESS: 'warn',
  DISABLED: 'warn',
};

export function status(value: string | null | undefined): Html {
  if (value == null) return html`<span class="muted">—</span>`;
  return html`<span class="status ${STATUS_CLASS[value] ?? ''}">${value}</span>`;
}

export function entityHref(tenant: string, entityId: string): string {
  return `/entities/${encodeURIComponent(tenant)}/${encodeURIComponent(entityId)}`;
}

export function entityLink(tenant: string, entityId: string): Html {
  return html`<a href="${entityHref(tenant, entityId)}">${entityId}</a>`;
}

export function actionHref(action: string, target: string, back: string): string {
  return `/actions/confirm?${new URLSearchParams({ action, target, back })}`;
}

export function short(id: string | null | undefined, keep = 8): Html {
  if (id == null) return html`<span class="muted">—</span>`;
  return html`<code title="${id}">${id.length > keep + 1 ? `${id.slice(0, keep)}…` : id}</code>`;
}

/**
 * An operation's id, with a link to its trace in the tracing UI when one is configured
 * (`TRACING_UI_URL`) and the operation was traced (it stored a `traceparent`).
 */
export function operationRef(
  id: string,
  traceparent: string | null | undefined,
  tracingUiUrl: string | undefined,
): Html {
  const url = traceUrl(tracingUiUrl, traceparent);
  if (url === null) return short(id);
  return html`${short(id)} <a class="trace" href="${url}" target="_blank" rel="noopener noreferrer">Trace</a>`;
}
