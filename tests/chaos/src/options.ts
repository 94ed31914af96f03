import { parseArgs } from 'node:util';
import { ACTIONS, type Action } from './actions.ts';

export interface Options {
  readonly seed: number;
  readonly loadSeconds: number;
  readonly settleSeconds: number;
  /** Entities per tenant (each with 2 or 3 kits). */
  readonly entities: number;
  /** Virtual clients sending requests at once. */
  readonly concurrency: number;
  /** Keep the database and the logs even when every invariant holds. */
  readonly keep: boolean;
  /** The actions the load sends: all of them unless `--skip` names some (to look past a known breach). */
  readonly actions: ReadonlySet<Action>;
}

const USAGE = `usage: node tests/chaos/src/run.ts [--seed N] [--load-seconds 100] [--settle-seconds 180]
       [--entities 24] [--concurrency 8] [--keep] [--skip action,action]
actions: ${ACTIONS.join(', ')}`;

function positive(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0)
    throw new Error(`--${name} must be a positive integer\n${USAGE}`);
  return value;
}

/** Command-line options; CHAOS_SEED in the environment also sets the seed (for CI reruns). */
export function readOptions(argv: readonly string[] = process.argv.slice(2)): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      seed: { type: 'string' },
      'load-seconds': { type: 'string' },
      'settle-seconds': { type: 'string' },
      entities: { type: 'string' },
      concurrency: { type: 'string' },
      keep: { type: 'boolean', default: false },
      skip: { type: 'string', default: '' },
    },
  });
  const skip = values.skip.split(',').filter((name) => name !== '');
  for (const name of skip) {
    if (!(ACTIONS as readonly string[]).includes(name))
      throw new Error(`--skip: unknown action ${name}\n${USAGE}`);
  }
  return {
    seed: positive('seed', values.seed ?? process.env.CHAOS_SEED, Date.now() % 1_000_000_000),
    loadSeconds: positive('load-seconds', values['load-seconds'], 100),
    settleSeconds: positive('settle-seconds', values['settle-seconds'], 180),
    entities: positive('entities', values.entities, 24),
    concurrency: positive('concurrency', values.concurrency, 8),
    keep: values.keep === true,
    actions: new Set(ACTIONS.filter((action) => !skip.includes(action))),
  };
}
