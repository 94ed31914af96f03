import { randomUUID } from 'node:crypto';

/**
 * The simulator's sources of time, chance and ids. They are injected so a test can make
 * every fault decision and every expiry deterministic; timers still run on real time
 * (tests keep their delays small instead of faking timers under a real HTTP server).
 */

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** A number in [0, 1), like `Math.random`. */
export type Random = () => number;

export const systemClock: Clock = { now: () => Date.now() };

export const systemRandom: Random = Math.random;

export const randomId = (): string => randomUUID();

/** A clock that moves only when told to: for expiry tests (idempotency keys, traces). */
export interface ManualClock extends Clock {
  advance(ms: number): void;
}

export function manualClock(start = Date.now()): ManualClock {
  let now = start;
  return {
    now: () => now,
    advance: (ms) => {
      now += ms;
    },
  };
}

/** mulberry32: a tiny seeded generator, good enough to make fault draws repeatable. */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** True with probability `rate`; draws nothing when the rate is 0, so faults-off costs nothing. */
export function chance(random: Random, rate: number): boolean {
  return rate > 0 && random() < rate;
}

/** A whole number drawn uniformly from [min, max]. */
export function between(random: Random, range: { readonly min: number; readonly max: number }): number {
  if (range.max <= range.min) return range.min;
  return range.min + Math.floor(random() * (range.max - range.min + 1));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
