import { maskPansIn } from '@ctp/core/cards';
import type { Logger } from '@ctp/core/logging';
import type { AdminMetrics } from '@ctp/core/metrics';
import type { Orm } from '@ctp/db';
import { Hono } from 'hono';
import type { SessionSigner } from '../auth/session.ts';
import { type DashboardEnv, localPath, originOf } from '../env.ts';
import { readForm, refuse } from '../http.ts';
import { type Queues, submitJobStates } from '../queues.ts';
import { confirmPage } from '../views/confirm.ts';
import { auditPage, entityPage, notFoundPage, searchPage } from '../views/entity.ts';
import { entityHref } from '../views/format.ts';
import { overviewPage, type StuckThresholds } from '../views/overview.ts';
import { confirmation, isAction, perform } from './actions.ts';
import {
  auditEntry,
  entityDetail,
  lastHourThroughput,
  oldestOperationsInFlight,
  oldestTracesInProgress,
  parkedWebhooks,
  recentAudit,
  recentFailures,
  searchEntities,
  statusCounts,
} from './queries.ts';

export interface ConsoleDependencies {
  readonly orm: Orm;
  readonly queues: Queues;
  readonly signer: SessionSigner;
  readonly logger: Logger;
  readonly stuck: StuckThresholds;
  readonly adminMetrics?: AdminMetrics;
  /** `TRACING_UI_URL`, with `{traceId}`: operations link to their traces. */
  readonly tracingUiUrl?: string | undefined;
}

/** No script runs on a console page, and no other site may frame it or receive its forms. */
const CONSOLE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const JOB_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized'] as const;

export function consoleRoutes(deps: ConsoleDependencies): Hono<DashboardEnv> {
  const { orm, queues } = deps;
  const em = orm.em;
  const app = new Hono<DashboardEnv>();
  const page = (c: { var: DashboardEnv['Variables'] }) => ({ user: c.var.session.user, csrf: c.var.csrf });

  app.use(async (c, next) => {
    await next();
    if (c.res.headers.get('content-type')?.startsWith('text/html')) {
      c.res.headers.set('Content-Security-Policy', CONSOLE_CSP);
    }
  });

  app.get('/', async (c) => {
    const noticeId = c.req.query('audit');
    const [counts, inFlight, traces, failures, parked, throughput, queueCounts, notice] = await Promise.all([
      statusCounts(em),
      oldestOperationsInFlight(em),
      oldestTracesInProgress(em),
      recentFailures(em),
      parkedWebhooks(em),
      lastHourThroughput(em),
      Promise.all(
        Object.values(queues).map(async (queue) => ({
          name: queue.name,
          counts: await queue.getJobCounts(...JOB_STATES),
        })),
      ),
      noticeId === undefined ? null : auditEntry(em, noticeId),
    ]);
    const jobs = await submitJobStates(
      queues,
      inFlight.filter((op) => op.status === 'QUEUED').map((op) => op.id),
    );
    const withJobs = inFlight.map((op) => ({ ...op, job: jobs.get(op.id) ?? null }));
    return c.html(
      overviewPage(page(c), {
        counts,
        queues: queueCounts,
        inFlight: withJobs,
        traces,
        failures,
        parkedWebhooks: parked,
        throughput,
        stuck: deps.stuck,
        now: new Date(),
        notice,
        tracingUiUrl: deps.tracingUiUrl,
      }),
    );
  });

  app.get('/search', async (c) => {
    const q = (c.req.query('q') ?? '').trim().slice(0, 64);
    const matches = q === '' ? [] : await searchEntities(em, q);
    const [only] = matches;
    if (matches.length === 1 && only) return c.redirect(entityHref(only.tenant, only.entityId), 302);
    return c.html(searchPage(page(c), q, matches));
  });

  app.get('/entities/:tenant/:entityId', async (c) => {
    const { tenant, entityId } = c.req.param();
    const detail = await entityDetail(em, tenant, entityId);
    if (detail === null) return c.html(notFoundPage(page(c), `No entity ${entityId} in ${tenant}.`), 404);
    const queued = detail.operations.filter((op) => op.status === 'QUEUED');
    const jobs = await submitJobStates(
      queues,
      queued.map((op) => op.id),
    );
    const noticeId = c.req.query('audit');
    const notice = noticeId === undefined ? null : await auditEntry(em, noticeId);
    return c.html(
      entityPage(page(c), { tenant, entityId, detail, jobs, notice, tracingUiUrl: deps.tracingUiUrl }),
    );
  });

  app.get('/audit', async (c) => {
    const noticeId = c.req.query('audit');
    const [entries, notice] = await Promise.all([
      recentAudit(em),
      noticeId === undefined ? null : auditEntry(em, noticeId),
    ]);
    return c.html(auditPage(page(c), entries, notice));
  });

  app.get('/actions/confirm', async (c) => {
    const action = c.req.query('action');
    const target = c.req.query('target') ?? '';
    const back = localPath(c.req.query('back'), originOf(c.req.url));
    if (!isAction(action)) return c.html(notFoundPage(page(c), 'No such action.'), 404);
    const model = await confirmation(em, queues, action, target, back);
    if (model === null) return c.html(notFoundPage(page(c), `Nothing named ${target}.`), 404);
    return c.html(confirmPage(page(c), model));
  });

  app.post('/actions', async (c) => {
    const form = await readForm(c);
    if (form === null)
      return refuse(c, 400, 'VALIDATION_FAILED', 'the form contains a NUL byte or a broken character');
    if (!deps.signer.checkCsrf(c.var.session, form.csrf)) return c.text('invalid CSRF token', 403);
    const { action, target, reason, nonce } = form;
    if (!isAction(action) || typeof target !== 'string' || target === '') {
      return c.text('unknown action or target', 400);
    }
    const actor = c.var.session.user;
    const result = await perform(em, queues, {
      action,
      target,
      actor,
      ...(typeof reason === 'string' ? { reason } : {}),
      ...(typeof nonce === 'string' ? { nonce } : {}),
    });
    deps.adminMetrics?.actions.inc({ action, result: result.ok ? 'done' : 'refused' });
    deps.logger.info(
      {
        actor,
        action,
        target: maskPansIn(target),
        ok: result.ok,
        ...(result.ok ? {} : { code: result.code }),
      },
      'operator action',
    );
    // Back where the operator came from, with the audit row that says what happened.
    const origin = originOf(c.req.url);
    const back = new URL(localPath(form.back, origin, '/audit'), origin);
    back.searchParams.set('audit', result.auditId);
    return c.redirect(`${back.pathname}${back.search}`, 303);
  });

  return app;
}
