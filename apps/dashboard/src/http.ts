import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { BULL_BOARD_API_PATH } from './queues.ts';
import { errorPage } from './views/error.ts';

/**
 * The most a dashboard request may carry, as on the api: the console's forms are a few hundred
 * bytes, and Bull Board's largest write (a job's data) has no business being bigger.
 */
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * A refusal in the form the caller reads: Bull Board's front end and scripts get the platform's
 * error body (`{ "error": { "code", "message" } }`), a browser on a console page a plain page.
 */
export function refuse(
  c: Context,
  status: ContentfulStatusCode,
  code: string,
  message: string,
): Response | Promise<Response> {
  if (c.req.path.startsWith(BULL_BOARD_API_PATH)) return c.json({ error: { code, message } }, status);
  return c.html(errorPage(status === 413 ? 'Too large' : 'Refused', message), status);
}

/**
 * 413 for a body over `MAX_BODY_BYTES`: by its Content-Length before reading anything, or by
 * counting as it streams in when it has none (chunked), so no request makes the process buffer
 * more than that. Every route, the login form included (whose lockout is checked before this).
 */
export function limitBody(): MiddlewareHandler {
  return bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) =>
      refuse(c, 413, 'PAYLOAD_TOO_LARGE', `the request body is larger than ${MAX_BODY_BYTES} bytes`),
  });
}

/**
 * Text PostgreSQL cannot take or that is not text at all: a NUL byte (refused by `text` and
 * `jsonb`, and taken by the driver for a broken connection) or a lone UTF-16 surrogate.
 */
export function isStorableText(value: string): boolean {
  return !value.includes('\u0000') && value.isWellFormed();
}

/**
 * 400 for a path or query parameter that is not storable text (`isStorableText`) or not valid
 * percent-encoding: typed into the search box or pasted into a URL, it must not reach a query
 * and come back as a 5xx.
 */
export function refuseUnstorableUrlText(): MiddlewareHandler {
  return async (c, next) => {
    const url = new URL(c.req.url);
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      return refuse(c, 400, 'VALIDATION_FAILED', 'the address is not valid percent-encoded UTF-8');
    }
    const texts = [path, ...url.searchParams.keys(), ...url.searchParams.values()];
    if (!texts.every(isStorableText)) {
      return refuse(c, 400, 'VALIDATION_FAILED', 'the address contains a NUL byte or a broken character');
    }
    await next();
  };
}

/** A console form's fields, or null when one of them is not storable text (`isStorableText`). */
export async function readForm(c: Context): Promise<Record<string, string> | null> {
  const body = await c.req.parseBody();
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(body)) {
    if (typeof value !== 'string' || !isStorableText(name) || !isStorableText(value)) return null;
    fields[name] = value;
  }
  return fields;
}
