/** Seconds since the suite started, for log lines and findings that say when something happened. */
const startedAt = Date.now();

export function elapsed(): string {
  return `${((Date.now() - startedAt) / 1000).toFixed(1)}s`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function say(message: string): void {
  process.stdout.write(`[chaos ${elapsed().padStart(7)}] ${message}\n`);
}

/** Polls `probe` until it returns true or `timeoutMs` passes; false on timeout. */
export async function waitUntil(probe: () => Promise<boolean>, timeoutMs: number, everyMs = 200) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return true;
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
}
