import { hashApiKey } from '@ctp/core/auth';
import { idempotencyHeadersSchema } from '@ctp/core/contracts';
import { queryBound } from '@ctp/core/operations';
import {
  ctpSettingsBodySchema,
  ctpSettingsSchema,
  readCtpSettings,
  replaceCtpSettings,
  settingsOfBody,
} from '@ctp/core/settings';
import type { Orm } from '@ctp/db';
import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { ApiEnv } from '../http/env.ts';
import { tenantOf } from '../http/env.ts';
import { createRouter, errorResponses, json } from '../http/router.ts';

export interface SettingsRoutesDependencies {
  readonly orm: Orm;
  /** To name the API key that made a change (its `api_key.pkey`) in the audit row. */
  readonly apiKeyPepper: string;
}

const tags = ['CTP settings'];

const routes = {
  get: createRoute({
    method: 'get',
    path: '/v1/ctp/settings',
    operationId: 'getCtpSettings',
    tags,
    summary: "The key's tenant's CTP settings (the defaults, `ALL` without auto-enrolment, if never set)",
    responses: {
      200: { description: 'Settings', content: json(ctpSettingsSchema) },
      ...errorResponses(401, 403, 503),
    },
  }),
  put: createRoute({
    method: 'put',
    path: '/v1/ctp/settings',
    operationId: 'putCtpSettings',
    tags,
    summary: "Replace the key's tenant's CTP settings (audited: who, when, before, after)",
    description:
      'Applies at once in every api and worker process. `OFF`, or `ALLOW_LIST` without the entity: a registration or an added kit answers `409 CTP_NOT_ENABLED`; removals and updates still run.',
    request: {
      headers: idempotencyHeadersSchema,
      body: { required: true, content: json(ctpSettingsBodySchema) },
    },
    responses: {
      200: { description: 'The settings as stored', content: json(ctpSettingsSchema) },
      ...errorResponses(400, 401, 403, 413, 415, 422, 503),
    },
  }),
};

const BEARER = /^Bearer +([^\s]+) *$/i;

/**
 * Who changed the settings: `api-key:<pkey>` of the key the request authenticated with (the
 * middleware already checked it), so an audit row names the key without holding any of it.
 */
export async function actorOf(c: Context<ApiEnv>, orm: Orm, pepper: string): Promise<string> {
  const token = BEARER.exec(c.req.header('authorization') ?? '')?.[1] ?? '';
  const [row] = await queryBound<{ pkey: string }>(
    orm.em.fork(),
    `select pkey::text as pkey from api_key where key_hash = ?`,
    [hashApiKey(token, pepper)],
  );
  return row === undefined ? 'api-key:unknown' : `api-key:${row.pkey}`;
}

export function createSettingsRoutes({ orm, apiKeyPepper }: SettingsRoutesDependencies) {
  return createRouter()
    .openapi(routes.get, async (c) => c.json(await readCtpSettings(orm.em.fork(), tenantOf(c)), 200))
    .openapi(routes.put, async (c) => {
      const tenant = tenantOf(c);
      const idempotencyKey = c.req.valid('header')['idempotency-key'];
      const { settings, replayed } = await replaceCtpSettings(orm.em.fork(), {
        tenant,
        actor: await actorOf(c, orm, apiKeyPepper),
        settings: settingsOfBody(c.req.valid('json')),
        ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
      });
      if (replayed) c.header('Idempotent-Replayed', 'true');
      return c.json(settings, 200);
    });
}
