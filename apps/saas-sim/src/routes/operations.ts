import type { AcceptedResponse } from '@ctp/core/contracts';
import { CTP_EVENTS, type CtpEvent, SAAS_ENDPOINT_BY_EVENT } from '@ctp/core/lifecycle';
import type { Logger } from '@ctp/core/logging';
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { chance, type Random } from '../clock.ts';
import { parseCommand } from '../commands.ts';
import type { Counters } from '../counters.ts';
import { SimError } from '../errors.ts';
import type { Faults } from '../faults.ts';
import { idempotencyKeyOf, readJsonBody } from '../http/body.ts';
import type { SimEnv } from '../http/env.ts';
import { lostAnswerError } from '../http/fault-gate.ts';
import type { IdempotencyStore, StoredAnswer } from '../idempotency.ts';
import type { TraceEngine } from '../traces.ts';

export interface OperationRoutesDeps {
  readonly engine: TraceEngine;
  readonly store: IdempotencyStore;
  readonly fingerprint: (method: string, path: string, body: unknown) => string;
  readonly counters: Counters;
  readonly faults: () => Faults;
  readonly random: Random;
  readonly bodyLimitBytes: number;
  readonly logger: Logger;
}

/**
 * The six operation endpoints. One path through each: key, body, replay or reuse check,
 * validation, the network's 404/409, then the work is accepted and its answer stored under the
 * key in the same synchronous step (no await between the lookup and the store, so two
 * concurrent requests with one key cannot both start work).
 */
export function operationRoutes(deps: OperationRoutesDeps): Hono<SimEnv> {
  const app = new Hono<SimEnv>();
  const limit = bodyLimit({
    maxSize: deps.bodyLimitBytes,
    onError: () => {
      throw new SimError('INVALID_REQUEST', `the body must not exceed ${deps.bodyLimitBytes} bytes`, {
        status: 413,
      });
    },
  });
  for (const event of CTP_EVENTS) {
    const { method, path } = SAAS_ENDPOINT_BY_EVENT[event];
    app.on(method, path, limit, (c) => handle(c, event, path, deps));
  }
  return app;
}

async function handle(
  c: Context<SimEnv>,
  event: CtpEvent,
  path: string,
  deps: OperationRoutesDeps,
): Promise<Response> {
  const tenant = c.get('tenant');
  const key = idempotencyKeyOf(c, deps.counters);
  const body = await readJsonBody(c);
  const fingerprint = deps.fingerprint(c.req.method, path, body);

  const found = deps.store.lookup(tenant, key, fingerprint);
  if (found.kind === 'reused') {
    deps.counters.violation('idempotencyKeyReused');
    throw new SimError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with a different request');
  }
  if (found.kind === 'replay') {
    c.header('Idempotent-Replayed', 'true');
    return c.json(found.answer.body, found.answer.status);
  }

  const command = parseCommandCounted(event, body, deps.counters);
  const trace = deps.engine.accept(tenant, command, key);
  const accepted: AcceptedResponse = { requestTraceId: trace.requestTraceId, status: 'IN_PROGRESS' };
  const answer: StoredAnswer = { status: 202, body: accepted };
  deps.store.save(tenant, key, fingerprint, answer);
  deps.counters.workStarted(tenant, key);
  deps.logger.info(
    {
      tenant,
      event,
      requestTraceId: trace.requestTraceId,
      idempotencyKey: key,
      requestId: c.get('requestId'),
      externalConsumerId: command.externalConsumerId,
    },
    'request accepted',
  );

  const faults = deps.faults();
  if (chance(deps.random, faults.webhookBeforeAcceptRate)) await deps.engine.completeNow(trace);
  if (chance(deps.random, faults.lostAnswerRate)) throw lostAnswerError(deps.random);
  return c.json(answer.body, answer.status);
}

function parseCommandCounted(event: CtpEvent, body: unknown, counters: Counters) {
  try {
    return parseCommand(event, body);
  } catch (error) {
    if (error instanceof SimError) counters.violation('invalidRequest');
    throw error;
  }
}
