import { NETWORK_STATUSES } from '@ctp/core/lifecycle';
import { Hono } from 'hono';
import { z } from 'zod';
import type { Simulator } from '../simulator.ts';
import { invalidRequest, parseOrThrow } from '../validation.ts';

const statusBody = z.strictObject({ status: z.enum(NETWORK_STATUSES) });

async function jsonBody(request: Request): Promise<unknown> {
  try {
    return await request.json();
  } catch {
    throw invalidRequest('the body must be JSON', [{ field: '(body)', message: 'is not valid JSON' }]);
  }
}

/**
 * Test and development controls under `/__sim`. They take no API key (a test tool on a
 * private port); the app does not mount them in production unless SAAS_SIM_ADMIN=true.
 */
export function adminRoutes(simulator: Omit<Simulator, 'app' | 'close'>): Hono {
  const app = new Hono();

  app.get('/__sim/state', (c) => c.json(simulator.state(), 200));

  app.post('/__sim/reset', (c) => {
    simulator.reset();
    return c.json({ reset: true }, 200);
  });

  app.get('/__sim/faults', (c) => c.json(simulator.faults(), 200));

  app.post('/__sim/faults', async (c) => {
    return c.json(simulator.setFaults(await jsonBody(c.req.raw)), 200);
  });

  app.post('/__sim/network/consumers/:tenant/:externalConsumerId', async (c) => {
    const { status } = parseOrThrow(statusBody, await jsonBody(c.req.raw));
    const result = simulator.setConsumerStatus(
      c.req.param('tenant'),
      c.req.param('externalConsumerId'),
      status,
    );
    return c.json(result, 200);
  });

  app.post('/__sim/network/instruments/:tenant/:externalConsumerId/:externalInstrumentId', async (c) => {
    const { status } = parseOrThrow(statusBody, await jsonBody(c.req.raw));
    const result = simulator.setInstrumentStatus(
      c.req.param('tenant'),
      c.req.param('externalConsumerId'),
      c.req.param('externalInstrumentId'),
      status,
    );
    return c.json(result, 200);
  });

  return app;
}
