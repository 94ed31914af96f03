import type { Logger } from '@ctp/core/logging';
import { getConnInfo } from '@hono/node-server/conninfo';
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { type DashboardEnv, localPath, originOf } from '../env.ts';
import { readForm, refuse } from '../http.ts';
import { XSRF_COOKIE } from '../queue-writes.ts';
import { BULL_BOARD_PATH } from '../queues.ts';
import { loginPage } from '../views/login.ts';
import type { LoginLimiter } from './login-limiter.ts';
import { SESSION_COOKIE, SESSION_TTL_MS, type SessionSigner, safeEqual } from './session.ts';

export interface AuthOptions {
  readonly credentials: { readonly username: string; readonly password: string };
  readonly signer: SessionSigner;
  readonly limiter: LoginLimiter;
  readonly logger: Logger;
  /** `Secure` cookies (production, behind TLS); off for plain-HTTP local use. */
  readonly secureCookies: boolean;
}

/** Open without a session: the login form, and the probes and metrics of the platform. */
const OPEN_PATHS = new Set(['/login', '/healthz', '/readyz', '/metrics']);

function clientAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    // No socket behind the request (app.request in tests).
    return 'unknown';
  }
}

/**
 * Every other page and API (Bull Board's included) needs a valid session cookie. A browser
 * asking for a page is sent to the login form, coming back where it was going; anything else
 * gets a bare 401.
 */
export function requireSession({ signer }: Pick<AuthOptions, 'signer'>): MiddlewareHandler<DashboardEnv> {
  return async (c, next) => {
    if (OPEN_PATHS.has(c.req.path)) return next();
    const session = signer.verify(getCookie(c, SESSION_COOKIE));
    if (session === null) {
      const wantsPage = c.req.method === 'GET' && (c.req.header('accept') ?? '').includes('text/html');
      if (!wantsPage) return c.json({ error: { code: 'UNAUTHORIZED', message: 'sign in first' } }, 401);
      const url = new URL(c.req.url);
      return c.redirect(`/login?${new URLSearchParams({ next: url.pathname + url.search })}`, 302);
    }
    c.set('session', session);
    c.set('csrf', signer.csrfToken(session));
    await next();
  };
}

/**
 * Refuses state-changing requests a browser says came from another site. With the SameSite=Strict
 * cookie and the CSRF token (forms' field, Bull Board's `X-XSRF-TOKEN` header) this is the third wall.
 */
export function sameSiteOnly(): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD' || c.req.method === 'OPTIONS') return next();
    const site = c.req.header('sec-fetch-site');
    if (site !== undefined && site !== 'same-origin' && site !== 'none') {
      return c.text('cross-site request refused', 403);
    }
    await next();
  };
}

/**
 * 429 for a sign-in from an address locked out by its failures, whatever it sends: answered
 * before the body is read (or even counted against the body limit), so a locked-out client
 * cannot make the dashboard read anything.
 */
export function refuseLockedOut({
  limiter,
  logger,
}: Pick<AuthOptions, 'limiter' | 'logger'>): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.method !== 'POST' || c.req.path !== '/login') return next();
    const address = clientAddress(c);
    const waitMs = limiter.blockedFor(address);
    if (waitMs === 0) return next();
    logger.warn({ address }, 'dashboard login refused: too many failures');
    c.header('Retry-After', String(Math.ceil(waitMs / 1000)));
    return c.html(loginPage({ next: '/', error: 'Too many failed sign-ins. Try again later.' }), 429);
  };
}

export function authRoutes(options: AuthOptions): Hono<DashboardEnv> {
  const { credentials, signer, limiter, logger } = options;
  const app = new Hono<DashboardEnv>();

  app.get('/login', (c) => {
    const next = localPath(c.req.query('next'), originOf(c.req.url));
    if (signer.verify(getCookie(c, SESSION_COOKIE)) !== null) return c.redirect(next);
    return c.html(loginPage({ next }));
  });

  // The lockout (`refuseLockedOut`) has answered a locked-out address before this reads a byte.
  app.post('/login', async (c) => {
    const address = clientAddress(c);
    const form = await c.req.parseBody();
    const next = localPath(form.next, originOf(c.req.url));
    const username = typeof form.username === 'string' ? form.username : '';
    const password = typeof form.password === 'string' ? form.password : '';
    // Both compared in constant time, and both always: the answer time says nothing about which was wrong.
    const userOk = safeEqual(username, credentials.username);
    const passwordOk = safeEqual(password, credentials.password);
    if (!(userOk && passwordOk)) {
      limiter.failed(address);
      // Neither field is logged: a password typed into the username field would land in the log.
      logger.warn({ address }, 'dashboard login refused: wrong credentials');
      return c.html(loginPage({ next, error: 'Wrong username or password.' }), 401);
    }
    limiter.succeeded(address);
    const { cookie } = signer.issue(credentials.username);
    setCookie(c, SESSION_COOKIE, cookie, {
      httpOnly: true,
      sameSite: 'Strict',
      secure: options.secureCookies,
      path: '/',
      maxAge: Math.floor(SESSION_TTL_MS / 1000),
    });
    logger.info({ actor: credentials.username, address }, 'dashboard login');
    return c.redirect(next, 303);
  });

  // Behind the session middleware: logging out needs the session's CSRF token.
  app.post('/logout', async (c) => {
    const form = await readForm(c);
    if (form === null) return refuse(c, 400, 'VALIDATION_FAILED', 'the form contains a NUL byte');
    if (!signer.checkCsrf(c.var.session, form.csrf)) return c.text('invalid CSRF token', 403);
    deleteCookie(c, SESSION_COOKIE, { path: '/', secure: options.secureCookies });
    deleteCookie(c, XSRF_COOKIE, { path: BULL_BOARD_PATH, secure: options.secureCookies });
    logger.info({ actor: c.var.session.user }, 'dashboard logout');
    return c.redirect('/login', 303);
  });

  return app;
}
