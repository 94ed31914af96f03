import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

export interface Session {
  /** The operator's login, written to the audit log as who did it. */
  readonly user: string;
  /** Random per login; the CSRF token is derived from it. */
  readonly id: string;
  /** Expiry, epoch milliseconds. */
  readonly expiresAt: number;
}

export const SESSION_COOKIE = 'ctp_dashboard_session';
export const SESSION_TTL_MS = 8 * 3600_000;

const b64url = (bytes: Buffer | string) => Buffer.from(bytes).toString('base64url');

/** Constant-time equality of two strings of any lengths (their SHA-256 digests are compared). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/**
 * Stateless sessions in a signed cookie: `base64url(json).base64url(HMAC-SHA256)`. The key is
 * derived (HKDF) from the dashboard's username and password, so sessions survive a restart and
 * work on every replica, and changing the password signs every session out. The cost of being
 * stateless: logging out clears the cookie in that browser, but a copied cookie stays valid until
 * it expires (8 hours).
 */
export class SessionSigner {
  readonly #key: Buffer;
  readonly #ttlMs: number;

  constructor(credentials: { readonly username: string; readonly password: string }, ttlMs = SESSION_TTL_MS) {
    this.#key = Buffer.from(
      hkdfSync('sha256', credentials.password, 'ctp-dashboard-session-v1', credentials.username, 32),
    );
    this.#ttlMs = ttlMs;
  }

  issue(user: string, now = Date.now()): { session: Session; cookie: string } {
    const session: Session = {
      user,
      id: randomBytes(16).toString('base64url'),
      expiresAt: now + this.#ttlMs,
    };
    const body = b64url(JSON.stringify({ u: session.user, s: session.id, e: session.expiresAt }));
    return { session, cookie: `${body}.${this.#sign(`session:${body}`)}` };
  }

  /** The session a cookie carries, or null when it is forged, altered, malformed or expired. */
  verify(cookie: string | undefined, now = Date.now()): Session | null {
    if (cookie === undefined) return null;
    const [body, signature, ...rest] = cookie.split('.');
    if (body === undefined || signature === undefined || rest.length > 0) return null;
    if (!safeEqual(signature, this.#sign(`session:${body}`))) return null;
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return null;
    }
    if (typeof parsed !== 'object' || parsed === null) return null;
    const { u, s, e } = parsed as Record<string, unknown>;
    if (typeof u !== 'string' || typeof s !== 'string' || typeof e !== 'number' || e <= now) return null;
    return { user: u, id: s, expiresAt: e };
  }

  /** The form token of a session: forms carry it, and a POST without the right one is refused. */
  csrfToken(session: Session): string {
    return this.#sign(`csrf:${session.id}`);
  }

  checkCsrf(session: Session, token: unknown): boolean {
    return typeof token === 'string' && safeEqual(token, this.csrfToken(session));
  }

  #sign(data: string): string {
    return createHmac('sha256', this.#key).update(data).digest('base64url');
  }
}
