/**
 * Backpressure: a consumer holds at most `size` entries it has read or claimed and not yet
 * finished. Reads and claims reserve slots before they ask Redis, for no more entries than
 * they reserved, so the bound holds even while a blocking read waits.
 */
export class Slots {
  #free: number;
  #waiters: (() => void)[] = [];

  constructor(size: number) {
    this.#free = size;
  }

  get free(): number {
    return this.#free;
  }

  /** Takes up to `max` free slots at once; returns how many it took (maybe 0). */
  reserve(max: number): number {
    const taken = Math.min(max, this.#free);
    this.#free -= taken;
    return taken;
  }

  release(count = 1): void {
    if (count <= 0) return;
    this.#free += count;
    this.wake();
  }

  /** Resolves once a slot is free, or when `wake` is called (on stop). */
  async whenFree(): Promise<void> {
    if (this.#free > 0) return;
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  wake(): void {
    for (const resolve of this.#waiters.splice(0)) resolve();
  }
}
