import { maskPansIn } from '@ctp/core/cards';
import type { AuditAction, AuditDetails } from '@ctp/core/entities';
import type { Logger } from '@ctp/core/logging';
import type { AdminMetrics } from '@ctp/core/metrics';
import { recordAudit } from '@ctp/core/operations';
import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import type { SessionSigner } from './auth/session.ts';
import type { DashboardEnv } from './env.ts';
import { BULL_BOARD_API_PATH, BULL_BOARD_PATH } from './queues.ts';

/**
 * Bull Board's front end sends its API calls with axios, which copies the `XSRF-TOKEN` cookie
 * into an `X-XSRF-TOKEN` header on same-origin requests. The cookie carries the session's CSRF
 * token (the console's forms carry the same one), readable by scripts on this origin only: a
 * page on another site can neither read it nor set the header, so its forged writes fail.
 */
export const XSRF_COOKIE = 'XSRF-TOKEN';
export const XSRF_HEADER = 'x-xsrf-token';

export interface QueueWrite {
  readonly method: 'post' | 'put' | 'patch';
  /** The route as `@bull-board/api` declares it (`appRoutes.api`), under `/queues`. */
  readonly route: string;
  readonly action: AuditAction;
  /** Destructive or reconfiguring: only with `DASHBOARD_QUEUE_ADMIN=true`. */
  readonly admin: boolean;
}

/**
 * Every write route of `@bull-board/api` 9.10, in its order (the first matching route answers,
 * as in Bull Board's own router). A write route missing here is refused, never let through
 * unaudited: a test compares this list with the installed Bull Board's routes. Pausing,
 * resuming, retrying and promoting are everyday operations; removing jobs or queues, adding or
 * editing jobs (their data drives SaaS calls), schedulers, concurrency and rate limits are not.
 */
export const QUEUE_WRITES: readonly QueueWrite[] = [
  { method: 'put', route: '/api/queues/pause', action: 'queues.pause_all', admin: false },
  { method: 'put', route: '/api/queues/resume', action: 'queues.resume_all', admin: false },
  { method: 'post', route: '/api/queues/:queueName/add', action: 'queue.add_job', admin: true },
  {
    method: 'put',
    route: '/api/queues/:queueName/retry/:queueStatus',
    action: 'queue.retry_all',
    admin: false,
  },
  { method: 'put', route: '/api/queues/:queueName/promote', action: 'queue.promote_all', admin: false },
  { method: 'put', route: '/api/queues/:queueName/clean/:queueStatus', action: 'queue.clean', admin: true },
  { method: 'put', route: '/api/queues/:queueName/pause', action: 'queue.pause', admin: false },
  { method: 'put', route: '/api/queues/:queueName/resume', action: 'queue.resume', admin: false },
  {
    method: 'put',
    route: '/api/queues/:queueName/concurrency',
    action: 'queue.set_concurrency',
    admin: true,
  },
  { method: 'put', route: '/api/queues/:queueName/rate-limit', action: 'queue.set_rate_limit', admin: true },
  {
    method: 'put',
    route: '/api/queues/:queueName/rate-limit/release',
    action: 'queue.release_rate_limit',
    admin: false,
  },
  { method: 'put', route: '/api/queues/:queueName/empty', action: 'queue.empty', admin: true },
  { method: 'put', route: '/api/queues/:queueName/obliterate', action: 'queue.obliterate', admin: true },
  {
    method: 'put',
    route: '/api/queues/:queueName/job-schedulers/:schedulerId/remove',
    action: 'scheduler.remove',
    admin: true,
  },
  {
    method: 'patch',
    route: '/api/queues/:queueName/job-schedulers/:schedulerId',
    action: 'scheduler.update',
    admin: true,
  },
  {
    method: 'put',
    route: '/api/queues/:queueName/job-schedulers/:schedulerId/run',
    action: 'scheduler.run',
    admin: true,
  },
  { method: 'put', route: '/api/queues/:queueName/:jobId/retry', action: 'job.retry', admin: false },
  { method: 'put', route: '/api/queues/:queueName/:jobId/clean', action: 'job.remove', admin: true },
  { method: 'put', route: '/api/queues/:queueName/:jobId/promote', action: 'job.promote', admin: false },
  {
    method: 'patch',
    route: '/api/queues/:queueName/:jobId/update-data',
    action: 'job.update_data',
    admin: true,
  },
  { method: 'patch', route: '/api/queues/:queueName/:jobId/delay', action: 'job.change_delay', admin: false },
  {
    method: 'patch',
    route: '/api/queues/:queueName/:jobId/priority',
    action: 'job.change_priority',
    admin: false,
  },
  {
    method: 'put',
    route: '/api/queues/:queueName/:jobId/remove-unprocessed-children',
    action: 'job.remove_children',
    admin: true,
  },
  // Only when the board has a metrics history provider (this one has none); listed to be complete.
  { method: 'post', route: '/api/metrics/history/purge', action: 'metrics.purge_history', admin: true },
];

const MATCHERS = QUEUE_WRITES.map((write) => ({
  write,
  pattern: new RegExp(
    `^${BULL_BOARD_PATH}${write.route.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:(\w+)/g, '(?<$1>[^/]+)')}$`,
  ),
}));

/** The write route a request names, with its decoded parameters, or null. */
export function matchQueueWrite(
  method: string,
  path: string,
): { write: QueueWrite; params: Record<string, string> } | null {
  const lower = method.toLowerCase();
  for (const { write, pattern } of MATCHERS) {
    if (write.method !== lower) continue;
    const match = pattern.exec(path);
    if (match === null) continue;
    const params: Record<string, string> = {};
    for (const [name, value] of Object.entries(match.groups ?? {})) params[name] = decodeParam(value);
    return { write, params };
  }
  return null;
}

function decodeParam(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function targetOf(params: Record<string, string>): string {
  const { queueName, jobId, schedulerId } = params;
  if (queueName === undefined) return 'queues:*';
  if (jobId !== undefined) return `job:${queueName}/${jobId}`;
  if (schedulerId !== undefined) return `scheduler:${queueName}/${schedulerId}`;
  return `queue:${queueName}`;
}

export interface QueueWriteGuardOptions {
  readonly em: EntityManager;
  readonly signer: SessionSigner;
  readonly logger: Logger;
  /** `DASHBOARD_QUEUE_ADMIN`: the destructive writes are allowed. */
  readonly queueAdmin: boolean;
  readonly secureCookies: boolean;
  readonly adminMetrics?: AdminMetrics;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const forbidden = (c: Context, message: string) => c.json({ error: { code: 'FORBIDDEN', message } }, 403);

/**
 * Bull Board behind the console's rules: every write needs the session's CSRF token (in the
 * `X-XSRF-TOKEN` header its front end sends), the destructive ones `DASHBOARD_QUEUE_ADMIN`, and
 * each allowed or refused write leaves a row in `ctp_audit_log` (who, which queue or job, what
 * came of it) before the answer goes out. The write is in Redis and its row in PostgreSQL, so
 * they cannot share a transaction: the row is written once Bull Board has answered (its outcome
 * is known only then), and the intent is logged before the write, so a crash in between still
 * leaves a trace of who started what.
 */
export function guardQueueWrites(options: QueueWriteGuardOptions): MiddlewareHandler<DashboardEnv> {
  const { em, signer, logger } = options;
  return async (c, next) => {
    if (c.req.path !== BULL_BOARD_PATH && !c.req.path.startsWith(`${BULL_BOARD_PATH}/`)) return next();
    if (SAFE_METHODS.has(c.req.method)) {
      // Hands Bull Board's front end the session's token; renewed when the session changes.
      if (getCookie(c, XSRF_COOKIE) !== c.var.csrf) {
        setCookie(c, XSRF_COOKIE, c.var.csrf, {
          path: BULL_BOARD_PATH,
          sameSite: 'Strict',
          secure: options.secureCookies,
          httpOnly: false,
        });
      }
      return next();
    }
    if (!c.req.path.startsWith(`${BULL_BOARD_API_PATH}/`)) {
      return c.json({ error: { code: 'NOT_FOUND', message: 'no such queue write' } }, 404);
    }
    if (!signer.checkCsrf(c.var.session, c.req.header(XSRF_HEADER))) {
      return forbidden(c, 'missing or invalid CSRF token (X-XSRF-TOKEN)');
    }
    const matched = matchQueueWrite(c.req.method, c.req.path);
    if (matched === null) {
      return c.json({ error: { code: 'NOT_FOUND', message: 'no such queue write' } }, 404);
    }
    // Ids come from the address bar: one that is a card number is recorded and logged masked.
    const write = matched.write;
    const params = Object.fromEntries(Object.entries(matched.params).map(([k, v]) => [k, maskPansIn(v)]));
    const actor = c.var.session.user;
    const scope = { actor, action: write.action, target: targetOf(params) };
    const record = async (details: AuditDetails) => {
      const auditId = await recordAudit(em.fork(), { ...scope, details: { ...params, ...details } });
      options.adminMetrics?.actions.inc({ action: write.action, result: details.result });
      logger.info({ ...scope, ...params, result: details.result, auditId }, 'operator queue write');
      return auditId;
    };

    if (write.admin && !options.queueAdmin) {
      await record({ result: 'refused', message: 'refused: DASHBOARD_QUEUE_ADMIN is not true' });
      return forbidden(c, `${write.action} needs DASHBOARD_QUEUE_ADMIN=true`);
    }
    logger.info({ ...scope, ...params }, 'operator queue write starting');
    await next();
    const status = c.res.status;
    const ok = status < 400;
    await record({
      result: ok ? 'done' : 'failed',
      message: ok
        ? `Bull Board answered ${status}`
        : `Bull Board answered ${status}: ${await errorKeyOf(c.res)}`,
      status,
    });
  };
}

/** Bull Board's error key (`ERRORS.QUEUE_NOT_PAUSED`…), for the audit row of a failed write. */
async function errorKeyOf(response: Response): Promise<string> {
  try {
    const { error } = (await response.clone().json()) as { error?: unknown };
    const key =
      typeof error === 'string'
        ? error
        : typeof error === 'object' && error !== null && 'key' in error && typeof error.key === 'string'
          ? error.key
          : 'no error key';
    return maskPansIn(key).slice(0, 200);
  } catch {
    return 'no error key';
  }
}
