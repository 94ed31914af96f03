import type { Context } from 'hono';
import type { Counters } from '../counters.ts';
import { SimError } from '../errors.ts';
import { type SimEnv, UUID } from './env.ts';

/**
 * The `Idempotency-Key` of a mutating request. Missing: 400 and a contract violation (without
 * a key the SaaS could not tell a retry from new work). Not a UUID: served, since the key is
 * still unique, but counted, as the contract says the platform sends its operation id.
 */
export function idempotencyKeyOf(c: Context<SimEnv>, counters: Counters): string {
  const key = c.req.header('idempotency-key');
  if (key === undefined || key === '') {
    counters.violation('missingIdempotencyKey');
    throw new SimError('INVALID_REQUEST', 'the Idempotency-Key header is required on POST and PUT', {
      details: [{ field: 'Idempotency-Key', message: 'is required' }],
    });
  }
  if (key.length > 255) {
    counters.violation('malformedIdempotencyKey');
    throw new SimError('INVALID_REQUEST', 'the Idempotency-Key header is too long', {
      details: [{ field: 'Idempotency-Key', message: 'must be at most 255 characters' }],
    });
  }
  if (!UUID.test(key)) counters.violation('malformedIdempotencyKey');
  return key;
}

/** The body as JSON; anything else is 400 (the body itself is never echoed). */
export async function readJsonBody(c: Context<SimEnv>): Promise<unknown> {
  const text = await c.req.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new SimError('INVALID_REQUEST', 'the body must be a JSON object', {
      details: [{ field: '(body)', message: 'is not valid JSON' }],
    });
  }
}
