import { describe, expect, it } from 'vitest';
import { CoalescedLimiter, type PointsAnswer, type PointsLimiter } from './coalesced-limiter.ts';

// The order of calls, which a real store cannot hold still: a store call goes out at once when
// its key is idle, later callers wait for it and go out together, and a store error reaches each
// of them. Exactness against the real rate-limiter-flexible and Redis: the api and worker tests.

/** A window counted as rate-limiter-flexible counts it, answering only when the test says so. */
class HeldStore implements PointsLimiter {
  readonly points: number;
  readonly blockDuration = 0;
  readonly execEvenly = false;
  readonly calls: { key: string; points: number; answer: (error?: Error) => void }[] = [];
  readonly #counts = new Map<string, number>();

  constructor(points: number) {
    this.points = points;
  }

  consume(key: string, points: number): Promise<PointsAnswer> {
    return new Promise((resolve, reject) => {
      this.calls.push({
        key,
        points,
        answer: (error) => {
          if (error !== undefined) return reject(error);
          const consumedPoints = (this.#counts.get(key) ?? 0) + points;
          this.#counts.set(key, consumedPoints);
          const answer = { consumedPoints, msBeforeNext: 700 };
          if (consumedPoints > this.points) reject(answer);
          else resolve(answer);
        },
      });
    });
  }
}

const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('coalesced limiter', () => {
  it('sends a consume of an idle key at once, before the caller awaits anything', () => {
    const store = new HeldStore(5);
    void new CoalescedLimiter(store).consume('T1');
    expect(store.calls.map((c) => [c.key, c.points])).toEqual([['T1', 1]]);
  });

  it('sends the callers that arrive meanwhile as one consume when the call in flight returns', async () => {
    const store = new HeldStore(3);
    const limiter = new CoalescedLimiter(store);
    const answers = Array.from({ length: 6 }, () => limiter.consume('T1'));
    const other = limiter.consume('T2');
    expect(store.calls.map((c) => [c.key, c.points])).toEqual([
      ['T1', 1],
      ['T2', 1],
    ]);
    store.calls[0]?.answer();
    await settled();
    expect(store.calls.map((c) => [c.key, c.points])).toEqual([
      ['T1', 1],
      ['T2', 1],
      ['T1', 5],
    ]);
    store.calls[2]?.answer();
    store.calls[1]?.answer();
    expect(await Promise.all(answers)).toEqual([
      { allowed: true },
      { allowed: true },
      { allowed: true },
      { allowed: false, msBeforeNext: 700 },
      { allowed: false, msBeforeNext: 700 },
      { allowed: false, msBeforeNext: 700 },
    ]);
    expect(await other).toEqual({ allowed: true });
  });

  it('rejects every caller of a batch with the store error, and still serves the next', async () => {
    const store = new HeldStore(3);
    const limiter = new CoalescedLimiter(store);
    const first = limiter.consume('T1');
    const batch = [limiter.consume('T1'), limiter.consume('T1')];
    store.calls[0]?.answer();
    await settled();
    const error = new Error('connection refused');
    store.calls[1]?.answer(error);
    for (const answer of batch) await expect(answer).rejects.toBe(error);
    expect(await first).toEqual({ allowed: true });
    const after = limiter.consume('T1');
    store.calls[2]?.answer();
    expect(await after).toEqual({ allowed: true });
  });

  it('refuses a limiter whose answers a batch would misread (blocks, even spreading)', () => {
    const store = new HeldStore(3);
    const consume = store.consume.bind(store);
    const limiter = (options: Partial<PointsLimiter>) =>
      new CoalescedLimiter({ points: 3, blockDuration: 0, execEvenly: false, consume, ...options });
    expect(() => limiter({})).not.toThrow();
    expect(() => limiter({ blockDuration: 10 })).toThrow();
    expect(() => limiter({ inMemoryBlockOnConsumed: 10 })).toThrow();
    expect(() => limiter({ execEvenly: true })).toThrow();
  });
});
