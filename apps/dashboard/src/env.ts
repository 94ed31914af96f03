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

/** A path inside this site (`/…`, not `//host/…` nor a scheme), else `/`: no open redirect. */
export function localPath(value: unknown, fallback = '/'): string {
  return typeof value === 'string' && /^\/(?![/\\])/.test(value) && !/[\r\n]/.test(value) ? value : fallback;
}
