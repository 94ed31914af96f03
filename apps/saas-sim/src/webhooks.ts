import type { WebhookBody } from '@ctp/core/contracts';
import type { Logger } from '@ctp/core/logging';
import { signWebhook } from '@ctp/core/webhooks';
import { between, type Clock, chance, type Random } from './clock.ts';
import type { WebhookCounts } from './counters.ts';
import type { Faults } from './faults.ts';

/**
 * Webhook delivery, at least once: each message gets a `webhook-id` that stays the same on
 * every redelivery and a fresh timestamp and signature per attempt. A non-2xx answer, a
 * network error or no answer within the timeout schedules the next attempt after the next
 * delay of the redelivery schedule; after the last one the message is given up and counted.
 * The webhook faults act per message: drop it, send it twice, or hold it back a random time
 * so that messages overtake each other.
 */

/** Standard Webhooks' published retry schedule (the first attempt is immediate). */
export const PRODUCTION_REDELIVERY_DELAYS_MS: readonly number[] = [
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3_600_000,
  5 * 3_600_000,
  10 * 3_600_000,
  10 * 3_600_000,
];

export interface WebhookDispatcherOptions {
  readonly url: string | null;
  readonly secret: string;
  readonly clock: Clock;
  readonly random: Random;
  readonly newId: () => string;
  readonly faults: () => Faults;
  /** Delay before attempt 2, 3, ...; its length + 1 is the cap of attempts. */
  readonly redeliveryDelaysMs: readonly number[];
  readonly timeoutMs: number;
  readonly counts: WebhookCounts;
  readonly logger: Logger;
}

interface Message {
  readonly id: string;
  readonly type: WebhookBody['type'];
  readonly body: string;
}

export interface Sent {
  /** The message's webhook-id (also for a dropped message, so a test can look for it). */
  readonly id: string;
  /** Settles after the first attempt of the first copy when sent `immediate`, at once otherwise. */
  readonly firstAttempt: Promise<void>;
}

export function createWebhookDispatcher(options: WebhookDispatcherOptions) {
  const { url, secret, clock, random, newId, faults, counts, logger } = options;
  const timers = new Set<NodeJS.Timeout>();
  /**
   * One controller per attempt in flight, aborted by its own timeout or by `clear`/`close`.
   * Not `AbortSignal.any([AbortSignal.timeout(t), closing.signal])`: with a long-lived source
   * signal, Node keeps every composite a fetch observed in that source's set of dependants,
   * never pruned (nodejs/node#64476; still so on 24.21: one entry per delivery, 20,000 after
   * 20,000 deliveries), a set that grew for the simulator's whole life. (Most of the simulator's
   * heap growth in a long run is by design: 24 h of traces and answers; BENCHMARKS.md.)
   */
  const attempts = new Set<AbortController>();
  let inFlight = 0;
  let stopped = false;

  function cancelAll(): void {
    for (const controller of attempts) controller.abort();
    attempts.clear();
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
  }

  function later(message: Message, attempt: number, delayMs: number): void {
    const timer = setTimeout(() => {
      timers.delete(timer);
      void deliver(message, attempt);
    }, delayMs);
    timers.add(timer);
  }

  async function deliver(message: Message, attempt: number): Promise<void> {
    if (url === null || stopped) return;
    inFlight++;
    counts.attempted++;
    const log = logger.child({ webhookId: message.id, type: message.type, attempt });
    const controller = new AbortController();
    attempts.add(controller);
    const timeout = setTimeout(
      () => controller.abort(new DOMException('webhook attempt timed out', 'TimeoutError')),
      options.timeoutMs,
    );
    let outcome: string;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...signWebhook(secret, message.id, message.body, new Date(clock.now())),
        },
        body: message.body,
        signal: controller.signal,
      });
      // The answer's body is not needed; reading it to the end frees the connection.
      await response.arrayBuffer().catch(() => undefined);
      outcome = response.ok ? 'ok' : `status ${response.status}`;
    } catch (error) {
      outcome = error instanceof Error && error.name === 'TimeoutError' ? 'timeout' : 'no answer';
    } finally {
      clearTimeout(timeout);
      attempts.delete(controller);
      inFlight--;
    }
    if (outcome === 'ok') {
      counts.succeeded++;
      log.info('webhook delivered');
      return;
    }
    counts.failed++;
    // Aborted by `clear` or `close` (not by its timeout): nothing is redelivered.
    if ((controller.signal.aborted && outcome !== 'timeout') || stopped) return;
    const delay = options.redeliveryDelaysMs[attempt - 1];
    if (delay === undefined) {
      counts.exhausted++;
      log.warn({ outcome }, 'webhook given up after the last redelivery');
      return;
    }
    log.info({ outcome, retryInMs: delay }, 'webhook failed, will redeliver');
    later(message, attempt + 1, delay);
  }

  return {
    /**
     * Sends one message. `immediate` (the webhookBeforeAccept fault) skips the random delay and
     * lets the caller wait for the first attempt before it answers its own request.
     */
    send(tenant: string, body: WebhookBody, { immediate = false } = {}): Sent {
      const message: Message = { id: `msg_${newId()}`, type: body.type, body: JSON.stringify(body) };
      if (url === null) {
        counts.skipped++;
        return { id: message.id, firstAttempt: Promise.resolve() };
      }
      const current = faults();
      if (chance(random, current.webhookDropRate)) {
        counts.dropped++;
        logger.info({ webhookId: message.id, type: body.type, tenant }, 'webhook dropped (simulated)');
        return { id: message.id, firstAttempt: Promise.resolve() };
      }
      const copies = chance(random, current.webhookDuplicateRate) ? 2 : 1;
      if (copies === 2) counts.duplicated++;
      let firstAttempt: Promise<void> = Promise.resolve();
      for (let copy = 0; copy < copies; copy++) {
        if (immediate && copy === 0) firstAttempt = deliver(message, 1);
        else later(message, 1, between(random, current.webhookDelayMs));
      }
      return { id: message.id, firstAttempt };
    },
    pending: (): number => timers.size + inFlight,
    /** Cancels every scheduled redelivery and aborts attempts in flight. */
    clear(): void {
      cancelAll();
    },
    close(): void {
      stopped = true;
      cancelAll();
    },
  };
}
