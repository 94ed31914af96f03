import { html } from 'hono/html';
import type { MinuteBucket } from '../console/queries.ts';
import type { Html } from './format.ts';

const WIDTH = 720;
const HEIGHT = 160;
const LEFT = 40;
const RIGHT = 40;
const TOP = 10;
const BOTTOM = 22;

/**
 * The last hour as an inline SVG: operations ended per minute (successes and failures stacked,
 * left axis) and the failure rate of each minute (line, right axis, 0–100 %). Rendered on the
 * server, so it needs no script and no chart library.
 */
export function throughputChart(buckets: readonly MinuteBucket[]): Html {
  const plotW = WIDTH - LEFT - RIGHT;
  const plotH = HEIGHT - TOP - BOTTOM;
  const peak = Math.max(1, ...buckets.map((b) => b.succeeded + b.failed));
  const slot = plotW / Math.max(1, buckets.length);
  const y = (count: number) => TOP + plotH - (count / peak) * plotH;
  const bars = buckets.map((bucket, i) => {
    const x = LEFT + i * slot + 1;
    const w = Math.max(1, slot - 2);
    const okTop = y(bucket.succeeded);
    const failTop = y(bucket.succeeded + bucket.failed);
    const label = `${bucket.minutesAgo} min ago: ${bucket.succeeded} succeeded, ${bucket.failed} failed`;
    return html`<g><title>${label}</title>
      <rect x="${x.toFixed(1)}" y="${okTop.toFixed(1)}" width="${w.toFixed(1)}" height="${(TOP + plotH - okTop).toFixed(1)}" fill="#3b9b5a"></rect>
      <rect x="${x.toFixed(1)}" y="${failTop.toFixed(1)}" width="${w.toFixed(1)}" height="${(okTop - failTop).toFixed(1)}" fill="#d64545"></rect></g>`;
  });
  // Minutes with no ended operation have no failure rate: the line skips them.
  const rates = buckets.flatMap((bucket, i) => {
    const total = bucket.succeeded + bucket.failed;
    if (total === 0) return [];
    return [{ x: LEFT + i * slot + slot / 2, y: TOP + plotH - (bucket.failed / total) * plotH }];
  });
  const points = rates.map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
  const succeeded = buckets.reduce((sum, b) => sum + b.succeeded, 0);
  const failed = buckets.reduce((sum, b) => sum + b.failed, 0);
  const rate = succeeded + failed === 0 ? 0 : (100 * failed) / (succeeded + failed);
  return html`<p><strong>${succeeded + failed}</strong> operations ended in the last hour:
  <span class="status ok">${succeeded} succeeded</span> <span class="status bad">${failed} failed</span>
  — failure rate <strong>${rate.toFixed(1)} %</strong>.</p>
<svg role="img" aria-label="Operations ended per minute and failure rate, last hour" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="100%" style="max-width:${WIDTH}px">
  <line x1="${LEFT}" y1="${TOP + plotH}" x2="${WIDTH - RIGHT}" y2="${TOP + plotH}" stroke="#b8c2cc"></line>
  <text x="${LEFT - 6}" y="${TOP + 8}" text-anchor="end">${peak}</text>
  <text x="${LEFT - 6}" y="${TOP + plotH}" text-anchor="end">0</text>
  <text x="${WIDTH - RIGHT + 6}" y="${TOP + 8}">100%</text>
  <text x="${WIDTH - RIGHT + 6}" y="${TOP + plotH}">0%</text>
  <text x="${LEFT}" y="${HEIGHT - 6}">−60 min</text>
  <text x="${LEFT + plotW / 2}" y="${HEIGHT - 6}" text-anchor="middle">−30 min</text>
  <text x="${WIDTH - RIGHT}" y="${HEIGHT - 6}" text-anchor="end">now</text>
  ${bars}
  ${points === '' ? '' : html`<polyline points="${points}" fill="none" stroke="#e08a00" stroke-width="2"></polyline>`}
  ${rates.map((p) => html`<circle cx="${p.x.toFixed(1)}" cy="${p.y.toFixed(1)}" r="2.5" fill="#e08a00"></circle>`)}
</svg>
<p class="muted">Bars: operations ended per minute (green succeeded, red failed). Orange line: failure rate of that minute.</p>`;
}
