import { SAAS_READ_ENDPOINTS } from '@ctp/core/lifecycle';
import { Hono } from 'hono';
import { SimError } from '../errors.ts';
import type { Faults } from '../faults.ts';
import type { SimEnv } from '../http/env.ts';
import { type Network, networkDataView } from '../network.ts';
import { type TraceEngine, traceView } from '../traces.ts';

function requiredQuery(value: string | undefined, name: string): string {
  if (value === undefined || value === '' || value.length > 128) {
    throw new SimError('INVALID_REQUEST', `the query parameter ${name} is required`, {
      details: [{ field: name, message: 'is required, 1 to 128 characters' }],
    });
  }
  return value;
}

/** `GET /status` and `GET /getData`: what holds now, per tenant, in the contract's shapes. */
export function readRoutes(deps: {
  readonly engine: TraceEngine;
  readonly network: Network;
  readonly faults: () => Faults;
}): Hono<SimEnv> {
  const app = new Hono<SimEnv>();

  app.get(SAAS_READ_ENDPOINTS.status.path, (c) => {
    const id = requiredQuery(c.req.query('requestTraceId'), 'requestTraceId');
    const trace = deps.engine.get(c.get('tenant'), id);
    if (trace === undefined) throw new SimError('REQUEST_NOT_FOUND', 'no request trace with this id');
    return c.json(traceView(trace), 200);
  });

  app.get(SAAS_READ_ENDPOINTS.getData.path, (c) => {
    const id = requiredQuery(c.req.query('externalConsumerId'), 'externalConsumerId');
    const record = deps.network.consumer(c.get('tenant'), id);
    if (record === undefined) throw new SimError('CONSUMER_NOT_FOUND', 'the network holds no such consumer');
    const view = networkDataView(record);
    const lastName = deps.faults().answerText.getDataLastName;
    return c.json(lastName === undefined ? view : { ...view, consumer: { ...view.consumer, lastName } }, 200);
  });

  return app;
}
