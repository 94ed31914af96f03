import { html, raw } from 'hono/html';
import type { Html } from './format.ts';

export interface PageContext {
  readonly user: string;
  readonly csrf: string;
}

const STYLE = raw(`
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d2733;background:#f4f6f9}
header{display:flex;gap:1.5rem;align-items:center;padding:.6rem 1.5rem;background:#14213d;color:#fff}
header a{color:#fff;text-decoration:none;font-weight:500}header a:hover{text-decoration:underline}
header .brand{font-weight:700;letter-spacing:.02em}header form{margin:0}header .spacer{flex:1}
header input[type=search]{padding:.3rem .5rem;border-radius:4px;border:0;width:20rem}
header button{background:none;border:1px solid #fff6;color:#fff;border-radius:4px;padding:.25rem .6rem;cursor:pointer}
main{padding:1rem 1.5rem;max-width:1500px}h1{font-size:1.35rem;margin:.3rem 0 1rem}h2{font-size:1.05rem;margin:1.6rem 0 .5rem}
section.card{background:#fff;border:1px solid #dde3ea;border-radius:6px;padding:.8rem 1rem;margin-bottom:1rem}section.card>h2:first-child{margin-top:.2rem}
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #e6eaef;vertical-align:top}
th{font-weight:600;color:#4a5868;font-size:.8rem;text-transform:uppercase;letter-spacing:.03em}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}.muted{color:#8a96a3}
.status{display:inline-block;padding:0 .45rem;border-radius:9px;font-size:.78rem;font-weight:600;background:#e8ecf1}
.status.ok{background:#dff3e4;color:#17662f}.status.bad{background:#fbe1e1;color:#9b1c1c}.status.warn{background:#fff1d6;color:#8a5300}
tr.stuck td{background:#fff4f4}tr.stuck .age{color:#b42318;font-weight:700}
.wide{overflow-x:auto}.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(330px,1fr));gap:1rem}
.notice{padding:.6rem .9rem;border-radius:6px;margin-bottom:1rem}.notice.ok{background:#dff3e4}.notice.bad{background:#fbe1e1}
a.action,button.action{display:inline-block;padding:.1rem .5rem;border:1px solid #9fb3c8;border-radius:4px;font-size:.8rem;text-decoration:none;color:#14213d;background:#fff;cursor:pointer;margin:0 .2rem .2rem 0}
button.danger{background:#b42318;border-color:#b42318;color:#fff}button.primary{background:#14213d;border-color:#14213d;color:#fff}
form.confirm label{display:block;margin:.6rem 0 .2rem;font-weight:600}form.confirm textarea{width:100%;max-width:40rem;min-height:5rem}
form.confirm button{font-size:.95rem;padding:.35rem 1rem}.error{color:#9b1c1c}
svg text{font:11px system-ui,sans-serif;fill:#4a5868}
`);

/**
 * Every page of the console. No script at all: pages are server-rendered, actions are forms
 * (each with the session's CSRF token), and the content security policy forbids scripts; a page
 * whose numbers move (a running batch) reloads itself with a meta refresh (`refreshSeconds`).
 */
export function layout(
  page: PageContext | null,
  title: string,
  body: Html,
  options: { readonly refreshSeconds?: number } = {},
): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · CTP console</title>${
    options.refreshSeconds === undefined
      ? ''
      : html`\n<meta http-equiv="refresh" content="${options.refreshSeconds}">`
  }
<style>${STYLE}</style>
</head>
<body>
<header>
  <span class="brand">CTP console</span>
  ${
    page === null
      ? ''
      : html`<a href="/">Overview</a>
  <a href="/queues">Queues</a>
  <a href="/audit">Audit log</a>
  <a href="/settings">CTP settings</a>
  <a href="/reconciliations">Reconciliations</a>
  <a href="/batches">Batches</a>
  <form method="get" action="/search" role="search">
    <input type="search" name="q" placeholder="Entity id or kit number" aria-label="Entity id or kit number" required>
  </form>
  <span class="spacer"></span>
  <span>${page.user}</span>
  <form method="post" action="/logout"><input type="hidden" name="csrf" value="${page.csrf}"><button type="submit">Log out</button></form>`
  }
</header>
<main>
<h1>${title}</h1>
${body}
</main>
</body>
</html>`;
}
