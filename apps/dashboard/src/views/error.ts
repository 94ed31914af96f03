import { html } from 'hono/html';
import type { Html } from './format.ts';
import { layout } from './layout.ts';

/** A refusal that needs no session to show (too large, unreadable input): no menu, no user. */
export function errorPage(title: string, message: string): Html {
  return layout(
    null,
    title,
    html`<section class="card"><p class="error" role="alert">${message}</p></section>`,
  );
}
