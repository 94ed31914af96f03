/**
 * Failed logins per client address, in a fixed window: after `maxFailures` the address is
 * refused (429) until the window ends, whatever it sends, so a password cannot be guessed at
 * speed. Per process and in memory: a restart forgets, and several replicas each count alone;
 * acceptable for a handful of operators behind a VPN. A success clears the address's count.
 */
export class LoginLimiter {
  readonly #failures = new Map<string, { count: number; windowEnds: number }>();
  readonly #maxFailures: number;
  readonly #windowMs: number;

  constructor(options: { maxFailures?: number; windowMs?: number } = {}) {
    this.#maxFailures = options.maxFailures ?? 10;
    this.#windowMs = options.windowMs ?? 15 * 60_000;
  }

  /** Milliseconds until the address may try again, or 0 when it may now. */
  blockedFor(address: string, now = Date.now()): number {
    const entry = this.#failures.get(address);
    if (entry === undefined || entry.windowEnds <= now) return 0;
    return entry.count >= this.#maxFailures ? entry.windowEnds - now : 0;
  }

  failed(address: string, now = Date.now()): void {
    const entry = this.#failures.get(address);
    if (entry === undefined || entry.windowEnds <= now) {
      this.#failures.set(address, { count: 1, windowEnds: now + this.#windowMs });
      this.#prune(now);
    } else {
      entry.count += 1;
    }
  }

  succeeded(address: string): void {
    this.#failures.delete(address);
  }

  /** Keeps the map from growing without bound under a spray of addresses. */
  #prune(now: number): void {
    if (this.#failures.size < 10_000) return;
    for (const [address, entry] of this.#failures)
      if (entry.windowEnds <= now) this.#failures.delete(address);
  }
}
