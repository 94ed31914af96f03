import { html } from 'hono/html';
import type { Html } from './format.ts';
import { layout } from './layout.ts';

export function loginPage(options: { next: string; error?: string }): Html {
  return layout(
    null,
    'Sign in',
    html`<section class="card" style="max-width:24rem">
  ${options.error ? html`<p class="error" role="alert">${options.error}</p>` : ''}
  <form class="confirm" method="post" action="/login">
    <input type="hidden" name="next" value="${options.next}">
    <label for="username">Username</label>
    <input id="username" name="username" autocomplete="username" required autofocus>
    <label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="current-password" required>
    <p><button class="primary" type="submit">Sign in</button></p>
  </form>
</section>`,
  );
}
