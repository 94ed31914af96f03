/**
 * What the coalescing needs of a rate-limiter-flexible limiter (`RateLimiterRedis` fits):
 * `consume(key, n)` adds n points to the key's window and answers, resolving or rejecting,
 * with the window's count after adding them (`consumedPoints`) and its `msBeforeNext`.
 * Any other rejection, an `Error`, is a failure of the store.
 */
export interface PointsLimiter {
  readonly points: number;
  readonly blockDuration: number;
  readonly execEvenly: boolean;
  /** Not in the library's types of every limiter, but on its store limiters at run time. */
  readonly inMemoryBlockOnConsumed?: number;
  consume(key: string, points: number): Promise<PointsAnswer>;
}

export interface PointsAnswer {
  readonly consumedPoints: number;
  readonly msBeforeNext: number;
}

export type LimiterAnswer =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly msBeforeNext: number };

type Waiter = { resolve: (answer: LimiterAnswer) => void; reject: (error: unknown) => void };

/**
 * One point per call of a rate limiter, with at most one store call in flight per key and
 * process. Under load dozens of a tenant's requests wait on the limiter at the same moment, and
 * a store call each (a Redis script) was a visible share of the api's and worker's CPU and of
 * Redis's; coalescing makes it one call per round trip per key, whatever the concurrency.
 *
 * A call arriving while none of its key is in flight goes out at once, so an idle process adds
 * no latency (no batching window). Calls arriving while one is in flight wait, and go out
 * together as one `consume(key, n)` when it returns.
 *
 * The answer is exact, not an approximation: the library counts refused points too, so n single
 * consumes in a row would have found the window at `before = consumedPoints - n` and let
 * through the first `points - before` of them (none if negative, all n if more). The waiting
 * callers pass or are refused, in arrival order, exactly so; the refused get the answer's
 * `msBeforeNext`. The library resolves when the whole batch fits and rejects otherwise, and
 * its insurance limiter (taking over on a store error) answers the same `consume(key, n)` the
 * same way, so a batch answered from memory is judged alike (it must have the same `points`).
 * An `Error` rejection reaches every caller of that batch, as it would have reached each.
 *
 * `blockDuration`, `inMemoryBlockOnConsumed` and `execEvenly` change what an answer means (a
 * block rewrites the answer for the whole batch, an even spread delays a resolution by one
 * caller's share), so a limiter with any of them is refused rather than judged wrongly.
 */
export class CoalescedLimiter {
  readonly #limiter: PointsLimiter;
  /** A key is here while its call is in flight; its list is the callers of the next call. */
  readonly #waiting = new Map<string, Waiter[]>();

  constructor(limiter: PointsLimiter) {
    if (limiter.blockDuration > 0 || (limiter.inMemoryBlockOnConsumed ?? 0) > 0 || limiter.execEvenly)
      throw new Error('a coalesced limiter cannot judge a batch of a limiter that blocks or spreads');
    this.#limiter = limiter;
  }

  /** Takes one point of the key: allowed, or refused with how many ms before the next. */
  consume(key: string): Promise<LimiterAnswer> {
    return new Promise((resolve, reject) => {
      const waiting = this.#waiting.get(key);
      if (waiting === undefined) void this.#send(key, [{ resolve, reject }]);
      else waiting.push({ resolve, reject });
    });
  }

  async #send(key: string, batch: Waiter[]): Promise<void> {
    this.#waiting.set(key, []);
    let answer: PointsAnswer;
    let allowed: number;
    try {
      answer = await this.#limiter.consume(key, batch.length);
      allowed = batch.length;
    } catch (rejection) {
      if (rejection instanceof Error) {
        for (const waiter of batch) waiter.reject(rejection);
        this.#next(key);
        return;
      }
      answer = rejection as PointsAnswer;
      const before = answer.consumedPoints - batch.length;
      allowed = Math.max(0, Math.min(batch.length, this.#limiter.points - before));
    }
    for (const [i, waiter] of batch.entries())
      waiter.resolve(i < allowed ? { allowed: true } : { allowed: false, msBeforeNext: answer.msBeforeNext });
    this.#next(key);
  }

  #next(key: string): void {
    const next = this.#waiting.get(key) ?? [];
    if (next.length === 0) this.#waiting.delete(key);
    else void this.#send(key, next);
  }
}
