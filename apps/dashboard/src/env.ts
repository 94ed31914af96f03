import type { Session } from './auth/session.ts';

/** What the dashboard's middleware puts on each request's context. */
export interface DashboardEnv {
  Variables: {
    /** The signed-in operator; set on every route behind the login. */
    session: Session;
    /** The session's CSRF token, for forms. */
    csrf: string;
  };
}

/**
 * Where a `next` / `back` parameter may send the browser: parsed as a browser parses it (the
 * WHATWG URL parser, which drops tabs and newlines and reads `\\` as `/`) against this site's
 * own origin; only a URL of that origin is kept, as its path, query and fragment. Anything else
 * (`//host`, `/\thost`, `javascript:`, another origin) is `fallback`: no open redirect.
 */
export function localPath(value: unknown, origin: string, fallback = '/'): string {
  if (typeof value !== 'string' || value === '') return fallback;
  let url: URL;
  try {
    url = new URL(value, origin);
  } catch {
    return fallback;
  }
  if (url.origin !== origin) return fallback;
  const path = `${url.pathname}${url.search}${url.hash}`;
  // Dot segments can leave a path of `//host` (`/.//host`), which a browser reads as a host.
  return path.startsWith('//') ? fallback : path;
}

/** The origin this request was addressed to: `localPath` keeps only URLs of it. */
export function originOf(requestUrl: string): string {
  return new URL(requestUrl).origin;
}
